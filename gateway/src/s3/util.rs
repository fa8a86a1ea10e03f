//! Conversions between catalog records and s3s DTOs.

use catalog::{ObjectMeta, ObjectRecord};
use s3s::dto::{ETag, ETagCondition, Metadata, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, s3_error};

pub fn ms_to_timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

pub fn timestamp_to_ms(t: &Timestamp) -> i64 {
    let odt: time::OffsetDateTime = t.clone().into();
    (odt.unix_timestamp_nanos() / 1_000_000) as i64
}

/// S3 compares conditional dates at one-second resolution.
pub fn timestamp_secs(t: &Timestamp) -> i64 {
    timestamp_to_ms(t).div_euclid(1000)
}

/// The write condition of a PutObject or CompleteMultipartUpload (S3's conditional writes): `If-None-Match`
/// takes only `*`, `If-Match` an ETag or `*`; S3 implements neither another `If-None-Match` value nor both
/// headers on one write, and answers them 501 NotImplemented.
pub fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> Result<catalog::WriteCondition, S3Error> {
    use catalog::WriteCondition;
    let unsupported = || {
        s3_error!(
            NotImplemented,
            "A header you provided implies functionality that is not implemented: If-None-Match together with If-Match"
        )
    };
    match (if_match, if_none_match) {
        (None, None) => Ok(WriteCondition::Always),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::Absent),
        (None, Some(ETagCondition::ETag(e))) => Ok(WriteCondition::ETagIsNot(e.value().to_owned())),
        (Some(_), Some(_)) => Err(unsupported()),
        (Some(ETagCondition::Any), None) => Ok(WriteCondition::Present),
        (Some(ETagCondition::ETag(e)), None) => Ok(WriteCondition::ETagIs(e.value().to_owned())),
    }
}

pub fn etag_of(rec: &ObjectRecord) -> ETag {
    ETag::Strong(rec.etag.clone())
}

pub fn format_http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

/// The object's user metadata as s3s wants it (None when empty).
pub fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    if meta.user.is_empty() {
        None
    } else {
        Some(
            meta.user
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

/// S3's limit on user-defined metadata: keys and values together, in UTF-8 bytes.
pub const MAX_USER_METADATA: usize = 2048;

/// Refuses user metadata over [`MAX_USER_METADATA`] as S3 does (400 MetadataTooLarge), before anything is written.
pub fn check_user_metadata(user: Option<&Metadata>) -> Result<(), S3Error> {
    let size: usize = user
        .map(|m| m.iter().map(|(k, v)| k.len() + v.len()).sum())
        .unwrap_or(0);
    if size > MAX_USER_METADATA {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            format!("Your metadata headers are {size} bytes; the limit is {MAX_USER_METADATA}."),
        ));
    }
    Ok(())
}

/// A Content-Encoding without `aws-chunked`, which only says how the request body was framed (S3 does not store
/// it); `None` when nothing else is left.
fn without_aws_chunked(encoding: String) -> Option<String> {
    if !encoding.contains("aws-chunked") {
        return Some(encoding);
    }
    let rest: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!rest.is_empty()).then(|| rest.join(", "))
}

/// Builds stored metadata from the headers a client sent with PutObject / CreateMultipartUpload / CopyObject.
#[allow(clippy::too_many_arguments)]
pub fn meta_from_request(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    user: Option<Metadata>,
) -> ObjectMeta {
    ObjectMeta {
        content_type,
        content_encoding: content_encoding.and_then(without_aws_chunked),
        content_disposition,
        content_language,
        cache_control,
        expires: expires.as_ref().and_then(format_http_date),
        user: user
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// Percent-encodes a key for `encoding-type=url` listings (S3 encodes everything but unreserved characters and '/').
pub fn url_encode_key(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(s, SET).to_string()
}

/// Checks a bucket name against S3's rules, so a bad one is InvalidBucketName rather than some later failure.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    if s3s::path::check_bucket_name(name) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {name:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_slash_and_unreserved() {
        assert_eq!(url_encode_key("a b/c+d~é"), "a%20b/c%2Bd~%C3%A9");
    }

    #[test]
    fn aws_chunked_is_not_a_stored_content_encoding() {
        assert_eq!(without_aws_chunked("gzip".into()).as_deref(), Some("gzip"));
        assert_eq!(
            without_aws_chunked("gzip, aws-chunked".into()).as_deref(),
            Some("gzip")
        );
        assert_eq!(
            without_aws_chunked("aws-chunked,br,gzip".into()).as_deref(),
            Some("br, gzip")
        );
        assert_eq!(without_aws_chunked("aws-chunked".into()), None);
    }

    #[test]
    fn timestamps_round_trip_at_ms() {
        let ms = 1_700_000_000_123;
        assert_eq!(timestamp_to_ms(&ms_to_timestamp(ms)), ms);
    }

    #[test]
    fn user_metadata_over_2_kib_is_refused() {
        let mut m = Metadata::new();
        m.insert("k".into(), "v".repeat(MAX_USER_METADATA - 1));
        assert!(check_user_metadata(Some(&m)).is_ok());
        m.insert("x".into(), String::new());
        let err = check_user_metadata(Some(&m)).unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::MetadataTooLarge);
        assert!(check_user_metadata(None).is_ok());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_bucket_name("my-bucket.1").is_ok());
        for bad in ["ab", "UPPER", "192.168.1.1", "-start", "a..b"] {
            let err = check_bucket_name(bad).unwrap_err();
            assert_eq!(*err.code(), S3ErrorCode::InvalidBucketName, "{bad}");
        }
    }
}
