//! End to end with the official AWS Rust SDK against the real `strata` binary.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use common::Gateway;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 11) as u8))
        .collect()
}

async fn body_bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body
        .collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_round_trips_with_metadata_ranges_listing_and_copy() {
    let g = Gateway::start();
    let c = g.client();
    c.create_bucket()
        .bucket("sdk")
        .send()
        .await
        .expect("create bucket");

    let data = pattern(3 * 1024 * 1024 + 17, 7);
    let put = c
        .put_object()
        .bucket("sdk")
        .key("dir/a.bin")
        .content_type("application/x-test")
        .cache_control("max-age=60")
        .metadata("colour", "blue")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");
    let expected_etag = format!("\"{:x}\"", md5_of(&data));
    assert_eq!(put.e_tag(), Some(expected_etag.as_str()));

    let got = c
        .get_object()
        .bucket("sdk")
        .key("dir/a.bin")
        .send()
        .await
        .expect("get");
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );
    assert_eq!(body_bytes(got).await, data);

    // A range that crosses the 1 MiB frame boundary.
    let start = 1024 * 1024 - 10;
    let ranged = c
        .get_object()
        .bucket("sdk")
        .key("dir/a.bin")
        .range(format!("bytes={}-{}", start, start + 99))
        .send()
        .await
        .expect("ranged get");
    assert_eq!(
        ranged.content_range(),
        Some(format!("bytes {}-{}/{}", start, start + 99, data.len()).as_str())
    );
    assert_eq!(body_bytes(ranged).await, data[start..start + 100]);

    for k in ["dir/b", "dir/sub/c", "top"] {
        c.put_object()
            .bucket("sdk")
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put small");
    }
    let list = c
        .list_objects_v2()
        .bucket("sdk")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .expect("list");
    let keys: Vec<_> = list.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = list
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["dir/a.bin", "dir/b"]);
    assert_eq!(prefixes, ["dir/sub/"]);

    c.create_bucket()
        .bucket("sdk-copy")
        .send()
        .await
        .expect("second bucket");
    c.copy_object()
        .bucket("sdk-copy")
        .key("copied")
        .copy_source("sdk/dir/a.bin")
        .send()
        .await
        .expect("copy across buckets");
    let copied = c
        .get_object()
        .bucket("sdk-copy")
        .key("copied")
        .send()
        .await
        .expect("get copy");
    assert_eq!(
        copied
            .metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );
    assert_eq!(body_bytes(copied).await, data);

    c.delete_object()
        .bucket("sdk")
        .key("top")
        .send()
        .await
        .expect("delete");
    let err = c
        .head_object()
        .bucket("sdk")
        .key("top")
        .send()
        .await
        .expect_err("deleted object is gone");
    assert!(err.into_service_error().is_not_found());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_has_s3_etag_and_reads_across_parts() {
    let g = Gateway::start();
    let c = g.client();
    c.create_bucket()
        .bucket("mpu")
        .send()
        .await
        .expect("create bucket");
    let p1 = pattern(5 * 1024 * 1024, 1);
    let p2 = pattern(123_457, 2);
    let up = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("big")
        .send()
        .await
        .expect("create mpu");
    let id = up.upload_id().expect("upload id").to_owned();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let r = c
            .upload_part()
            .bucket("mpu")
            .key("big")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .expect("upload part");
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap_or_default())
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let mut concat = Vec::new();
    concat.extend_from_slice(&md5_of(&p1).0);
    concat.extend_from_slice(&md5_of(&p2).0);
    let expected = format!("\"{:x}-2\"", md5_of(&concat));
    assert_eq!(done.e_tag(), Some(expected.as_str()));

    let mut whole = p1.clone();
    whole.extend_from_slice(&p2);
    let start = p1.len() - 5;
    let r = c
        .get_object()
        .bucket("mpu")
        .key("big")
        .range(format!("bytes={}-{}", start, start + 9))
        .send()
        .await
        .expect("range across parts");
    assert_eq!(body_bytes(r).await, whole[start..start + 10]);
    let part2 = c
        .get_object()
        .bucket("mpu")
        .key("big")
        .part_number(2)
        .send()
        .await
        .expect("get part 2");
    assert_eq!(part2.parts_count(), Some(2));
    assert_eq!(body_bytes(part2).await, p2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flexible_checksums_are_verified_and_returned() {
    let g = Gateway::start();
    let c = g.client();
    c.create_bucket()
        .bucket("sums")
        .send()
        .await
        .expect("create bucket");
    let data = pattern(200_000, 9);
    let put = c
        .put_object()
        .bucket("sums")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put with crc32c");
    let sent = put
        .checksum_crc32_c()
        .expect("gateway echoes the checksum")
        .to_owned();
    // The SDK validates the returned checksum against the body when checksum mode is enabled.
    let got = c
        .get_object()
        .bucket("sums")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(got.checksum_crc32_c(), Some(sent.as_str()));
    assert_eq!(body_bytes(got).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused() {
    let g = Gateway::start();
    let wrong_secret = g.client_with(common::ACCESS_KEY, "not-the-secret-at-all");
    let err = wrong_secret
        .list_buckets()
        .send()
        .await
        .expect_err("wrong secret");
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("SignatureDoesNotMatch")
    );
    let unknown = g.client_with("nobody", "whatever-secret");
    let err = unknown
        .list_buckets()
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidAccessKeyId")
    );
}

/// MD5 via s3s, the same implementation the gateway uses for ETags.
struct Md5Digest([u8; 16]);

impl std::fmt::LowerHex for Md5Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn md5_of(data: &[u8]) -> Md5Digest {
    use s3s::crypto::Checksum as _;
    Md5Digest(s3s::crypto::Md5::checksum(data))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_users_can_read_but_not_write() {
    let g = Gateway::start_with_config(
        "[[users]]\naccess_key = \"reader\"\nsecret_key = \"reader-secret-123\"\naccess = \"read-only\"\n",
    );
    let root = g.client();
    root.create_bucket()
        .bucket("shared")
        .send()
        .await
        .expect("create");
    root.put_object()
        .bucket("shared")
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect("put");
    let reader = g.client_with("reader", "reader-secret-123");
    let got = reader
        .get_object()
        .bucket("shared")
        .key("k")
        .send()
        .await
        .expect("reader may read");
    assert_eq!(body_bytes(got).await, b"v");
    let listed = reader
        .list_objects_v2()
        .bucket("shared")
        .send()
        .await
        .expect("reader may list");
    assert_eq!(listed.key_count(), Some(1));
    let err = reader
        .put_object()
        .bucket("shared")
        .key("k2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("reader may not write");
    assert_eq!(err.into_service_error().meta().code(), Some("AccessDenied"));
    let err = reader
        .delete_object()
        .bucket("shared")
        .key("k")
        .send()
        .await
        .expect_err("reader may not delete");
    assert_eq!(err.into_service_error().meta().code(), Some("AccessDenied"));
    assert!(
        root.head_object()
            .bucket("shared")
            .key("k")
            .send()
            .await
            .is_ok(),
        "nothing was deleted"
    );
}
