//! Compatibility shim between object_store's GCS client and
//! fake-gcs-server, used only for `kind = "gcs"` specs with
//! `anonymous = true` (emulators).
//!
//! object_store talks to GCS with the XML API: uploads are
//! `PUT {base}/{bucket}/{object}` and it reads the new object's `ETag` (and
//! `x-goog-generation`) from the response headers. fake-gcs-server routes a
//! path-style PUT only as a *signed-URL* upload — recognised by an
//! `X-Goog-Algorithm` query parameter, whose signature it never checks — and
//! answers it with the object's JSON resource and no `ETag` header. This
//! connector wraps object_store's own reqwest client and
//! - adds `X-Goog-Algorithm=GOOG4-RSA-SHA256` to PUTs that carry no query
//!   (single-object uploads; multipart part uploads carry `partNumber` and
//!   are left alone), and
//! - on a successful reply to such a PUT without an `ETag`, copies the JSON
//!   body's `etag` and `generation` into `ETag` / `x-goog-generation`.
//!
//! Everything else passes through byte for byte. No request is signed here.

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ETAG, HeaderName, HeaderValue};
use http::{Method, Uri};
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService, ReqwestConnector,
};

/// Query parameter that makes fake-gcs-server accept a path-style upload.
const SIGNED_UPLOAD_QUERY: &str = "X-Goog-Algorithm=GOOG4-RSA-SHA256";

/// Largest JSON reply the shim reads to recover an upload's ETag.
const MAX_REPLY: usize = 64 * 1024;

/// [`HttpConnector`] producing [`FakeGcsService`] clients.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FakeGcsConnector;

impl HttpConnector for FakeGcsConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(FakeGcsService { inner }))
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct FakeGcsService {
    inner: HttpClient,
}

/// `uri` with the signed-upload marker appended, if it is a PUT without a
/// query; `None` when the request is left alone.
fn rewrite(method: &Method, uri: &Uri) -> Option<Result<Uri, http::uri::InvalidUri>> {
    if method != Method::PUT || uri.query().is_some() {
        return None;
    }
    Some(format!("{uri}?{SIGNED_UPLOAD_QUERY}").parse())
}

/// The `etag` and `generation` of a fake-gcs-server object resource.
fn etag_and_generation(body: &[u8]) -> Option<(String, Option<String>)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let etag = value.get("etag")?.as_str()?.to_string();
    let generation = match value.get("generation") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some((etag, generation))
}

#[async_trait]
impl HttpService for FakeGcsService {
    async fn call(&self, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let rewritten = match rewrite(req.method(), req.uri()) {
            None => false,
            Some(uri) => {
                *req.uri_mut() = uri.map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
                true
            }
        };
        let response = self.inner.execute(req).await?;
        if !rewritten || !response.status().is_success() || response.headers().contains_key(ETAG) {
            return Ok(response);
        }
        let (mut parts, body) = response.into_parts();
        let bytes: Bytes = body.bytes().await?;
        if bytes.len() <= MAX_REPLY
            && let Some((etag, generation)) = etag_and_generation(&bytes)
        {
            if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
                parts.headers.insert(ETAG, v);
            }
            if let Some(g) = generation
                && let Ok(v) = HeaderValue::from_str(&g)
            {
                parts
                    .headers
                    .insert(HeaderName::from_static("x-goog-generation"), v);
            }
        }
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::from(bytes),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_puts_are_marked() {
        let uri: Uri = "http://127.0.0.1:1/b/blobs/x".parse().expect("uri");
        let put = rewrite(&Method::PUT, &uri)
            .expect("rewritten")
            .expect("valid");
        assert_eq!(
            put.to_string(),
            "http://127.0.0.1:1/b/blobs/x?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        );
        assert!(rewrite(&Method::GET, &uri).is_none());
        let part: Uri = "http://127.0.0.1:1/b/x?partNumber=1&uploadId=u"
            .parse()
            .expect("uri");
        assert!(rewrite(&Method::PUT, &part).is_none());
    }

    #[test]
    fn etag_is_recovered_from_the_json_reply() {
        let body = br#"{"kind":"storage#object","etag":"abc==","generation":"17"}"#;
        assert_eq!(
            etag_and_generation(body),
            Some(("abc==".to_string(), Some("17".to_string())))
        );
        assert_eq!(etag_and_generation(b"not json"), None);
        assert_eq!(etag_and_generation(br#"{"generation":"1"}"#), None);
    }
}
