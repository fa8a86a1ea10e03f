"""S3 conformance: conditional writes (AWS S3 API reference, PutObject and CompleteMultipartUpload, `If-None-Match`
and `If-Match`; user guide "How to prevent object overwrites with conditional writes").

- `If-None-Match: *` writes only if no object has the key, else 412 PreconditionFailed;
- `If-Match: "etag"` writes only if the current object has that ETag, else 412; on a missing key 404 NoSuchKey;
- `If-None-Match: "etag"` (beyond S3, which documents only `*`) writes unless the current object has that ETag;
- a write whose condition fails changes nothing (the object, its ETag, the listing); a failed completion leaves
  the multipart upload open, so it can be retried or aborted;
- the condition is checked atomically with the commit: of racing create-only writers exactly one wins.
"""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

PART = 5 * 1024 * 1024


def test_if_none_match_star_creates_once(s3, bucket):
    out = s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    assert out["ETag"] == f'"{e2e.md5_hex(b"first")}"'
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert error_of(e.value) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_if_match_replaces_only_the_expected_version(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    etag2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    # The first ETag is stale now: a lost update is refused.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"stale", IfMatch=etag)
    assert error_of(e.value) == (412, "PreconditionFailed")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ETag"] == etag2 and head["ContentLength"] == 2


def test_if_match_on_a_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_of(e.value) == (404, "NoSuchKey")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_failed_condition_is_an_xml_error_and_writes_nothing(gateway, bucket):
    r = gateway.signed("PUT", f"/{bucket}/raw", body=b"one", headers={"If-None-Match": "*"})
    assert r.status_code == 200, r.text
    r = gateway.signed("PUT", f"/{bucket}/raw", body=b"two", headers={"If-None-Match": "*"})
    e2e.assert_s3_error(r, 412, "PreconditionFailed")
    r = gateway.signed("PUT", f"/{bucket}/raw", body=b"three",
                       headers={"If-Match": '"00000000000000000000000000000000"'})
    e2e.assert_s3_error(r, 412, "PreconditionFailed")
    r = gateway.signed("GET", f"/{bucket}/raw")
    assert r.status_code == 200 and r.content == b"one"


def test_if_none_match_with_an_etag_writes_unless_the_current_etag_is_that(gateway, bucket):
    # S3 documents only "*" in If-None-Match on a write; Strata also takes an ETag, with HTTP's meaning (RFC 9110
    # 13.1.2, as Ceph does): the write happens unless the current object has that ETag.
    r = gateway.signed("PUT", f"/{bucket}/k", body=b"x", headers={"If-None-Match": '"abc"'})
    assert r.status_code == 200
    etag = r.headers["ETag"]
    r = gateway.signed("PUT", f"/{bucket}/k", body=b"y", headers={"If-None-Match": etag})
    e2e.assert_s3_error(r, 412, "PreconditionFailed")
    r = gateway.signed("GET", f"/{bucket}/k")
    assert r.status_code == 200 and r.content == b"x"
    r = gateway.signed("PUT", f"/{bucket}/k", body=b"z", headers={"If-None-Match": '"abc"'})
    assert r.status_code == 200


def test_racing_create_only_writers_have_one_winner(gateway, bucket):
    results = []
    lock = threading.Lock()

    def write(i):
        client = gateway.client()
        try:
            client.put_object(Bucket=bucket, Key="race", Body=f"writer-{i}".encode(), IfNoneMatch="*")
            outcome = ("won", i)
        except ClientError as err:
            outcome = ("lost", error_of(err))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for kind, i in results if kind == "won"]
    assert len(winners) == 1, results
    assert all(r == ("lost", (412, "PreconditionFailed")) for r in results if r[0] == "lost"), results
    body = gateway.client().get_object(Bucket=bucket, Key="race")["Body"].read()
    assert body == f"writer-{winners[0]}".encode()


def _upload(s3, bucket, key, data):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=data)["ETag"]
    return up, {"Parts": [{"PartNumber": 1, "ETag": etag}]}


def test_complete_multipart_with_if_none_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="mp", Body=b"existing")
    up, parts = _upload(s3, bucket, "mp", b"a" * PART)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload=parts,
                                     IfNoneMatch="*")
    assert error_of(e.value) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"existing"
    # The upload is still open: its part is listed and it can be aborted.
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]] == [1]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)

    up, parts = _upload(s3, bucket, "fresh", b"b" * PART)
    s3.complete_multipart_upload(Bucket=bucket, Key="fresh", UploadId=up, MultipartUpload=parts,
                                 IfNoneMatch="*")
    assert s3.head_object(Bucket=bucket, Key="fresh")["ContentLength"] == PART


def test_complete_multipart_with_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="mp", Body=b"v1")["ETag"]
    up, parts = _upload(s3, bucket, "mp", b"c" * PART)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload=parts,
                                     IfMatch='"00000000000000000000000000000000"')
    assert error_of(e.value) == (412, "PreconditionFailed")
    out = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload=parts,
                                       IfMatch=etag)
    assert out["ETag"].endswith('-1"')
    assert s3.head_object(Bucket=bucket, Key="mp")["ContentLength"] == PART


def test_complete_multipart_if_match_on_a_missing_key_is_no_such_key(s3, bucket):
    up, parts = _upload(s3, bucket, "nothing-here", b"d" * PART)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="nothing-here", UploadId=up, MultipartUpload=parts,
                                     IfMatch='"00000000000000000000000000000000"')
    assert error_of(e.value) == (404, "NoSuchKey")
    s3.abort_multipart_upload(Bucket=bucket, Key="nothing-here", UploadId=up)
