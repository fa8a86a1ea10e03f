//! Interoperability of Signature Version 2 (the legacy `Authorization: AWS key:signature` header and
//! `?AWSAccessKeyId=…&Signature=…` presigned URLs), which s3s verifies.
//!
//! S3 signs a path-style request to a bucket (`PUT /bucket`) over the resource `/bucket/`, and clients sign it
//! that way (botocore's `s3` signer, s3cmd), while s3s 0.14 signs the path as it arrived (`/bucket`), so every
//! bucket-level V2 request failed with `SignatureDoesNotMatch`. [`canonical_bucket_path`] gives such a request the
//! trailing slash before s3s sees it; s3s routes `/bucket/` and `/bucket` alike. Signature Version 4 requests are
//! never touched (their canonical URI is the path as sent).

/// Whether the request carries a Signature Version 2 header or query signature.
fn is_v2<B>(req: &http::Request<B>) -> bool {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS ") && !v.starts_with("AWS4-"));
    let query = req.uri().query().is_some_and(|q| {
        q.split('&').any(|p| p.starts_with("AWSAccessKeyId="))
            && q.split('&').any(|p| p.starts_with("Signature="))
    });
    header || query
}

/// Rewrites `/bucket` to `/bucket/` (query kept) in a V2-signed request; anything else is left as it is.
pub fn canonical_bucket_path<B>(req: &mut http::Request<B>) {
    let path = req.uri().path();
    let one_segment = path.len() > 1 && path.starts_with('/') && !path[1..].contains('/');
    if !one_segment || !is_v2(req) {
        return;
    }
    let with_slash = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut parts = req.uri().clone().into_parts();
    match with_slash.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return,
    }
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, auth: Option<&str>) -> http::Request<()> {
        let mut b = http::Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn only_v2_bucket_paths_get_the_slash() {
        let cases = [
            ("/b", Some("AWS ak:sig="), "/b/"),
            ("/b?acl", Some("AWS ak:sig="), "/b/?acl"),
            (
                "/b?AWSAccessKeyId=ak&Expires=1&Signature=x",
                None,
                "/b/?AWSAccessKeyId=ak&Expires=1&Signature=x",
            ),
            ("/b/", Some("AWS ak:sig="), "/b/"),
            ("/b/key", Some("AWS ak:sig="), "/b/key"),
            ("/", Some("AWS ak:sig="), "/"),
            ("/b", Some("AWS4-HMAC-SHA256 Credential=ak/…"), "/b"),
            ("/b", None, "/b"),
            (
                "/b?X-Amz-Signature=x&X-Amz-Credential=y",
                None,
                "/b?X-Amz-Signature=x&X-Amz-Credential=y",
            ),
        ];
        for (uri, auth, want) in cases {
            let mut r = req(uri, auth);
            canonical_bucket_path(&mut r);
            assert_eq!(r.uri().to_string(), want, "{uri} {auth:?}");
        }
    }
}
