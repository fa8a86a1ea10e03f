//! Cross-origin requests on the S3 port, answered from the bucket's CORS rules (PutBucketCors) as S3 answers
//! them:
//!
//! * a preflight `OPTIONS` (never signed, never routed by s3s) gets 200 with the `Access-Control-Allow-*`
//!   headers of the first rule that allows its origin, `Access-Control-Request-Method` and every header of
//!   `Access-Control-Request-Headers`; 403 `AccessForbidden` when the bucket has no rules or none allows it;
//!   400 `BadRequest` without `Origin` or `Access-Control-Request-Method`;
//! * any other request with an `Origin` header goes to s3s unchanged, and its answer gets the headers of the
//!   first rule that allows its origin and method (none when no rule does).
//!
//! Origins and header names may hold one `*` wildcard; header names compare case-insensitively, origins and
//! methods exactly.

use std::sync::Arc;

use catalog::CorsRule;
use engine::Core;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};

use crate::s3::errors::xml_answer;
use crate::s3::host::Domains;

/// The CORS answers of one S3 port.
#[derive(Clone)]
pub struct Cors {
    strata: Arc<Core>,
    domains: Option<Domains>,
}

/// What an actual cross-origin request needs for its answer's headers: its bucket, origin and method.
pub struct CrossOrigin {
    bucket: String,
    origin: String,
    method: String,
}

impl Cors {
    pub fn new(strata: Arc<Core>, domains: Option<Domains>) -> Cors {
        Cors { strata, domains }
    }

    /// The bucket a request addresses: the Host header's for virtual-hosted style, else the path's first
    /// segment; `None` for the service root.
    fn bucket_of<B>(&self, req: &Request<B>) -> Option<String> {
        if let Some(domains) = &self.domains
            && let Some(host) = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
            && let Some(bucket) = domains.bucket_of(host)
        {
            return Some(bucket.to_ascii_lowercase());
        }
        let first = req.uri().path().trim_start_matches('/').split('/').next()?;
        (!first.is_empty()).then(|| first.to_owned())
    }

    /// The bucket's CORS rules (empty without a configuration), or `None` when the bucket does not exist.
    async fn rules(&self, bucket: &str) -> Result<Option<Vec<CorsRule>>, catalog::CatalogError> {
        let name = bucket.to_owned();
        let record = self.strata.with_catalog(move |c| c.bucket(&name)).await?;
        Ok(record.map(|r| r.cors))
    }

    /// `Some` when `req` is an actual cross-origin request (it has an `Origin` and addresses a bucket).
    pub fn cross_origin<B>(&self, req: &Request<B>) -> Option<CrossOrigin> {
        let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?.to_owned();
        Some(CrossOrigin {
            bucket: self.bucket_of(req)?,
            origin,
            method: req.method().as_str().to_owned(),
        })
    }

    /// Adds the `Access-Control-*` headers of the first rule that allows the request to its answer.
    pub async fn decorate<B>(&self, cross: CrossOrigin, resp: &mut Response<B>) {
        let Ok(Some(rules)) = self.rules(&cross.bucket).await else {
            return;
        };
        if let Some(rule) = matching_rule(&rules, &cross.origin, &cross.method, &[]) {
            allow_headers(resp.headers_mut(), rule, &cross.origin, None);
        }
    }

    /// The answer to a preflight `OPTIONS` request (see the module docs).
    pub async fn preflight<B>(&self, req: &Request<B>) -> Response<s3s::Body> {
        let h = req.headers();
        let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
            return xml_answer(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            );
        };
        let Some(method) = h
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
        else {
            return xml_answer(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid Access-Control-Request-Method: null",
            );
        };
        let requested_raw = h
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok());
        let requested: Vec<String> = requested_raw
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let Some(bucket) = self.bucket_of(req) else {
            return xml_answer(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: Bucket not found",
            );
        };
        let rules = match self.rules(&bucket).await {
            Ok(Some(rules)) => rules,
            Ok(None) => {
                return xml_answer(
                    StatusCode::NOT_FOUND,
                    "NoSuchBucket",
                    "The specified bucket does not exist",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "catalog failure answering a CORS preflight");
                return xml_answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                );
            }
        };
        if rules.is_empty() {
            return xml_answer(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: CORS is not enabled for this bucket.",
            );
        }
        let Some(rule) = matching_rule(&rules, origin, method, &requested) else {
            return xml_answer(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            );
        };
        let mut resp = Response::new(s3s::Body::empty());
        allow_headers(resp.headers_mut(), rule, origin, Some(&requested));
        resp
    }
}

/// Whether `pattern` (at most one `*`, matching any run of characters) matches `value`.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.is_char_boundary(head.len())
                && value.is_char_boundary(value.len() - tail.len())
                && eq(&value[..head.len()], head)
                && eq(&value[value.len() - tail.len()..], tail)
        }
    }
}

/// The first rule that allows `origin` to send `method` with every header of `requested` (lower-case names).
pub fn matching_rule<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    requested: &[String],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins.iter().any(|o| wildcard(o, origin, false))
            && r.allowed_methods.iter().any(|m| m == method)
            && requested.iter().all(|h| {
                r.allowed_headers
                    .iter()
                    .any(|allowed| wildcard(allowed, h, true))
            })
    })
}

/// The `Access-Control-*` headers S3 sends for `rule`: the origin (`*` when the rule allows any origin, then
/// without credentials), the rule's methods, the requested headers (preflight only), the exposed headers and the
/// max age, and `Vary` so that caches keep answers per origin.
fn allow_headers(out: &mut HeaderMap, rule: &CorsRule, origin: &str, requested: Option<&[String]>) {
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    set(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        if any_origin { "*" } else { origin },
    );
    if !any_origin {
        set(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    set(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(", "),
    );
    if let Some(requested) = requested
        && !requested.is_empty()
    {
        set(header::ACCESS_CONTROL_ALLOW_HEADERS, &requested.join(", "));
    }
    if !rule.expose_headers.is_empty() {
        set(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    set(
        header::VARY,
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CorsRule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            ..CorsRule::default()
        }
    }

    #[test]
    fn wildcards_match_one_run_of_characters() {
        assert!(wildcard("*", "https://x.example", false));
        assert!(wildcard(
            "https://*.example.com",
            "https://a.b.example.com",
            false
        ));
        assert!(!wildcard(
            "https://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(!wildcard(
            "https://*.example.com",
            "https://example.com",
            false
        ));
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard("x-amz-*", "X-Amz-Date", false));
        assert!(!wildcard("ab*ba", "aba", false));
    }

    #[test]
    fn the_first_rule_that_allows_everything_requested_wins() {
        let rules = vec![
            rule(&["https://app.example"], &["PUT"], &["content-type"]),
            rule(&["*"], &["GET", "HEAD"], &[]),
        ];
        let hdrs = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let m = matching_rule(
            &rules,
            "https://app.example",
            "PUT",
            &hdrs(&["content-type"]),
        );
        assert_eq!(m, Some(&rules[0]));
        assert_eq!(
            matching_rule(&rules, "https://app.example", "PUT", &hdrs(&["x-amz-date"])),
            None
        );
        assert_eq!(
            matching_rule(&rules, "https://other.example", "GET", &[]),
            Some(&rules[1])
        );
        assert_eq!(
            matching_rule(&rules, "https://other.example", "PUT", &[]),
            None
        );
        assert_eq!(
            matching_rule(&rules, "https://other.example", "GET", &hdrs(&["a"])),
            None
        );
    }
}
