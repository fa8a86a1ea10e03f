//! The S3 client: the official AWS SDK over plain HTTP, path-style.

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

use super::DriverError;

/// Connection settings.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `http://host:port` (plain HTTP only: this build has no TLS stack).
    pub url: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// SigV4 region.
    pub region: String,
    /// Per-operation timeout (the whole request, body included).
    pub op_timeout: Duration,
    /// Send flexible checksums (CRC32 trailers) on every upload, as recent
    /// SDKs do by default; off = only when an operation requires one,
    /// which every S3 implementation accepts.
    pub checksums: bool,
}

/// Builds a client: SigV4 with static credentials, path-style addressing,
/// no retries (a load test reports failures, it does not hide them), and
/// the operation timeout.
pub fn build(ep: &Endpoint) -> Result<aws_sdk_s3::Client, DriverError> {
    let scheme = ep.url.split("://").next().unwrap_or_default();
    if !ep.url.contains("://") || scheme != "http" {
        return Err(DriverError::Endpoint(format!(
            "{:?}: only http:// endpoints are supported (this build has no TLS stack)",
            ep.url
        )));
    }
    if ep.access_key.is_empty() || ep.secret_key.is_empty() {
        return Err(DriverError::Endpoint(
            "credentials missing: pass --access-key/--secret-key or set \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                .into(),
        ));
    }
    let creds = Credentials::new(
        &ep.access_key,
        &ep.secret_key,
        None,
        None,
        "strata-loadtest",
    );
    let http = aws_smithy_http_client::Builder::new().build_http();
    let (req_ck, resp_ck) = if ep.checksums {
        (
            RequestChecksumCalculation::WhenSupported,
            ResponseChecksumValidation::WhenSupported,
        )
    } else {
        (
            RequestChecksumCalculation::WhenRequired,
            ResponseChecksumValidation::WhenRequired,
        )
    };
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(ep.region.clone()))
        .endpoint_url(ep.url.trim_end_matches('/'))
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(ep.op_timeout)
                .connect_timeout(Duration::from_secs(5))
                .build(),
        )
        .request_checksum_calculation(req_ck)
        .response_checksum_validation(resp_ck)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(conf))
}
