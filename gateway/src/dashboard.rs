//! The operator dashboard and the admin API's OpenAPI document, both embedded in the binary from
//! `gateway/assets/` (the page loads nothing from the network: plain HTML, CSS and JavaScript, charts drawn as
//! inline SVG by `dashboard.js`).
//!
//! The page's files are served on the admin port without the token (they hold no data); every data call the page
//! makes sends `Authorization: Bearer <admin token>`, which the operator types into its login form.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;

const INDEX_HTML: &str = include_str!("../assets/dashboard.html");
const APP_JS: &str = include_str!("../assets/dashboard.js");
const STYLE_CSS: &str = include_str!("../assets/dashboard.css");
const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// The page's own files: `(path, content type, body)`.
const FILES: [(&str, &str, &str); 4] = [
    ("/", "text/html; charset=utf-8", INDEX_HTML),
    ("/index.html", "text/html; charset=utf-8", INDEX_HTML),
    ("/dashboard.js", "text/javascript; charset=utf-8", APP_JS),
    ("/dashboard.css", "text/css; charset=utf-8", STYLE_CSS),
];

/// Scripts, styles and data only from the admin port itself; no inline script, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn reply(content_type: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A file of the dashboard for `GET path`, or `None` when the request is not for one (it then goes through the
/// token check and the API router).
pub fn page(method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    if method != Method::GET {
        return None;
    }
    let (_, content_type, body) = FILES.iter().find(|(p, _, _)| *p == path)?;
    let mut r = reply(content_type, body);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    Some(r)
}

/// `GET /admin/openapi.json`: the OpenAPI 3.1 document of the admin API.
pub fn openapi() -> Response<Full<Bytes>> {
    reply("application/json", OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_is_json_with_paths() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("openapi.json parses");
        assert_eq!(v["openapi"].as_str().map(|s| &s[..2]), Some("3."));
        for p in ["/admin/health", "/admin/heat", "/admin/cost/history", "/"] {
            assert!(v["paths"].get(p).is_some(), "{p} is not documented");
        }
    }

    #[test]
    fn page_files_are_served_only_for_get() {
        let r = page(&Method::GET, "/").expect("index");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(page(&Method::GET, "/dashboard.js").is_some());
        assert!(page(&Method::POST, "/").is_none());
        assert!(page(&Method::GET, "/admin/health").is_none());
        // The page refers to its own files only, never to another host (the SVG namespace is a name, not a fetch).
        for f in [INDEX_HTML, APP_JS, STYLE_CSS] {
            let f = f.replace("http://www.w3.org/2000/svg", "");
            assert!(!f.contains("http://") && !f.contains("https://") && !f.contains("//cdn"));
        }
    }
}
