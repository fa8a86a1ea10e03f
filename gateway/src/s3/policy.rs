//! Bucket policies: the subset of S3's policy language Strata evaluates, parsed once when a policy is put.
//!
//! A policy is `{"Version": …, "Statement": [ … ]}`; each statement has an `Effect` (`Allow` or `Deny`), a
//! `Principal` (`"*"`, or `{"AWS": …}` naming users by access key, as `NAME`, `arn:aws:iam::ACCOUNT:user/NAME` or
//! `"*"`), an `Action` (`s3:GetObject`, `s3:Get*`, `s3:*`, …) and a `Resource` (`arn:aws:s3:::bucket` or
//! `arn:aws:s3:::bucket/prefix*`, within the policy's own bucket), each a string or a list; `Sid` is kept.
//! A statement may carry a `Condition` on the client's address (`IpAddress` / `NotIpAddress` with `aws:SourceIp`,
//! CIDR blocks or addresses), on the transport (`Bool` with `aws:SecureTransport`: Strata serves plain HTTP, so it
//! is `false`), or on the request's values ([`RequestKey`]: its `x-amz-*` headers as `s3:x-amz-…`, `s3:prefix`,
//! `s3:delimiter` and `s3:max-keys`, `aws:UserAgent` and `aws:Referer`, the tags a write asks for as
//! `s3:RequestObjectTag/KEY` and the object's own as `s3:ExistingObjectTag/KEY`) with the string operators
//! (`StringEquals`, `StringNotEquals`, their `IgnoreCase` forms, `StringLike`, `StringNotLike`, each also with
//! `IfExists`) and `Null`. As in IAM, a key the request does not carry makes a positive operator false and a negated
//! one true, `…IfExists` true, and `Null: true` true. Any other condition, and `NotPrincipal`, `NotAction` and
//! `NotResource`, are refused (400 `MalformedPolicy`) rather than ignored: a Deny that is not enforced would be worse
//! than no policy.
//!
//! Evaluation ([`Policy::decide`]), as S3's for one account: an explicit Deny that matches wins; otherwise an Allow
//! that matches allows, else the policy says nothing and the user's own access (grants) decides. Anonymous
//! requests are allowed only by an Allow with the `*` principal.

use serde_json::Value;

/// A parsed bucket policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    allow: bool,
    /// `None`: everyone (`*`), anonymous included.
    principals: Option<Vec<String>>,
    actions: Vec<String>,
    resources: Vec<String>,
    /// Every one must hold for the statement to apply.
    conditions: Vec<Condition>,
}

/// One evaluated condition of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    /// `IpAddress` (`inside`) or `NotIpAddress` on `aws:SourceIp`.
    SourceIp { inside: bool, blocks: Vec<IpBlock> },
    /// `Bool` on `aws:SecureTransport`.
    SecureTransport(bool),
    /// A string operator on one of the request's values.
    Strings {
        op: StringOp,
        if_exists: bool,
        key: RequestKey,
        values: Vec<String>,
    },
    /// `Null`: whether the request lacks the key (`true`) or carries it (`false`).
    Null { key: RequestKey, absent: bool },
}

/// The string condition operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StringOp {
    Equals,
    NotEquals,
    EqualsIgnoreCase,
    NotEqualsIgnoreCase,
    Like,
    NotLike,
}

impl StringOp {
    fn parse(name: &str) -> Option<StringOp> {
        Some(match name {
            "StringEquals" => StringOp::Equals,
            "StringNotEquals" => StringOp::NotEquals,
            "StringEqualsIgnoreCase" => StringOp::EqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringOp::NotEqualsIgnoreCase,
            "StringLike" => StringOp::Like,
            "StringNotLike" => StringOp::NotLike,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            StringOp::NotEquals | StringOp::NotEqualsIgnoreCase | StringOp::NotLike
        )
    }

    /// Whether `value` matches one of `patterns` (the positive sense of the operator).
    fn matches(self, patterns: &[String], value: &str) -> bool {
        patterns.iter().any(|p| match self {
            StringOp::Equals | StringOp::NotEquals => p == value,
            StringOp::EqualsIgnoreCase | StringOp::NotEqualsIgnoreCase => {
                p.eq_ignore_ascii_case(value)
            }
            StringOp::Like | StringOp::NotLike => wildcard(p, value),
        })
    }
}

/// A value of the request that a condition may test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestKey {
    /// A request header (`s3:x-amz-acl` is `x-amz-acl`; `aws:UserAgent`, `aws:Referer`), lower case.
    Header(String),
    /// A query parameter (`s3:prefix`, `s3:delimiter`, `s3:max-keys`).
    Query(String),
    /// A tag the request sets on the object (`s3:RequestObjectTag/KEY`, from `x-amz-tagging`).
    RequestTag(String),
    /// A tag the object already has (`s3:ExistingObjectTag/KEY`).
    ExistingTag(String),
}

impl RequestKey {
    fn parse(key: &str) -> Option<RequestKey> {
        let lower = key.to_ascii_lowercase();
        // Condition keys are case-insensitive; a tag's own key after the slash is not.
        let tag = |prefix: &str| {
            lower
                .starts_with(prefix)
                .then(|| key[prefix.len()..].to_owned())
        };
        if let Some(t) = tag("s3:requestobjecttag/") {
            return Some(RequestKey::RequestTag(t));
        }
        if let Some(t) = tag("s3:existingobjecttag/") {
            return Some(RequestKey::ExistingTag(t));
        }
        match lower.as_str() {
            "s3:prefix" | "s3:delimiter" | "s3:max-keys" => {
                Some(RequestKey::Query(lower["s3:".len()..].to_owned()))
            }
            "aws:useragent" => Some(RequestKey::Header("user-agent".to_owned())),
            "aws:referer" => Some(RequestKey::Header("referer".to_owned())),
            h if h.starts_with("s3:x-amz-") => {
                Some(RequestKey::Header(h["s3:".len()..].to_owned()))
            }
            _ => None,
        }
    }

    /// The request's value of this key, `None` when it carries none.
    fn value<'a>(&self, cx: &'a RequestContext<'_>) -> Option<std::borrow::Cow<'a, str>> {
        use std::borrow::Cow;
        match self {
            RequestKey::Header(name) => cx
                .headers?
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            RequestKey::Query(name) => cx.query?.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k == name).then(|| {
                    percent_encoding::percent_decode_str(&v.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                        .into()
                })
            }),
            RequestKey::RequestTag(tag) => {
                let tagging = cx.headers?.get("x-amz-tagging")?.to_str().ok()?;
                tagging.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                    (k == tag.as_str()).then(|| {
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned()
                            .into()
                    })
                })
            }
            RequestKey::ExistingTag(tag) => cx
                .existing_tags?
                .get(tag)
                .map(|v| Cow::Borrowed(v.as_str())),
        }
    }
}

/// A CIDR block (an address is a block of its full length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IpBlock {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpBlock {
    fn parse(text: &str) -> Result<IpBlock, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("Invalid IP address in aws:SourceIp: {text}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("Invalid CIDR prefix in aws:SourceIp: {text}"))?,
        };
        Ok(IpBlock { addr, prefix })
    }

    fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            // An IPv4 client reached over an IPv6 socket compares as IPv4.
            (std::net::IpAddr::V4(_), std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => std::net::IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => (
                u128::from(u32::from(a)) << 96,
                u128::from(u32::from(b)) << 96,
                self.prefix,
            ),
            (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => {
                (u128::from(a), u128::from(b), self.prefix)
            }
            _ => return false,
        };
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(bits))
        };
        a & mask == b & mask
    }
}

/// The client's address, put in each S3 request's extensions by the server for `aws:SourceIp`.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// What a condition is evaluated against.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestContext<'a> {
    pub source_ip: Option<std::net::IpAddr>,
    pub secure_transport: bool,
    /// The request's headers (`s3:x-amz-…`, `aws:UserAgent`, `aws:Referer`, `s3:RequestObjectTag/…`).
    pub headers: Option<&'a http::HeaderMap>,
    /// The request's query string (`s3:prefix`, `s3:delimiter`, `s3:max-keys`).
    pub query: Option<&'a str>,
    /// The object's tags, when the request names an existing object and the policy asks
    /// ([`Policy::needs_existing_tags`]).
    pub existing_tags: Option<&'a std::collections::BTreeMap<String, String>>,
}

impl Condition {
    fn parse(v: &Value) -> Result<Vec<Condition>, String> {
        let obj = v.as_object().ok_or("Condition must be a JSON object")?;
        let mut out = Vec::new();
        for (operator, keys) in obj {
            let keys = keys
                .as_object()
                .ok_or_else(|| format!("Condition {operator} must map keys to values"))?;
            for (key, value) in keys {
                let values = strings(value, "Condition value")?;
                let c = match (operator.as_str(), key.to_ascii_lowercase().as_str()) {
                    ("IpAddress" | "NotIpAddress", "aws:sourceip") => Condition::SourceIp {
                        inside: operator == "IpAddress",
                        blocks: values
                            .iter()
                            .map(|t| IpBlock::parse(t))
                            .collect::<Result<_, _>>()?,
                    },
                    ("Bool", "aws:securetransport") => match values.as_slice() {
                        [one] if one == "true" || one == "false" => {
                            Condition::SecureTransport(one == "true")
                        }
                        _ => {
                            return Err(
                                "aws:SecureTransport takes \"true\" or \"false\"".to_owned()
                            );
                        }
                    },
                    (op, _) => {
                        let unsupported = || {
                            format!(
                                "Condition {operator} on {key} is not supported by Strata (supported: IpAddress and NotIpAddress on aws:SourceIp, Bool on aws:SecureTransport, the String operators and Null on request headers, s3:prefix, s3:delimiter, s3:max-keys and object tags)"
                            )
                        };
                        let request_key = RequestKey::parse(key).ok_or_else(unsupported)?;
                        if op == "Null" {
                            match values.as_slice() {
                                [one] if one == "true" || one == "false" => Condition::Null {
                                    key: request_key,
                                    absent: one == "true",
                                },
                                _ => {
                                    return Err(format!(
                                        "Null on {key} takes \"true\" or \"false\""
                                    ));
                                }
                            }
                        } else {
                            let (name, if_exists) = match op.strip_suffix("IfExists") {
                                Some(n) => (n, true),
                                None => (op, false),
                            };
                            Condition::Strings {
                                op: StringOp::parse(name).ok_or_else(unsupported)?,
                                if_exists,
                                key: request_key,
                                values,
                            }
                        }
                    }
                };
                out.push(c);
            }
        }
        Ok(out)
    }

    fn holds(&self, cx: &RequestContext) -> bool {
        match self {
            Condition::SourceIp { inside, blocks } => match cx.source_ip {
                Some(ip) => blocks.iter().any(|b| b.contains(ip)) == *inside,
                None => false,
            },
            Condition::SecureTransport(want) => cx.secure_transport == *want,
            Condition::Strings {
                op,
                if_exists,
                key,
                values,
            } => match key.value(cx) {
                Some(v) => op.matches(values, &v) != op.negated(),
                None => *if_exists || op.negated(),
            },
            Condition::Null { key, absent } => key.value(cx).is_none() == *absent,
        }
    }
}

/// What a policy says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement matches.
    Silent,
}

/// Who is asking: an access key, or nobody (an unsigned request).
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    User(&'a str),
    Anonymous,
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{field} must hold strings"))
            })
            .collect(),
        _ => Err(format!(
            "{field} must be a string or a non-empty list of strings"
        )),
    }
}

/// `*` matches any run of characters, `?` one character.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

impl Policy {
    /// Parses and checks a policy document for `bucket`; the error is the message of a 400 `MalformedPolicy`.
    pub fn parse(document: &str, bucket: &str) -> Result<Policy, String> {
        let doc: Value = serde_json::from_str(document)
            .map_err(|e| format!("Policies must be valid JSON: {e}"))?;
        let obj = doc.as_object().ok_or("A policy must be a JSON object")?;
        for field in obj.keys() {
            if !matches!(field.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("Unknown field {field}"));
            }
        }
        if let Some(v) = obj.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err("The policy Version must be 2012-10-17 or 2008-10-17".to_owned());
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.clone(),
            Some(item @ Value::Object(_)) => vec![item.clone()],
            _ => return Err("Missing required field Statement".to_owned()),
        };
        let statements = statements
            .iter()
            .map(|s| Statement::parse(s, bucket))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Whether a condition tests the object's existing tags (the caller then loads them for the request).
    pub fn needs_existing_tags(&self) -> bool {
        self.statements.iter().any(|s| {
            s.conditions.iter().any(|c| match c {
                Condition::Strings { key, .. } | Condition::Null { key, .. } => {
                    matches!(key, RequestKey::ExistingTag(_))
                }
                _ => false,
            })
        })
    }

    /// Whether any Allow statement lets anonymous callers in (a public policy).
    pub fn is_public(&self) -> bool {
        // As AWS judges it: an Allow for everyone limited to some addresses is not public.
        self.statements.iter().any(|s| {
            s.allow
                && s.principals.is_none()
                && !s
                    .conditions
                    .iter()
                    .any(|c| matches!(c, Condition::SourceIp { inside: true, .. }))
        })
    }

    /// What the policy says about `caller` doing `action` (`s3:GetObject`) on `resource` (an ARN), in the request
    /// context `cx` (for conditions).
    pub fn decide(
        &self,
        caller: Caller<'_>,
        action: &str,
        resource: &str,
        cx: &RequestContext,
    ) -> Decision {
        let mut decision = Decision::Silent;
        for s in &self.statements {
            if s.matches(caller, action, resource, cx) {
                if !s.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }
}

impl Statement {
    fn parse(v: &Value, bucket: &str) -> Result<Statement, String> {
        let obj = v.as_object().ok_or("A Statement must be a JSON object")?;
        for field in obj.keys() {
            match field.as_str() {
                "Sid" | "Effect" | "Principal" | "Action" | "Resource" | "Condition" => {}
                "NotPrincipal" | "NotAction" | "NotResource" => {
                    return Err(format!("{field} is not supported by Strata"));
                }
                other => return Err(format!("Unknown field {other}")),
            }
        }
        let allow = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err("Effect must be Allow or Deny".to_owned()),
        };
        let principals = match obj.get("Principal") {
            Some(Value::String(s)) if s == "*" => None,
            Some(Value::Object(p)) => {
                let mut names = Vec::new();
                for (kind, value) in p {
                    if kind != "AWS" {
                        return Err(format!("Principal type {kind} is not supported"));
                    }
                    names.extend(strings(value, "Principal")?);
                }
                if names.iter().any(|n| n == "*") {
                    None
                } else {
                    Some(
                        names
                            .into_iter()
                            .map(|n| match n.rsplit_once(":user/") {
                                Some((_, user)) => user.to_owned(),
                                None => n,
                            })
                            .collect(),
                    )
                }
            }
            _ => return Err("Missing required field Principal".to_owned()),
        };
        let actions = strings(
            obj.get("Action").ok_or("Missing required field Action")?,
            "Action",
        )?;
        for a in &actions {
            if a != "*" && !a.starts_with("s3:") {
                return Err(format!("Policy has invalid action: {a}"));
            }
        }
        let resources = strings(
            obj.get("Resource")
                .ok_or("Missing required field Resource")?,
            "Resource",
        )?;
        let own = format!("arn:aws:s3:::{bucket}");
        for r in &resources {
            // The bucket part of the ARN (up to the first '/') must match the bucket, wildcards allowed
            // (`arn:aws:s3:::*/*` covers every bucket's objects, this one's too).
            let inside = r
                .strip_prefix("arn:aws:s3:::")
                .is_some_and(|rest| wildcard(rest.split('/').next().unwrap_or(rest), bucket))
                || (r.ends_with('*') && own.starts_with(r.trim_end_matches('*')));
            if !inside {
                return Err(format!(
                    "Policy has invalid resource: {r} (a bucket policy covers {own} and {own}/*)"
                ));
            }
        }
        let conditions = match obj.get("Condition") {
            Some(c) => Condition::parse(c)?,
            None => Vec::new(),
        };
        Ok(Statement {
            allow,
            principals,
            actions,
            resources,
            conditions,
        })
    }

    fn matches(
        &self,
        caller: Caller<'_>,
        action: &str,
        resource: &str,
        cx: &RequestContext,
    ) -> bool {
        if !self.conditions.iter().all(|c| c.holds(cx)) {
            return false;
        }
        let who = match (&self.principals, caller) {
            (None, _) => true,
            (Some(names), Caller::User(key)) => names.iter().any(|n| n == key),
            (Some(_), Caller::Anonymous) => false,
        };
        who && self
            .actions
            .iter()
            .any(|a| a == "*" || wildcard(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| wildcard(r, resource))
    }
}

/// The IAM action of an S3 operation (by s3s's operation name), as policies name it.
pub fn action_of(op: &str, has_version: bool) -> String {
    let name = match op {
        "HeadObject" | "GetObject" if has_version => "GetObjectVersion",
        "HeadObject" => "GetObject",
        "DeleteObject" if has_version => "DeleteObjectVersion",
        "DeleteObjects" => "DeleteObject",
        "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "PostObject" => "PutObject",
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "GetObjectAttributes" => "GetObject",
        "DeleteBucketPolicy" => "DeleteBucketPolicy",
        "GetBucketVersioning" => "GetBucketVersioning",
        "PutBucketVersioning" => "PutBucketVersioning",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        other => other,
    };
    format!("s3:{name}")
}

/// The resource ARN of a request: the bucket, or one object in it.
pub fn resource_of(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// What the access check needs to know about a bucket: its parsed policy and whether public access is restricted.
#[derive(Debug, Default)]
pub struct BucketAuth {
    pub policy: Option<Policy>,
    /// `RestrictPublicBuckets` of the bucket's public-access block: a public policy lets no anonymous caller in.
    pub restrict_public: bool,
    /// `BlockPublicAcls`: a write that grants the public groups is refused.
    pub block_public_acls: bool,
    /// `IgnorePublicAcls`: grants to the public groups count for nobody.
    pub ignore_public_acls: bool,
    /// The bucket's owner (`None`: made before owners were recorded).
    pub owner: Option<String>,
    /// Whether ACLs count, and who owns new objects.
    pub ownership: catalog::ObjectOwnership,
    /// The bucket's ACL as stored (`None`: the owner's full control).
    pub acl: Option<Vec<catalog::AclGrant>>,
}

/// Each bucket's [`BucketAuth`], read from the catalog at most once a second per bucket (so the access check of a
/// request costs a read lock, not a catalog read). A change made through this node is seen at once
/// ([`BucketPolicies::forget`]); one made through another node of a cluster within [`BucketPolicies::TTL`].
pub struct BucketPolicies {
    core: std::sync::Arc<engine::Core>,
    cache: std::sync::RwLock<CacheMap>,
}

type CacheMap =
    std::collections::HashMap<String, (std::time::Instant, Option<std::sync::Arc<BucketAuth>>)>;

impl BucketPolicies {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(1);
    /// Buckets remembered at most (the map is cleared beyond it).
    const MAX_BUCKETS: usize = 10_000;

    pub fn new(core: std::sync::Arc<engine::Core>) -> BucketPolicies {
        BucketPolicies {
            core,
            cache: Default::default(),
        }
    }

    /// The tags of the current version of `bucket/key` (`s3:ExistingObjectTag`), `None` for a missing object or
    /// a catalog error (the condition then sees no tag).
    pub async fn object_tags(
        &self,
        bucket: &str,
        key: &str,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        self.object(bucket, key, None).await.map(|r| r.meta.tags)
    }

    /// The current version of `bucket/key`, or the version `version` names; `None` when there is none, for a delete
    /// marker, or on a catalog error.
    pub async fn object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Option<catalog::ObjectRecord> {
        let (b, k, v) = (
            bucket.to_owned(),
            key.to_owned(),
            version.map(str::to_owned),
        );
        self.core
            .with_catalog(move |c| match &v {
                Some(v) => c.get_version(&b, &k, v),
                None => c.get_object(&b, &k),
            })
            .await
            .ok()
            .flatten()
            .filter(|r| !r.delete_marker)
    }

    /// Whether the catalog says `bucket` does not exist (`false` on a catalog error: not known to be missing).
    pub async fn is_missing(&self, bucket: &str) -> bool {
        let name = bucket.to_owned();
        matches!(
            self.core.with_catalog(move |c| c.bucket(&name)).await,
            Ok(None)
        )
    }

    /// The bucket's [`BucketAuth`] (`None`: no such bucket, or the catalog failed: the caller falls back to the
    /// users' own access, which never grants more).
    pub async fn get(&self, bucket: &str) -> Option<std::sync::Arc<BucketAuth>> {
        if let Ok(cache) = self.cache.read()
            && let Some((at, auth)) = cache.get(bucket)
            && at.elapsed() < Self::TTL
        {
            return auth.clone();
        }
        let name = bucket.to_owned();
        let record = self
            .core
            .with_catalog(move |c| c.bucket(&name))
            .await
            .ok()
            .flatten();
        let auth = record.map(|r| {
            std::sync::Arc::new(BucketAuth {
                // Stored policies were checked when put; one that no longer parses grants nothing.
                policy: r
                    .policy
                    .as_deref()
                    .and_then(|doc| Policy::parse(doc, &r.name).ok()),
                restrict_public: r
                    .public_access_block
                    .is_some_and(|b| b.restrict_public_buckets),
                block_public_acls: r.public_access_block.is_some_and(|b| b.block_public_acls),
                ignore_public_acls: r.public_access_block.is_some_and(|b| b.ignore_public_acls),
                owner: r.owner,
                ownership: r.object_ownership,
                acl: r.acl,
            })
        });
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= Self::MAX_BUCKETS {
                cache.clear();
            }
            cache.insert(bucket.to_owned(), (std::time::Instant::now(), auth.clone()));
        }
        auth
    }

    /// Drops what is remembered of `bucket` (after this node changed its policy or public-access block).
    pub fn forget(&self, bucket: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(bucket);
        }
    }
}

impl super::StrataS3 {
    pub(super) async fn put_bucket_policy_impl(
        &self,
        req: s3s::S3Request<s3s::dto::PutBucketPolicyInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::PutBucketPolicyOutput>> {
        let i = req.input;
        let record = self.bucket_record(&i.bucket).await?;
        let policy = Policy::parse(&i.policy, &i.bucket)
            .map_err(|m| s3s::S3Error::with_message(s3s::S3ErrorCode::MalformedPolicy, m))?;
        if policy.is_public()
            && record
                .public_access_block
                .is_some_and(|b| b.block_public_policy)
        {
            return Err(s3s::s3_error!(
                AccessDenied,
                "Access Denied: the bucket's public access block forbids a public policy"
            ));
        }
        let document = i.policy;
        self.update_bucket_record(&i.bucket, move |b| b.policy = Some(document.clone()))
            .await?;
        Ok(s3s::S3Response::with_status(
            s3s::dto::PutBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn get_bucket_policy_impl(
        &self,
        req: s3s::S3Request<s3s::dto::GetBucketPolicyInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::GetBucketPolicyOutput>> {
        let record = self.bucket_record(&req.input.bucket).await?;
        match record.policy {
            Some(policy) => Ok(s3s::S3Response::new(s3s::dto::GetBucketPolicyOutput {
                policy: Some(policy),
            })),
            None => Err(s3s::s3_error!(
                NoSuchBucketPolicy,
                "The bucket policy does not exist"
            )),
        }
    }

    pub(super) async fn delete_bucket_policy_impl(
        &self,
        req: s3s::S3Request<s3s::dto::DeleteBucketPolicyInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::DeleteBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        self.update_bucket_record(&bucket, |b| b.policy = None)
            .await?;
        Ok(s3s::S3Response::with_status(
            s3s::dto::DeleteBucketPolicyOutput {},
            http::StatusCode::NO_CONTENT,
        ))
    }

    pub(super) async fn get_bucket_policy_status_impl(
        &self,
        req: s3s::S3Request<s3s::dto::GetBucketPolicyStatusInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::GetBucketPolicyStatusOutput>> {
        let record = self.bucket_record(&req.input.bucket).await?;
        let Some(document) = record.policy else {
            return Err(s3s::s3_error!(
                NoSuchBucketPolicy,
                "The bucket policy does not exist"
            ));
        };
        let public = Policy::parse(&document, &record.name).is_ok_and(|p| p.is_public());
        Ok(s3s::S3Response::new(
            s3s::dto::GetBucketPolicyStatusOutput {
                policy_status: Some(s3s::dto::PolicyStatus {
                    is_public: Some(public),
                }),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "photos";

    fn policy(statements: &str) -> Policy {
        Policy::parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#),
            B,
        )
        .unwrap()
    }

    #[test]
    fn wildcards_match_as_in_iam() {
        assert!(wildcard(
            "arn:aws:s3:::photos/*",
            "arn:aws:s3:::photos/a/b.jpg"
        ));
        assert!(!wildcard("arn:aws:s3:::photos/*", "arn:aws:s3:::photos"));
        assert!(wildcard("s3:get*", "s3:getobject"));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "ac"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn deny_wins_and_silence_is_not_allow() {
        let p = policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
                {"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::123:user/bob"]},"Action":"s3:*",
                 "Resource":["arn:aws:s3:::photos/private/*"]}]"#,
        );
        let get = "s3:GetObject";
        let cx = RequestContext::default();
        let public = resource_of(B, Some("public/a.jpg"));
        let private = resource_of(B, Some("private/a.jpg"));
        assert_eq!(
            p.decide(Caller::Anonymous, get, &public, &cx),
            Decision::Allow
        );
        assert_eq!(
            p.decide(Caller::User("bob"), get, &public, &cx),
            Decision::Allow
        );
        assert_eq!(
            p.decide(Caller::User("bob"), get, &private, &cx),
            Decision::Deny
        );
        assert_eq!(
            p.decide(Caller::User("alice"), get, &private, &cx),
            Decision::Allow
        );
        assert_eq!(
            p.decide(Caller::Anonymous, "s3:PutObject", &public, &cx),
            Decision::Silent
        );
        assert!(p.is_public());
    }

    #[test]
    fn unsupported_or_foreign_statements_are_refused() {
        for bad in [
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#,
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}"#,
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}"#,
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"Null":{"s3:x-amz-acl":"maybe"}}}"#,
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}"#,
            r#"{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#,
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#,
            r#"{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"arn:aws:s3:::photos/*"}"#,
            r#"{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:*","Resource":"arn:aws:s3:::photos"}"#,
        ] {
            let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{bad}]}}"#);
            assert!(Policy::parse(&doc, B).is_err(), "{bad}");
        }
        assert!(Policy::parse("not json", B).is_err());
        assert!(Policy::parse(r#"{"Version":"2012-10-17"}"#, B).is_err());
    }

    #[test]
    fn string_and_null_conditions_test_the_request_values() {
        let p = policy(
            r#"[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
                {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos",
                 "Condition":{"StringLike":{"s3:prefix":["public/*","shared/*"]}}},
                {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:PutObjectAcl","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"StringLikeIfExists":{"s3:x-amz-acl":"public*"}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"Null":{"s3:RequestObjectTag/keep":"false"}}}]"#,
        );
        let mut headers = http::HeaderMap::new();
        let obj = "arn:aws:s3:::photos/k";
        let decide = |action: &str, resource: &str, cx: &RequestContext| {
            p.decide(Caller::User("u"), action, resource, cx)
        };
        // A negated operator holds when the key is absent: a PUT without the header is denied.
        let cx = RequestContext {
            headers: Some(&headers),
            ..RequestContext::default()
        };
        assert_eq!(decide("s3:PutObject", obj, &cx), Decision::Deny);
        headers.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
        let cx = RequestContext {
            headers: Some(&headers),
            ..RequestContext::default()
        };
        assert_eq!(decide("s3:PutObject", obj, &cx), Decision::Silent);
        // Query values, URL-decoded, against wildcards; a positive operator without the key does not hold.
        let list = |q: &'static str| RequestContext {
            query: Some(q),
            ..RequestContext::default()
        };
        assert_eq!(
            decide(
                "s3:ListBucket",
                "arn:aws:s3:::photos",
                &list("list-type=2&prefix=public%2Fa")
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                "s3:ListBucket",
                "arn:aws:s3:::photos",
                &list("prefix=private/")
            ),
            Decision::Silent
        );
        assert_eq!(
            decide("s3:ListBucket", "arn:aws:s3:::photos", &list("list-type=2")),
            Decision::Silent
        );
        // The object's own tags.
        let mut tags = std::collections::BTreeMap::new();
        tags.insert("security".to_owned(), "public".to_owned());
        let tagged = RequestContext {
            existing_tags: Some(&tags),
            ..RequestContext::default()
        };
        assert_eq!(decide("s3:GetObject", obj, &tagged), Decision::Allow);
        assert_eq!(
            decide("s3:GetObject", obj, &RequestContext::default()),
            Decision::Silent
        );
        // IfExists: absent key holds; present key must match.
        assert_eq!(
            decide("s3:PutObjectAcl", obj, &RequestContext::default()),
            Decision::Deny
        );
        let mut acl = http::HeaderMap::new();
        acl.insert("x-amz-acl", "private".parse().unwrap());
        let cx = RequestContext {
            headers: Some(&acl),
            ..RequestContext::default()
        };
        assert_eq!(decide("s3:PutObjectAcl", obj, &cx), Decision::Silent);
        // Null false: the key must be present; request tags come from x-amz-tagging.
        assert_eq!(
            decide("s3:DeleteObject", obj, &RequestContext::default()),
            Decision::Silent
        );
        let mut t = http::HeaderMap::new();
        t.insert("x-amz-tagging", "a=1&keep=yes".parse().unwrap());
        let cx = RequestContext {
            headers: Some(&t),
            ..RequestContext::default()
        };
        assert_eq!(decide("s3:DeleteObject", obj, &cx), Decision::Deny);
        assert!(p.needs_existing_tags());
    }

    #[test]
    fn address_and_transport_conditions_gate_a_statement() {
        let p = policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"IpAddress":{"aws:SourceIp":["10.1.0.0/16","::1"]}}},
                {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*",
                 "Condition":{"Bool":{"aws:SecureTransport":"true"}}}]"#,
        );
        let r = resource_of(B, Some("a"));
        let at = |ip: &str| RequestContext {
            source_ip: Some(ip.parse().unwrap()),
            ..RequestContext::default()
        };
        let get = |cx: &RequestContext| p.decide(Caller::Anonymous, "s3:GetObject", &r, cx);
        assert_eq!(get(&at("10.1.200.3")), Decision::Allow);
        assert_eq!(get(&at("::ffff:10.1.0.9")), Decision::Allow);
        assert_eq!(get(&at("::1")), Decision::Allow);
        assert_eq!(get(&at("10.2.0.1")), Decision::Silent);
        assert_eq!(get(&RequestContext::default()), Decision::Silent);
        // Plain HTTP: the SecureTransport=true Deny never applies.
        assert!(!p.is_public(), "an address-limited Allow is not public");
        let inverse = policy(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*",
                "Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}"#,
        );
        let d = |ip: &str| inverse.decide(Caller::User("x"), "s3:GetObject", &r, &at(ip));
        assert_eq!(d("127.0.0.1"), Decision::Silent);
        assert_eq!(d("192.168.1.1"), Decision::Deny);
    }

    #[test]
    fn actions_follow_iam_names() {
        assert_eq!(action_of("HeadObject", false), "s3:GetObject");
        assert_eq!(action_of("GetObject", true), "s3:GetObjectVersion");
        assert_eq!(action_of("ListObjectsV2", false), "s3:ListBucket");
        assert_eq!(action_of("UploadPart", false), "s3:PutObject");
        assert_eq!(action_of("PutObjectTagging", false), "s3:PutObjectTagging");
    }
}
