//! Bucket lifecycle rules through the AWS SDK against the real binary on its test clock: the configuration is
//! checked, stored and answered back; passes (`POST /admin/lifecycle/run`) expire current versions at S3's
//! midnight, delete noncurrent versions after their days (keeping the newest ones asked for), remove lone delete
//! markers, abort old multipart uploads, and leave what Object Lock holds.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Transition, TransitionStorageClass, VersioningConfiguration,
};
use common::{Gateway, json};
use serde_json::Value;

const DAY_MS: i64 = 86_400_000;

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

fn expire_after(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .expect("config")
}

/// PutBucketLifecycleConfiguration of `rules` on `bucket`: `Ok`, or the S3 error code it was refused with.
async fn set_rules(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    rules: Vec<LifecycleRule>,
) -> Result<(), String> {
    c.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config(rules))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or("(no code)").to_owned())
}

fn advance(g: &Gateway, ms: i64) {
    let (status, b) = g
        .admin_request(
            "POST",
            "/admin/test/clock",
            &format!(r#"{{"advance_ms": {ms}}}"#),
        )
        .expect("clock");
    assert_eq!(status, 200, "{b}");
}

fn run_pass(g: &Gateway) -> Value {
    let (status, b) = g
        .admin_request("POST", "/admin/lifecycle/run", "")
        .expect("lifecycle");
    assert_eq!(status, 200, "{b}");
    json(&b)
}

/// The gateway's clock now (ms).
fn now_ms(g: &Gateway) -> i64 {
    let (_, b) = g.admin_get("/admin/health").expect("health");
    json(&b)["now_ms"].as_i64().expect("now_ms")
}

/// Moves the clock to `hours` past the next midnight UTC.
fn to_next_midnight_plus(g: &Gateway, hours: i64) {
    let now = now_ms(g);
    let next = (now.div_euclid(DAY_MS) + 1) * DAY_MS;
    advance(g, next - now + hours * 3_600_000);
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) -> Option<String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .expect("put")
        .version_id
}

async fn exists(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    match c.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(404), "{e:?}");
            false
        }
    }
}

/// `(key, version id, is delete marker)` of every version, in listing order.
async fn versions(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String, bool)> {
    let out = c
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .expect("versions");
    let mut v: Vec<(String, String, bool)> = out
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
                false,
            )
        })
        .chain(out.delete_markers().iter().map(|m| {
            (
                m.key().unwrap_or_default().to_owned(),
                m.version_id().unwrap_or_default().to_owned(),
                true,
            )
        }))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_are_checked_stored_and_answered_back() {
    let g = Gateway::start_with(&[("STRATA_TEST_CLOCK", "1")]);
    let c = g.client();
    c.create_bucket()
        .bucket("cfg")
        .send()
        .await
        .expect("bucket");

    let err = c
        .get_bucket_lifecycle_configuration()
        .bucket("cfg")
        .send()
        .await
        .expect_err("no configuration yet");
    assert_eq!(err.code(), Some("NoSuchLifecycleConfiguration"));

    let given = vec![
        rule("logs", "logs/")
            .expiration(expire_after(30))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build()
            .expect("rule"),
        rule("old-versions", "")
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(10)
                    .newer_noncurrent_versions(2)
                    .build(),
            )
            .build()
            .expect("rule"),
    ];
    set_rules(&c, "cfg", given.clone())
        .await
        .expect("put configuration");
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("cfg")
        .send()
        .await
        .expect("get configuration");
    assert_eq!(got.rules(), given.as_slice());

    // Refused with S3's codes, and the stored configuration is untouched.
    let refused = [
        (
            rule("zero", "").expiration(expire_after(0)),
            "InvalidArgument",
        ),
        (
            rule("transition", "").transitions(
                Transition::builder()
                    .days(30)
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            ),
            "NotImplemented",
        ),
        (rule("no-action", ""), "InvalidRequest"),
    ];
    for (r, code) in refused {
        let err = set_rules(&c, "cfg", vec![r.build().expect("rule")])
            .await
            .expect_err(code);
        assert_eq!(err, code);
    }
    let err = set_rules(
        &c,
        "cfg",
        vec![
            rule("same", "a")
                .expiration(expire_after(1))
                .build()
                .expect("rule"),
            rule("same", "b")
                .expiration(expire_after(1))
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect_err("duplicate ids");
    assert_eq!(err, "InvalidArgument");
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("cfg")
        .send()
        .await
        .expect("still there");
    assert_eq!(got.rules().len(), 2);

    c.delete_bucket_lifecycle()
        .bucket("cfg")
        .send()
        .await
        .expect("delete configuration");
    let err = c
        .get_bucket_lifecycle_configuration()
        .bucket("cfg")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(err.code(), Some("NoSuchLifecycleConfiguration"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_uploads_expire_at_midnight_after_their_days() {
    let g = Gateway::start_with_config_env(
        "[lifecycle]\ninterval_secs = 0\n",
        &[("STRATA_TEST_CLOCK", "1")],
    );
    let c = g.client();
    c.create_bucket()
        .bucket("lcb")
        .send()
        .await
        .expect("bucket");
    // Written at 01:00 UTC of some day: two days later is due at the midnight after.
    to_next_midnight_plus(&g, 1);
    for k in ["logs/a", "logs/b", "keep/c"] {
        put(&c, "lcb", k, k).await;
    }
    let upload = c
        .create_multipart_upload()
        .bucket("lcb")
        .key("logs/big")
        .send()
        .await
        .expect("upload");
    set_rules(
        &c,
        "lcb",
        vec![
            rule("logs", "logs/")
                .expiration(expire_after(2))
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(2)
                        .build(),
                )
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("configuration");

    // Two days later at 23:00: not yet (S3 rounds up to the next midnight).
    advance(&g, 2 * DAY_MS + 22 * 3_600_000);
    let r = run_pass(&g);
    assert_eq!(r["expired"], 0, "{r}");
    assert_eq!(r["uploads_aborted"], 0, "{r}");
    assert!(exists(&c, "lcb", "logs/a").await);

    // Past that midnight: the prefix's objects and the upload go, the rest stays.
    advance(&g, 2 * 3_600_000);
    let r = run_pass(&g);
    assert_eq!(r["buckets"], 1, "{r}");
    assert_eq!(r["expired"], 2, "{r}");
    assert_eq!(r["uploads_aborted"], 1, "{r}");
    assert!(!exists(&c, "lcb", "logs/a").await);
    assert!(!exists(&c, "lcb", "logs/b").await);
    assert!(exists(&c, "lcb", "keep/c").await);
    let uploads = c
        .list_multipart_uploads()
        .bucket("lcb")
        .send()
        .await
        .expect("uploads");
    assert!(uploads.uploads().is_empty(), "{uploads:?}");
    let err = c
        .upload_part()
        .bucket("lcb")
        .key("logs/big")
        .upload_id(upload.upload_id().expect("id"))
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("aborted");
    assert_eq!(err.code(), Some("NoSuchUpload"));

    // A write after the rule's day is new: it has its own two days.
    put(&c, "lcb", "logs/a", "again").await;
    let r = run_pass(&g);
    assert_eq!(r["expired"], 0, "{r}");
    assert!(exists(&c, "lcb", "logs/a").await);

    // A disabled rule does nothing.
    set_rules(
        &c,
        "lcb",
        vec![
            rule("logs", "logs/")
                .status(ExpirationStatus::Disabled)
                .expiration(expire_after(1))
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("configuration");
    advance(&g, 5 * DAY_MS);
    let r = run_pass(&g);
    assert_eq!(r["buckets"], 0, "{r}");
    assert!(exists(&c, "lcb", "logs/a").await);

    let (_, b) = g.admin_get("/admin/lifecycle").expect("status");
    let status = json(&b);
    assert_eq!(status["passes"], 4, "{status}");
    assert_eq!(status["total"]["expired"], 2, "{status}");
    let (_, metrics) = g.admin_get("/metrics").expect("metrics");
    for line in [
        "strata_lifecycle_total{action=\"expired\"} 2",
        "strata_lifecycle_total{action=\"uploads_aborted\"} 1",
        "strata_lifecycle_total{action=\"errors\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_expire_noncurrent_ones_go_and_lone_markers_are_removed() {
    let g = Gateway::start_with_config_env(
        "[lifecycle]\ninterval_secs = 0\n",
        &[("STRATA_TEST_CLOCK", "1")],
    );
    let c = g.client();
    c.create_bucket()
        .bucket("lcv")
        .send()
        .await
        .expect("bucket");
    c.put_bucket_versioning()
        .bucket("lcv")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    set_rules(
        &c,
        "lcv",
        vec![
            rule("expire", "k")
                .expiration(expire_after(1))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(1)
                        .build(),
                )
                .build()
                .expect("rule"),
            rule("old", "m/")
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .expect("rule"),
            rule("markers", "m/")
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .expect("rule"),
            rule("tmp", "tmp/")
                .expiration(expire_after(1))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("configuration");
    to_next_midnight_plus(&g, 1);
    let v1 = put(&c, "lcv", "k", "one").await.expect("v1");
    let v2 = put(&c, "lcv", "k", "two").await.expect("v2");
    let v3 = put(&c, "lcv", "k", "three").await.expect("v3");
    for key in ["m/x", "tmp/x"] {
        put(&c, "lcv", key, "gone soon").await.expect("put");
        c.delete_object()
            .bucket("lcv")
            .key(key)
            .send()
            .await
            .expect("delete");
    }

    // One day has not passed yet: nothing.
    advance(&g, 12 * 3_600_000);
    let r = run_pass(&g);
    assert_eq!(
        (&r["expired"], &r["noncurrent_deleted"]),
        (&Value::from(0), &Value::from(0)),
        "{r}"
    );

    // Two days on: `k`'s current version expires under a delete marker; the versions of `m/x` and `tmp/x`,
    // noncurrent under the client's markers for two days, go.
    advance(&g, 36 * 3_600_000);
    let r = run_pass(&g);
    assert_eq!(r["expired"], 1, "{r}");
    assert_eq!(r["noncurrent_deleted"], 2, "{r}");
    assert!(!exists(&c, "lcv", "k").await);

    // The next pass: of `k`'s noncurrent versions the newest (v3, noncurrent only since the marker) is kept
    // (NewerNoncurrentVersions = 1) and the two older ones go; the markers of `m/x` (ExpiredObjectDeleteMarker)
    // and `tmp/x` (an expiration after a day, and the marker is two days old) are alone now and go.
    let r = run_pass(&g);
    assert_eq!(r["noncurrent_deleted"], 2, "{r}");
    assert_eq!(r["delete_markers_removed"], 2, "{r}");
    let left = versions(&c, "lcv").await;
    let ids: Vec<&str> = left.iter().filter(|v| !v.2).map(|v| v.1.as_str()).collect();
    assert_eq!(ids, vec![v3.as_str()], "{left:?}");
    assert!(!ids.contains(&v1.as_str()) && !ids.contains(&v2.as_str()));
    assert_eq!(
        left.iter()
            .filter(|v| v.2)
            .map(|v| v.0.as_str())
            .collect::<Vec<_>>(),
        vec!["k"],
        "only k's marker is left"
    );
    // Nothing more is due: the kept version stays however long.
    advance(&g, 10 * DAY_MS);
    let r = run_pass(&g);
    assert_eq!(r["noncurrent_deleted"], 0, "{r}");
    assert_eq!(versions(&c, "lcv").await, left);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_object_lock_holds_is_left_and_counted() {
    let g = Gateway::start_with_config_env(
        "[lifecycle]\ninterval_secs = 0\n",
        &[("STRATA_TEST_CLOCK", "1")],
    );
    let c = g.client();
    c.create_bucket()
        .bucket("locked")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("bucket");
    set_rules(
        &c,
        "locked",
        vec![
            rule("old", "")
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("configuration");
    let held = put(&c, "locked", "doc", "v1").await.expect("held");
    let free = put(&c, "locked", "other", "v1").await.expect("free");
    put(&c, "locked", "doc", "v2").await;
    put(&c, "locked", "other", "v2").await;
    c.put_object_legal_hold()
        .bucket("locked")
        .key("doc")
        .version_id(&held)
        .legal_hold(
            aws_sdk_s3::types::ObjectLockLegalHold::builder()
                .status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .expect("legal hold");
    advance(&g, 3 * DAY_MS);
    let r = run_pass(&g);
    assert_eq!(r["locked"], 1, "{r}");
    assert_eq!(r["noncurrent_deleted"], 1, "{r}");
    let left = versions(&c, "locked").await;
    assert!(left.iter().any(|v| v.1 == held), "{left:?}");
    assert!(!left.iter().any(|v| v.1 == free), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_versioning_suspended_an_expiry_replaces_the_null_version_by_a_null_marker() {
    let g = Gateway::start_with_config_env(
        "[lifecycle]\ninterval_secs = 0\n",
        &[("STRATA_TEST_CLOCK", "1")],
    );
    let c = g.client();
    c.create_bucket()
        .bucket("lcs")
        .send()
        .await
        .expect("bucket");
    let versioning = |status| {
        c.put_bucket_versioning()
            .bucket("lcs")
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
    };
    versioning(BucketVersioningStatus::Enabled)
        .await
        .expect("enable");
    let kept = put(&c, "lcs", "k", "versioned").await.expect("version id");
    versioning(BucketVersioningStatus::Suspended)
        .await
        .expect("suspend");
    put(&c, "lcs", "k", "null version").await;
    set_rules(
        &c,
        "lcs",
        vec![
            rule("all", "")
                .expiration(expire_after(1))
                .build()
                .expect("rule"),
        ],
    )
    .await
    .expect("configuration");
    advance(&g, 3 * DAY_MS);
    let r = run_pass(&g);
    assert_eq!(r["expired"], 1, "{r}");
    assert!(!exists(&c, "lcs", "k").await);
    // S3's suspended bucket: the `null` version is gone, a `null` delete marker is current, the older version stays.
    assert_eq!(
        versions(&c, "lcs").await,
        vec![
            ("k".to_owned(), kept.clone(), false),
            ("k".to_owned(), "null".to_owned(), true),
        ]
    );
    // Expiration touches current versions only: the next pass does nothing.
    let r = run_pass(&g);
    assert_eq!(
        (r["expired"].as_u64(), r["noncurrent_deleted"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}
