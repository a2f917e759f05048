//! The pages' static files, built into the binary so that every page works from the one executable:
//! one small style sheet, two small scripts, and jsQR (Apache-2.0, vendored unchanged from its npm
//! package 1.4.0, with its license) for browsers without `BarcodeDetector`.

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");
const SCAN_JS: &str = include_str!("../../static/scan.js");
const JSQR_JS: &str = include_str!("../../static/vendor/jsQR.js");
const JSQR_LICENSE: &str = include_str!("../../static/vendor/jsQR.LICENSE.txt");

/// A static file by its path under `/static/`.
fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "scan.js" => ("text/javascript; charset=utf-8", SCAN_JS),
        "vendor/jsQR.js" => ("text/javascript; charset=utf-8", JSQR_JS),
        "vendor/jsQR.LICENSE.txt" => ("text/plain; charset=utf-8", JSQR_LICENSE),
        _ => return None,
    })
}

/// `GET /static/{path}`. Links carry the service's version (`?v=`), so a day of caching is safe.
#[handler]
pub fn serve(Path(path): Path<String>) -> Response {
    match asset(&path) {
        Some((content_type, body)) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The version stamp in static links.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
