//! Every error of the data path becomes an S3 error here, and only here: the catalog's, the write path's
//! ([`IngestError`]) and the read path's ([`ReadError`]). Handlers return them with `?` (or [`catalog_err`] for
//! a [`CatalogError`], a foreign type) and never pick an S3 code for an engine failure themselves.
//!
//! The rule: the client's fault is a 4xx with the code AWS uses; a backend or the catalog failing is a 503
//! `ServiceUnavailable` (retryable: SDKs retry it) unless the catalog itself is broken (500 `InternalError`).

use catalog::CatalogError;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::ingest::IngestError;
use crate::read::ReadError;

/// Maps a catalog error to the S3 error a client expects.
pub fn catalog_err(e: CatalogError) -> S3Error {
    match e {
        CatalogError::NoSuchBucket(b) => S3Error::with_message(
            S3ErrorCode::NoSuchBucket,
            format!("bucket {b} does not exist"),
        ),
        CatalogError::BucketExists(_) => S3Error::with_message(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        CatalogError::BucketNotEmpty(_) => S3Error::with_message(
            S3ErrorCode::BucketNotEmpty,
            "The bucket you tried to delete is not empty",
        ),
        CatalogError::NoSuchUpload(_) => S3Error::with_message(
            S3ErrorCode::NoSuchUpload,
            "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        CatalogError::NoSuchKey { .. } => {
            s3_error!(NoSuchKey, "The specified key does not exist.")
        }
        CatalogError::PreconditionFailed { .. } => s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ),
        CatalogError::InvalidArgument(m) => S3Error::with_message(S3ErrorCode::InvalidArgument, m),
        CatalogError::ObjectLocked { reason, .. } => S3Error::with_message(
            S3ErrorCode::AccessDenied,
            format!("Access Denied because object protected by object lock: {reason}"),
        ),
        other => {
            tracing::error!(error = %other, "catalog failure");
            S3Error::with_message(
                S3ErrorCode::InternalError,
                format!("catalog failure: {other}"),
            )
        }
    }
}

impl From<ReadError> for S3Error {
    fn from(e: ReadError) -> S3Error {
        S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.to_string())
    }
}

impl From<IngestError> for S3Error {
    fn from(e: IngestError) -> S3Error {
        match e {
            IngestError::TooLarge => {
                S3Error::with_message(S3ErrorCode::EntityTooLarge, e.to_string())
            }
            IngestError::LongerThanDeclared { .. } | IngestError::ShorterThanDeclared { .. } => {
                S3Error::with_message(S3ErrorCode::IncompleteBody, e.to_string())
            }
            IngestError::Body(source) => body_error(source.as_ref()),
            IngestError::Checksum(s3) => s3,
            IngestError::Backend { .. } => {
                S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.to_string())
            }
        }
    }
}

/// What went wrong reading a body: an s3s error inside is kept (a refused chunk signature), a failed source
/// read (a copy) is the read path's 503, anything else is a short body.
fn body_error(e: &(dyn std::error::Error + 'static)) -> S3Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(s3) = err.downcast_ref::<S3Error>() {
            let mut out = S3Error::new(s3.code().clone());
            if let Some(m) = s3.message() {
                out.set_message(m.to_owned());
            }
            return out;
        }
        if let Some(read) = err.downcast_ref::<ReadError>() {
            return S3Error::with_message(S3ErrorCode::ServiceUnavailable, read.to_string());
        }
        cur = err.source();
    }
    // s3s reports a body that does not hash to x-amz-content-sha256 with a private error type; AWS's code for it
    // is XAmzContentSHA256Mismatch.
    if format!("{e:?}").contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        return err;
    }
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        format!("the request body could not be read: {e}"),
    )
}

/// An S3 XML error answer built outside s3s (before a request reaches it): `<Error><Code>…<Message>…`.
pub fn xml_answer(
    status: http::StatusCode,
    code: &str,
    message: &str,
) -> http::Response<s3s::Body> {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    );
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_gets_the_code_aws_uses() {
        let code = |e: IngestError| S3Error::from(e).code().clone();
        assert_eq!(code(IngestError::TooLarge), S3ErrorCode::EntityTooLarge);
        assert_eq!(
            code(IngestError::ShorterThanDeclared {
                received: 1,
                declared: 2
            }),
            S3ErrorCode::IncompleteBody
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(
            code(IngestError::Body(Box::new(io))),
            S3ErrorCode::IncompleteBody
        );
        let read = ReadError {
            blob: "blobs/x".into(),
            last_error: "down".into(),
        };
        // A copy whose source cannot be read is the backends' fault, not the client's.
        assert_eq!(
            code(IngestError::Body(Box::new(read))),
            S3ErrorCode::ServiceUnavailable
        );
        let inner = s3_error!(SignatureDoesNotMatch);
        assert_eq!(
            code(IngestError::Body(Box::new(inner))),
            S3ErrorCode::SignatureDoesNotMatch
        );
        assert_eq!(
            S3Error::from(ReadError {
                blob: "b".into(),
                last_error: "x".into()
            })
            .code(),
            &S3ErrorCode::ServiceUnavailable
        );
        assert_eq!(
            catalog_err(CatalogError::NoSuchBucket("b".into())).code(),
            &S3ErrorCode::NoSuchBucket
        );
    }
}
