//! Tagging of objects and buckets: the rules S3 enforces on a tag set, the `x-amz-tagging` header of PUT, copy
//! and multipart uploads, and the Put/Get/Delete{Object,Bucket}Tagging operations.
//!
//! Rules (AWS S3 API reference, "Categorizing your storage using tags"): at most 10 tags on an object and 50 on a
//! bucket; a key of 1–128 Unicode characters, a value of 0–256; letters, digits, white space and `+ - = . _ : / @`;
//! keys unique; the `aws:` prefix is reserved. A tag set that breaks one is refused whole with 400 `InvalidTag`
//! (a malformed `x-amz-tagging` header with 400 `InvalidArgument`), before anything is stored. Tags live in the
//! catalog next to the object's metadata; changing them changes neither the ETag nor Last-Modified.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;
use super::errors::catalog_err;

/// A validated tag set, ordered by key.
pub type TagMap = BTreeMap<String, String>;

/// Most tags an object may carry.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags a bucket may carry.
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

fn invalid_tag(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, message.into())
}

/// Letters, digits and white space in any script, plus `+ - = . _ : / @`.
fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

fn check_pair(key: &str, value: &str) -> S3Result<()> {
    if key.is_empty() || !key.chars().all(allowed_char) {
        return Err(invalid_tag("The TagKey you have provided is invalid"));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(invalid_tag(format!(
            "The TagKey you have provided is too long, max {MAX_KEY_CHARS}"
        )));
    }
    if key.starts_with("aws:") {
        return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(invalid_tag(format!(
            "The TagValue you have provided is too long, max {MAX_VALUE_CHARS}"
        )));
    }
    if !value.chars().all(allowed_char) {
        return Err(invalid_tag("The TagValue you have provided is invalid"));
    }
    Ok(())
}

fn check_count(n: usize, max: usize, what: &str) -> S3Result<()> {
    if n > max {
        return Err(invalid_tag(format!(
            "{what} tags cannot be greater than {max}"
        )));
    }
    Ok(())
}

/// The tag set of a Put*Tagging body, checked against S3's rules with at most `max` tags.
pub fn from_tagging(tagging: &Tagging, max: usize, what: &str) -> S3Result<TagMap> {
    let mut tags = TagMap::new();
    for tag in &tagging.tag_set {
        let (Some(key), value) = (tag.key.as_deref(), tag.value.as_deref()) else {
            return Err(s3_error!(MalformedXML, "Every Tag needs a Key element"));
        };
        let value = value.unwrap_or_default();
        check_pair(key, value)?;
        if tags.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    check_count(tags.len(), max, what)?;
    Ok(tags)
}

/// The tag set of an `x-amz-tagging` header: URL query syntax (`k1=v1&k2=v2`, percent-encoded UTF-8), object
/// rules. An absent or empty header is no tags.
pub fn from_header(header: Option<&str>) -> S3Result<TagMap> {
    let mut tags = TagMap::new();
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Ok(tags);
    };
    let malformed = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
        )
    };
    for pair in header.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let bytes = s.as_bytes();
            let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
                b != b'%'
                    || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            if !well_formed {
                return Err(malformed());
            }
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| malformed())
        };
        let (key, value) = (decode(key)?, decode(value)?);
        check_pair(&key, &value)?;
        if tags.insert(key, value).is_some() {
            return Err(malformed());
        }
    }
    check_count(tags.len(), MAX_OBJECT_TAGS, "Object")?;
    Ok(tags)
}

/// The DTO form of a stored tag set.
pub fn to_tag_set(tags: &TagMap) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// S3's `x-amz-tagging-count`: absent when the object has no tags.
pub fn tag_count(tags: &TagMap) -> Option<i32> {
    (!tags.is_empty()).then(|| i32::try_from(tags.len()).unwrap_or(i32::MAX))
}

impl StrataS3 {
    /// Replaces the object's tags; NoSuchKey if it does not exist.
    async fn set_object_tags(&self, bucket: &str, key: &str, tags: TagMap) -> S3Result<()> {
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let updated = self
            .strata
            .with_catalog(move |c| {
                c.update_object_meta(&b, &k, &mut |m: &mut catalog::ObjectMeta| {
                    m.tags = tags.clone()
                })
            })
            .await
            .map_err(catalog_err)?;
        match updated {
            Some(_) => Ok(()),
            None => Err(s3_error!(NoSuchKey, "The specified key does not exist.")),
        }
    }

    /// Sets the tags of the version a request names (`versionId`), or of the current one.
    async fn set_tags_of(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: TagMap,
    ) -> S3Result<Option<String>> {
        let Some(version) = version else {
            self.set_object_tags(bucket, key, tags).await?;
            return Ok(None);
        };
        super::object::check_version_id(version)?;
        let (b, k, v) = (bucket.to_owned(), key.to_owned(), version.to_owned());
        let updated = self
            .strata
            .with_catalog(move |c| {
                c.update_version_meta(&b, &k, &v, &mut |m: &mut catalog::ObjectMeta| {
                    m.tags = tags.clone()
                })
            })
            .await
            .map_err(catalog_err)?;
        match updated {
            Some(r) if r.delete_marker => Err(s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            )),
            Some(_) => Ok(Some(version.to_owned())),
            None => Err(s3_error!(
                NoSuchVersion,
                "The specified version does not exist."
            )),
        }
    }

    pub(super) async fn put_object_tagging_impl(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = req.input;
        let tags = from_tagging(&i.tagging, MAX_OBJECT_TAGS, "Object")?;
        let version_id = self
            .set_tags_of(&i.bucket, &i.key, i.version_id.as_deref(), tags)
            .await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    pub(super) async fn get_object_tagging_impl(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = req.input;
        let rec = self
            .lookup_version(&i.bucket, &i.key, i.version_id.as_deref())
            .await?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: to_tag_set(&rec.meta.tags),
            version_id: super::object::version_header(&rec, i.version_id.as_deref()),
        }))
    }

    pub(super) async fn delete_object_tagging_impl(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = req.input;
        let version_id = self
            .set_tags_of(&i.bucket, &i.key, i.version_id.as_deref(), TagMap::new())
            .await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    async fn set_bucket_tags(&self, bucket: &str, tags: TagMap) -> S3Result<()> {
        self.update_bucket_record(bucket, move |r| r.tags = tags.clone())
            .await
    }

    pub(super) async fn put_bucket_tagging_impl(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let i = req.input;
        let tags = from_tagging(&i.tagging, MAX_BUCKET_TAGS, "Bucket")?;
        self.set_bucket_tags(&i.bucket, tags).await?;
        Ok(S3Response::new(PutBucketTaggingOutput {}))
    }

    pub(super) async fn get_bucket_tagging_impl(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        if rec.tags.is_empty() {
            return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
        }
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: to_tag_set(&rec.tags),
        }))
    }

    pub(super) async fn delete_bucket_tagging_impl(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.set_bucket_tags(&req.input.bucket, TagMap::new())
            .await?;
        Ok(S3Response::new(DeleteBucketTaggingOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagging(pairs: &[(&str, &str)]) -> Tagging {
        Tagging {
            tag_set: pairs
                .iter()
                .map(|(k, v)| Tag {
                    key: Some((*k).to_owned()),
                    value: Some((*v).to_owned()),
                })
                .collect(),
        }
    }

    fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
        r.unwrap_err().code().clone()
    }

    #[test]
    fn limits_are_s3_limits() {
        let k128 = "k".repeat(128);
        let v256 = "é".repeat(256);
        assert!(from_tagging(&tagging(&[(&k128, &v256)]), 10, "Object").is_ok());
        let k129 = "k".repeat(129);
        assert_eq!(
            code(from_tagging(&tagging(&[(&k129, "v")]), 10, "Object")),
            S3ErrorCode::InvalidTag
        );
        let v257 = "v".repeat(257);
        assert_eq!(
            code(from_tagging(&tagging(&[("k", &v257)]), 10, "Object")),
            S3ErrorCode::InvalidTag
        );
        let eleven: Vec<(String, String)> =
            (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            code(from_tagging(&tagging(&eleven), 10, "Object")),
            S3ErrorCode::InvalidTag
        );
        assert!(from_tagging(&tagging(&eleven), 50, "Bucket").is_ok());
        for bad in [
            ("", "v"),
            ("a", "b"),
            ("aws:x", "v"),
            ("k#", "v"),
            ("k", "v*"),
        ] {
            let dup = [bad, ("a", "c")];
            assert_eq!(
                code(from_tagging(&tagging(&dup), 10, "Object")),
                S3ErrorCode::InvalidTag,
                "{bad:?}"
            );
        }
        assert!(from_tagging(&tagging(&[("+- =._:/@", "Ünïcode 1")]), 10, "Object").is_ok());
    }

    #[test]
    fn header_is_url_query_syntax() {
        let tags = from_header(Some("a=1&b%20c=d%2Fe&empty=&bare")).unwrap();
        assert_eq!(tags["a"], "1");
        assert_eq!(tags["b c"], "d/e");
        assert_eq!(tags["empty"], "");
        assert_eq!(tags["bare"], "");
        assert_eq!(from_header(Some("x+y=1")).unwrap()["x y"], "1");
        assert!(from_header(None).unwrap().is_empty());
        assert!(from_header(Some("")).unwrap().is_empty());
        assert_eq!(
            code(from_header(Some("a=1&a=2"))),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(from_header(Some("a=%ff"))),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(from_header(Some("a=%ZZ"))),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(from_header(Some("a=1%2"))),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(code(from_header(Some("a*=1"))), S3ErrorCode::InvalidTag);
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            code(from_header(Some(&many.join("&")))),
            S3ErrorCode::InvalidTag
        );
    }
}
