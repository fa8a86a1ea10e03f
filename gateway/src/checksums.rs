//! Integrity checks on uploaded bodies: Content-MD5 and the flexible `x-amz-checksum-*` family.
//!
//! s3s verifies the SigV4 payload hash but passes `Content-MD5`, `x-amz-checksum-*` headers and aws-chunked
//! trailer checksums through unchecked, so the gateway computes them while streaming and compares at the end,
//! before anything becomes visible.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders, s3_error};

/// The checksum algorithms S3 defines, with their header names.
pub const ALGORITHMS: [(&str, &str); 5] = [
    ("CRC32", "x-amz-checksum-crc32"),
    ("CRC32C", "x-amz-checksum-crc32c"),
    ("SHA1", "x-amz-checksum-sha1"),
    ("SHA256", "x-amz-checksum-sha256"),
    ("CRC64NVME", "x-amz-checksum-crc64nvme"),
];

/// What the client asked us to verify, gathered before the body is read.
#[derive(Default)]
pub struct Expectations {
    /// Decoded Content-MD5.
    pub content_md5: Option<[u8; 16]>,
    /// Algorithm name → expected base64 value, from headers.
    pub headers: BTreeMap<&'static str, String>,
    /// Algorithms whose value arrives in the aws-chunked trailer.
    pub trailer: Vec<&'static str>,
    /// Algorithms to compute and store even without an expected value (x-amz-sdk-checksum-algorithm).
    pub compute: Vec<&'static str>,
}

impl Expectations {
    /// Reads Content-MD5, `x-amz-checksum-*`, `x-amz-trailer` and the checksum algorithm from the request.
    /// A malformed Content-MD5 is `InvalidDigest`; an unknown algorithm is `InvalidRequest`.
    pub fn from_request(
        headers: &HeaderMap,
        content_md5: Option<&str>,
        algorithm: Option<&str>,
    ) -> S3Result<Expectations> {
        let mut e = Expectations::default();
        if let Some(md5) = content_md5 {
            let raw = B64
                .decode(md5.trim())
                .map_err(|_| s3_error!(InvalidDigest, "Content-MD5 is not valid base64"))?;
            let arr: [u8; 16] = raw
                .try_into()
                .map_err(|_| s3_error!(InvalidDigest, "Content-MD5 must be 16 bytes"))?;
            e.content_md5 = Some(arr);
        }
        for (name, header) in ALGORITHMS {
            if let Some(v) = headers.get(header) {
                let v = v
                    .to_str()
                    .map_err(|_| s3_error!(InvalidRequest, "invalid {header} header"))?;
                e.headers.insert(name, v.trim().to_owned());
            }
        }
        if let Some(t) = headers.get("x-amz-trailer") {
            let t = t
                .to_str()
                .map_err(|_| s3_error!(InvalidRequest, "invalid x-amz-trailer header"))?;
            for item in t.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let algo = ALGORITHMS
                    .iter()
                    .find(|(_, h)| h.eq_ignore_ascii_case(item))
                    .map(|(n, _)| *n)
                    .ok_or_else(|| s3_error!(InvalidRequest, "unsupported trailer {item}"))?;
                e.trailer.push(algo);
            }
        }
        if let Some(a) = algorithm {
            let algo = ALGORITHMS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(a))
                .map(|(n, _)| *n)
                .ok_or_else(|| s3_error!(InvalidRequest, "unsupported checksum algorithm {a}"))?;
            e.compute.push(algo);
        }
        Ok(e)
    }

    /// A hasher computing every algorithm that is expected or requested.
    pub fn hasher(&self) -> ChecksumHasher {
        let mut h = ChecksumHasher::default();
        let all = self
            .headers
            .keys()
            .copied()
            .chain(self.trailer.iter().copied())
            .chain(self.compute.iter().copied());
        for algo in all {
            match algo {
                "CRC32" => h.crc32 = Some(Default::default()),
                "CRC32C" => h.crc32c = Some(Default::default()),
                "SHA1" => h.sha1 = Some(Default::default()),
                "SHA256" => h.sha256 = Some(Default::default()),
                _ => h.crc64nvme = Some(Default::default()),
            }
        }
        h
    }

    /// Compares what was computed with what was expected (headers now, trailer values from `trailers`).
    /// Returns the checksums to store with the object (algorithm → base64).
    pub fn verify(
        &self,
        md5: &[u8; 16],
        computed: &Checksum,
        trailers: Option<&TrailingHeaders>,
    ) -> S3Result<BTreeMap<String, String>> {
        if let Some(expected) = self.content_md5
            && &expected != md5
        {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
        let mut expected = self.headers.clone();
        if !self.trailer.is_empty() {
            let map = trailers.and_then(TrailingHeaders::take).unwrap_or_default();
            for algo in &self.trailer {
                let header = header_of(algo);
                let v = map
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        s3_error!(
                            IncompleteBody,
                            "the trailer {header} was announced but not sent"
                        )
                    })?;
                expected.insert(algo, v.trim().to_owned());
            }
        }
        let mut stored = BTreeMap::new();
        for (algo, want) in &expected {
            let got = value_of(computed, algo).unwrap_or_default();
            if got != *want {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!("The {algo} you specified did not match the calculated checksum."),
                ));
            }
            stored.insert((*algo).to_owned(), got);
        }
        for algo in &self.compute {
            if let Some(v) = value_of(computed, algo) {
                stored.entry((*algo).to_owned()).or_insert(v);
            }
        }
        Ok(stored)
    }
}

fn header_of(algo: &str) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(n, _)| *n == algo)
        .map(|(_, h)| *h)
        .unwrap_or("x-amz-checksum-crc32")
}

fn value_of(c: &Checksum, algo: &str) -> Option<String> {
    match algo {
        "CRC32" => c.checksum_crc32.clone(),
        "CRC32C" => c.checksum_crc32c.clone(),
        "SHA1" => c.checksum_sha1.clone(),
        "SHA256" => c.checksum_sha256.clone(),
        "CRC64NVME" => c.checksum_crc64nvme.clone(),
        _ => None,
    }
}

/// Stored checksums as the s3s output struct (for GET/HEAD with checksum mode enabled), with their type: a
/// multipart object's composite checksum (`value-N`) is `COMPOSITE`, any other `FULL_OBJECT`.
pub fn to_dto(stored: &BTreeMap<String, String>) -> Checksum {
    let kind = stored.values().next().map(|v| {
        s3s::dto::ChecksumType::from_static(if v.contains('-') {
            s3s::dto::ChecksumType::COMPOSITE
        } else {
            s3s::dto::ChecksumType::FULL_OBJECT
        })
    });
    Checksum {
        checksum_crc32: stored.get("CRC32").cloned(),
        checksum_crc32c: stored.get("CRC32C").cloned(),
        checksum_sha1: stored.get("SHA1").cloned(),
        checksum_sha256: stored.get("SHA256").cloned(),
        checksum_crc64nvme: stored.get("CRC64NVME").cloned(),
        checksum_type: kind,
    }
}

/// S3's composite checksum of a multipart object: `algorithm` over the concatenated binary checksums of its parts
/// (base64 as stored), in base64, then `-N` for N parts. `None` for CRC64NVME (S3 keeps full-object checksums
/// only for it) or a part checksum that is not base64.
pub fn composite(algorithm: &str, parts: &[&str]) -> Option<String> {
    use s3s::crypto::{Checksum as _, Crc32, Crc32c, Sha1, Sha256};
    let mut raw = Vec::new();
    for p in parts {
        raw.extend(B64.decode(p).ok()?);
    }
    let digest = match algorithm {
        "CRC32" => Crc32::checksum(&raw).to_vec(),
        "CRC32C" => Crc32c::checksum(&raw).to_vec(),
        "SHA1" => Sha1::checksum(&raw).to_vec(),
        "SHA256" => Sha256::checksum(&raw).to_vec(),
        _ => return None,
    };
    Some(format!("{}-{}", B64.encode(digest), parts.len()))
}

/// S3's full-object checksum of a multipart object (`ChecksumType: FULL_OBJECT`, the CRCs only): the CRC of the
/// whole object, combined from its parts' CRCs (base64 as stored) and sizes, in order. `None` for another algorithm
/// or a part checksum that is not the base64 of a CRC of the algorithm's width.
pub fn full_object(algorithm: &str, parts: &[(&str, u64)]) -> Option<String> {
    use crc_fast::CrcAlgorithm;
    let (crc, width) = match algorithm {
        "CRC32" => (CrcAlgorithm::Crc32IsoHdlc, 4),
        "CRC32C" => (CrcAlgorithm::Crc32Iscsi, 4),
        "CRC64NVME" => (CrcAlgorithm::Crc64Nvme, 8),
        _ => return None,
    };
    let mut whole: Option<u64> = None;
    for (sum, len) in parts {
        let raw = B64.decode(sum).ok().filter(|r| r.len() == width)?;
        let value = raw.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
        whole = Some(match whole {
            None => value,
            Some(before) => crc_fast::checksum_combine(crc, before, value, *len),
        });
    }
    let bytes = whole?.to_be_bytes();
    Some(B64.encode(&bytes[8 - width..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::crypto::{Checksum as _, Md5};

    #[test]
    fn full_object_crcs_combine_the_parts() {
        use s3s::crypto::{Crc32, Crc32c, Crc64Nvme};
        let (a, b) = (b"the first part, ".as_slice(), b"and the second".as_slice());
        let whole = [a, b].concat();
        type Sum = fn(&[u8]) -> Vec<u8>;
        let cases: [(&str, Sum); 3] = [
            ("CRC32", |d| Crc32::checksum(d).to_vec()),
            ("CRC32C", |d| Crc32c::checksum(d).to_vec()),
            ("CRC64NVME", |d| Crc64Nvme::checksum(d).to_vec()),
        ];
        for (algo, sum) in cases {
            let (pa, pb) = (B64.encode(sum(a)), B64.encode(sum(b)));
            let got = full_object(algo, &[(&pa, a.len() as u64), (&pb, b.len() as u64)]);
            assert_eq!(got, Some(B64.encode(sum(&whole))), "{algo}");
            assert_eq!(
                full_object(algo, &[(&pa, a.len() as u64)]),
                Some(pa.clone())
            );
        }
        assert_eq!(full_object("SHA256", &[("AAAA", 3)]), None);
        assert_eq!(full_object("CRC32", &[("AAAAAAAAAAA=", 3)]), None);
    }

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::checksum(data)
    }

    #[test]
    fn matching_header_checksum_is_stored() {
        let mut h = HeaderMap::new();
        // CRC32 of "hello world" is 0x0d4a1185.
        h.insert("x-amz-checksum-crc32", "DUoRhQ==".parse().unwrap());
        let e = Expectations::from_request(&h, None, None).unwrap();
        let mut hasher = e.hasher();
        hasher.update(b"hello world");
        let stored = e
            .verify(&md5(b"hello world"), &hasher.finalize(), None)
            .unwrap();
        assert_eq!(stored.get("CRC32").map(String::as_str), Some("DUoRhQ=="));
    }

    #[test]
    fn wrong_header_checksum_is_bad_digest() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "AAAAAA==".parse().unwrap());
        let e = Expectations::from_request(&h, None, None).unwrap();
        let mut hasher = e.hasher();
        hasher.update(b"hello world");
        let err = e
            .verify(&md5(b"hello world"), &hasher.finalize(), None)
            .unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::BadDigest);
    }

    #[test]
    fn content_md5_mismatch_and_malformed() {
        let good = B64.encode(md5(b"abc"));
        let e = Expectations::from_request(&HeaderMap::new(), Some(&good), None).unwrap();
        assert!(e.verify(&md5(b"abc"), &Checksum::default(), None).is_ok());
        let err = e
            .verify(&md5(b"abd"), &Checksum::default(), None)
            .unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::BadDigest);
        let err = Expectations::from_request(&HeaderMap::new(), Some("not base64!"), None)
            .err()
            .unwrap();
        assert_eq!(*err.code(), S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn announced_trailer_that_never_came_is_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-trailer", "x-amz-checksum-crc32c".parse().unwrap());
        let e = Expectations::from_request(&h, None, None).unwrap();
        let err = e
            .verify(&md5(b""), &e.hasher().finalize(), None)
            .unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::IncompleteBody);
    }
}
