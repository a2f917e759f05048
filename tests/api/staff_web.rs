//! A browser's staff session kept by hand: sign in on `/staff` with a key, read pages with the cookie.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};

/// Cookies a browser keeps for one site.
#[derive(Default, Clone)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    pub fn take(&mut self, res: &reqwest::Response) {
        for line in res.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = line
                .to_str()
                .ok()
                .and_then(|l| l.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The value of the first hidden `csrf` input of a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    let end = html[start..].find('"').expect("end of the token") + start;
    html[start..end].to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn get(base: &str, jar: &mut Jar, path: &str) -> reqwest::Response {
    let res = client()
        .get(format!("{base}{path}"))
        .header(COOKIE, jar.header())
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    jar.take(&res);
    res
}

pub async fn post(
    base: &str,
    jar: &mut Jar,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let res = client()
        .post(format!("{base}{path}"))
        .header(COOKIE, jar.header())
        .form(form)
        .send()
        .await
        .expect("request");
    jar.take(&res);
    res
}

/// Signs in on `/staff` with `key`; the answer of the sign-in post.
pub async fn try_sign_in(base: &str, jar: &mut Jar, key: &str) -> reqwest::Response {
    let page = get(base, jar, "/staff").await.text().await.expect("page");
    let csrf = csrf_of(&page);
    post(base, jar, "/staff", &[("csrf", &csrf), ("key", key)]).await
}

/// Signs in on `/staff` with `key`, which must succeed.
pub async fn sign_in(base: &str, jar: &mut Jar, key: &str) {
    let res = try_sign_in(base, jar, key).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in");
    assert!(jar.get("dossier_session").is_some(), "a session cookie");
}

/// Whether the jar's session opens a staff page (else the browser is sent to sign in).
pub async fn session_open(base: &str, jar: &mut Jar, page: &str) -> bool {
    let res = get(base, jar, page).await;
    match res.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            let to = res
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(to.starts_with("/staff"), "{to}");
            false
        }
        other => panic!("{page} answered {other}"),
    }
}
