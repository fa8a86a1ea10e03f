//! Virtual-hosted-style addressing: `bucket.DOMAIN[:port]` for the configured domains.
//!
//! s3s's `MultiDomain` compares the Host header with the port still attached, so `bucket.s3.local:9000` never
//! matches `s3.local`, and it treats any other valid host name as a bucket (CNAME style). Clients reach a
//! gateway on a port, and a host we do not know (say `localhost`) should mean path style, so this parser strips
//! the port and falls back to path style.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The configured base domains.
#[derive(Debug, Clone)]
pub struct Domains(Vec<String>);

impl Domains {
    /// Lower-cases the domains; refuses empty ones and ones that contain a port or a slash.
    pub fn new(domains: &[String]) -> Result<Domains, String> {
        let mut v = Vec::new();
        for d in domains {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if d.is_empty() || d.contains(['/', ':', ' ']) {
                return Err(format!(
                    "invalid domain {d:?}: expected a host name such as s3.example.com"
                ));
            }
            v.push(d);
        }
        Ok(Domains(v))
    }

    /// The bucket a Host header names, if it is a subdomain of a configured domain.
    pub fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        self.0.iter().find_map(|d| {
            let prefix = name.len().checked_sub(d.len() + 1)?;
            let (bucket, rest) = name.split_at(prefix);
            (rest.len() == d.len() + 1
                && rest.as_bytes()[0] == b'.'
                && rest[1..].eq_ignore_ascii_case(d)
                && !bucket.is_empty())
            .then_some(bucket)
        })
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p))
            if !h.is_empty() && !h.ends_with(']') && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        match self.bucket_of(host) {
            Some(bucket) => {
                Ok(VirtualHost::new(strip_port(host)).with_bucket(bucket.to_ascii_lowercase()))
            }
            None => Ok(VirtualHost::new(strip_port(host))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_subdomains_with_or_without_port() {
        let d = Domains::new(&["s3.local".to_owned()]).unwrap();
        assert_eq!(d.bucket_of("photos.s3.local:9000"), Some("photos"));
        assert_eq!(
            d.bucket_of("my.dotted.bucket.s3.local"),
            Some("my.dotted.bucket")
        );
        assert_eq!(d.bucket_of("s3.local:9000"), None);
        assert_eq!(d.bucket_of("localhost:9000"), None);
        assert_eq!(d.bucket_of("evils3.local"), None);
        assert!(Domains::new(&["s3.local:9000".to_owned()]).is_err());
    }
}
