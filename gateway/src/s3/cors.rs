//! Put/Get/DeleteBucketCors: a bucket's CORS rules, checked as S3 checks them and stored in its catalog
//! record. The answers to cross-origin requests (preflight `OPTIONS`, `Access-Control-*` headers) are the S3
//! port's job: see [`crate::cors`].

use catalog::CorsRule;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::StrataS3;

/// The methods a CORS rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];
/// Most rules in one configuration.
pub const MAX_RULES: usize = 100;

/// The rules of a PutBucketCors body, refused with S3's codes: no rule, more than 100 rules, a rule without an
/// origin or a method, an unknown method, an origin or header with more than one `*`, an ID over 255
/// characters, a negative max age.
pub fn rules_from(cfg: &CORSConfiguration) -> S3Result<Vec<CorsRule>> {
    if cfg.cors_rules.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    if cfg.cors_rules.len() > MAX_RULES {
        return Err(s3_error!(
            InvalidRequest,
            "The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules."
        ));
    }
    cfg.cors_rules.iter().map(rule_from).collect()
}

fn rule_from(r: &CORSRule) -> S3Result<CorsRule> {
    if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    for m in &r.allowed_methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(s3_error!(
                InvalidRequest,
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            ));
        }
    }
    for o in &r.allowed_origins {
        if o.matches('*').count() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            ));
        }
    }
    let headers = r.allowed_headers.clone().unwrap_or_default();
    for h in &headers {
        if h.matches('*').count() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            ));
        }
    }
    if r.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
        return Err(s3_error!(
            InvalidArgument,
            "The ID of a CORS rule can not be longer than 255 characters"
        ));
    }
    if r.max_age_seconds.is_some_and(|s| s < 0) {
        return Err(s3_error!(
            MalformedXML,
            "MaxAgeSeconds must be a non-negative integer"
        ));
    }
    Ok(CorsRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: headers,
        expose_headers: r.expose_headers.clone().unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    })
}

fn rule_to(r: &CorsRule) -> CORSRule {
    let opt = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: opt(&r.allowed_headers),
        expose_headers: opt(&r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

impl StrataS3 {
    async fn set_bucket_cors(&self, bucket: &str, rules: Vec<CorsRule>) -> S3Result<()> {
        self.update_bucket_record(bucket, move |r| r.cors = rules.clone())
            .await
    }

    pub(super) async fn put_bucket_cors_impl(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let i = req.input;
        let rules = rules_from(&i.cors_configuration)?;
        self.set_bucket_cors(&i.bucket, rules).await?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    pub(super) async fn get_bucket_cors_impl(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let rec = self.bucket_record(&req.input.bucket).await?;
        if rec.cors.is_empty() {
            return Err(s3_error!(
                NoSuchCORSConfiguration,
                "The CORS configuration does not exist"
            ));
        }
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rec.cors.iter().map(rule_to).collect()),
        }))
    }

    pub(super) async fn delete_bucket_cors_impl(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.set_bucket_cors(&req.input.bucket, Vec::new()).await?;
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str]) -> CORSRule {
        CORSRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: None,
            expose_headers: None,
            id: None,
            max_age_seconds: None,
        }
    }

    fn code(rules: Vec<CORSRule>) -> Option<s3s::S3ErrorCode> {
        rules_from(&CORSConfiguration { cors_rules: rules })
            .err()
            .map(|e| e.code().clone())
    }

    #[test]
    fn configurations_are_checked_as_s3_checks_them() {
        assert_eq!(code(vec![rule(&["*"], &["GET", "PUT"])]), None);
        assert_eq!(code(vec![]), Some(s3s::S3ErrorCode::MalformedXML));
        assert_eq!(
            code(vec![rule(&["*"], &["PATCH"])]),
            Some(s3s::S3ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(vec![rule(&["http://*.*.com"], &["GET"])]),
            Some(s3s::S3ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(vec![rule(&[], &["GET"])]),
            Some(s3s::S3ErrorCode::MalformedXML)
        );
        assert_eq!(
            code(vec![rule(&["*"], &["GET"]); 101]),
            Some(s3s::S3ErrorCode::InvalidRequest)
        );
        let round = rules_from(&CORSConfiguration {
            cors_rules: vec![rule(&["https://a.example"], &["GET"])],
        })
        .unwrap();
        assert_eq!(rule_to(&round[0]), rule(&["https://a.example"], &["GET"]));
    }
}
