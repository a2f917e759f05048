//! The `Allow` header of a 405 answer (RFC 9110 §15.5.6): the methods the path does accept, read
//! once from the OpenAPI document's paths table, so the header can never disagree with the routes.
//! poem's router answers 405 when a path matches and the method does not, without the header.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// One path of the document: its segments (`None` for a `{parameter}`) and the methods it
/// accepts, ready for the header.
#[derive(Debug)]
struct PathMethods {
    segments: Vec<Option<String>>,
    allow: HeaderValue,
}

/// Adds `Allow` to every 405 answer of a path the OpenAPI document lists.
#[derive(Debug, Clone)]
pub struct AllowOn405 {
    paths: Arc<Vec<PathMethods>>,
}

impl AllowOn405 {
    /// Reads the paths table of `spec`, the OpenAPI document as JSON. `HEAD` is allowed wherever
    /// `GET` is (poem answers it with the `GET` handler, without a body).
    pub fn from_spec(spec: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut paths = Vec::new();
        if let Some(table) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in table {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let mut methods: Vec<String> = ["get", "put", "post", "delete", "patch"]
                    .into_iter()
                    .filter(|m| item.contains_key(*m))
                    .map(str::to_uppercase)
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.insert(1, "HEAD".to_owned());
                }
                let Ok(allow) = HeaderValue::from_str(&methods.join(", ")) else {
                    continue;
                };
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                paths.push(PathMethods { segments, allow });
            }
        }
        // A literal segment wins over a parameter at the same place, as in the router.
        paths.sort_by_key(|p| std::cmp::Reverse(p.segments.iter().flatten().count()));
        Self {
            paths: Arc::new(paths),
        }
    }

    fn allow_for(&self, path: &str) -> Option<&HeaderValue> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.paths
            .iter()
            .find(|p| {
                p.segments.len() == segments.len()
                    && p.segments
                        .iter()
                        .zip(&segments)
                        .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
            })
            .map(|p| &p.allow)
    }
}

impl<E: Endpoint> Middleware<E> for AllowOn405 {
    type Output = AllowOn405Endpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AllowOn405Endpoint {
            inner: ep,
            allow: self.clone(),
        }
    }
}

/// The endpoint of [`AllowOn405`].
pub struct AllowOn405Endpoint<E> {
    inner: E,
    allow: AllowOn405,
}

impl<E: Endpoint> Endpoint for AllowOn405Endpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        // The path shares the request's bytes: nothing copied for the answers that are not a 405.
        let uri = req.uri().clone();
        let mut response = self.inner.call(req).await?.into_response();
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && !response.headers().contains_key(header::ALLOW)
            && let Some(allow) = self.allow.allow_for(uri.path())
        {
            response.headers_mut().insert(header::ALLOW, allow.clone());
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_gets_the_methods_of_its_document_entry() {
        let allow = AllowOn405::from_spec(
            r#"{"paths": {
                "/api/v1/dossiers": {"post": {}},
                "/api/v1/dossiers/{code}": {"get": {}},
                "/api/v1/dossiers/{code}/cancel": {"post": {}},
                "/api/v1/admin/holidays": {"get": {}, "post": {}}
            }}"#,
        );
        let get = |p: &str| {
            allow
                .allow_for(p)
                .map(|v| v.to_str().unwrap_or("").to_owned())
        };
        assert_eq!(get("/api/v1/dossiers").as_deref(), Some("POST"));
        assert_eq!(get("/api/v1/dossiers/HN-1").as_deref(), Some("GET, HEAD"));
        assert_eq!(get("/api/v1/dossiers/HN-1/cancel").as_deref(), Some("POST"));
        assert_eq!(
            get("/api/v1/admin/holidays").as_deref(),
            Some("GET, HEAD, POST")
        );
        assert_eq!(get("/nowhere"), None);
    }
}
