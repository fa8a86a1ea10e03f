"""S3 conformance: Signature Version 2, the legacy signing older clients and SDK settings still use.

boto3 with `signature_version="s3"` signs `Authorization: AWS key:signature` (HMAC-SHA1 over the string to sign)
and presigns `?AWSAccessKeyId=…&Expires=…&Signature=…` URLs. S3 signs a path-style bucket request over the
resource `/bucket/`; s3s 0.14 signed the path as sent (`/bucket`), so every bucket-level V2 call failed with
SignatureDoesNotMatch until `gateway::sig_v2` gave such requests the trailing slash. Cases: bucket and object
operations with awkward keys, ranges, metadata, tagging, copy, multipart, listing v1/v2, batch delete, presigned
GET and PUT, and the refusals (wrong secret, unknown key, expired or tampered presigned URL).
"""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

KEY = "dir with space/a+b=c&d.txt"


@pytest.fixture(scope="module")
def v2(gateway):
    return gateway.client(signature_version="s3")


@pytest.fixture
def bucket(v2):
    name = e2e.unique_bucket("sigv2")
    assert v2.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    yield name
    e2e.empty_bucket(v2, name)


def test_bucket_level_calls_sign_over_the_bucket_resource(v2, bucket):
    assert v2.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "LocationConstraint" in v2.get_bucket_location(Bucket=bucket)
    assert bucket in [b["Name"] for b in v2.list_buckets()["Buckets"]]
    v2.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "ops"}]})
    assert v2.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ops"}]
    assert v2.list_objects(Bucket=bucket).get("Contents") is None
    assert v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_objects_round_trip(v2, gateway, bucket):
    body = b"signature version two " * 100
    put = v2.put_object(Bucket=bucket, Key=KEY, Body=body, ContentType="text/plain", Metadata={"owner": "v2"})
    assert put["ETag"] == f'"{e2e.md5_hex(body)}"'
    got = v2.get_object(Bucket=bucket, Key=KEY)
    assert got["Body"].read() == body
    assert got["Metadata"] == {"owner": "v2"} and got["ContentType"] == "text/plain"
    assert v2.get_object(Bucket=bucket, Key=KEY, Range="bytes=10-19")["Body"].read() == body[10:20]
    assert v2.head_object(Bucket=bucket, Key=KEY)["ContentLength"] == len(body)
    v2.put_object_tagging(Bucket=bucket, Key=KEY, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert v2.get_object_tagging(Bucket=bucket, Key=KEY)["TagSet"] == [{"Key": "k", "Value": "v"}]
    v2.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": KEY})
    assert v2.get_object(Bucket=bucket, Key="copy")["Body"].read() == body
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="dir ")["Contents"]] == [KEY]
    assert v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    # What V2 wrote, a V4 client reads the same.
    assert gateway.client().get_object(Bucket=bucket, Key=KEY)["Body"].read() == body
    deleted = v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": KEY}, {"Key": "copy"}]})["Deleted"]
    assert sorted(d["Key"] for d in deleted) == sorted([KEY, "copy"])
    with pytest.raises(ClientError) as ei:
        v2.head_object(Bucket=bucket, Key=KEY)
    assert error_of(ei.value)[0] == 404


def test_multipart_upload(v2, bucket):
    part1, part2 = b"a" * (5 * e2e.MiB), b"b" * 1000
    uid = v2.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    assert [u["UploadId"] for u in v2.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    e1 = v2.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    e2 = v2.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=part2)["ETag"]
    assert len(v2.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]) == 2
    done = v2.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert done["ETag"] == e2e.multipart_etag([part1, part2])
    assert v2.get_object(Bucket=bucket, Key="mp")["Body"].read() == part1 + part2


def test_presigned_urls(v2, bucket):
    v2.put_object(Bucket=bucket, Key=KEY, Body=b"presigned")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": KEY}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned"
    put_url = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=300)
    assert requests.put(put_url, data=b"uploaded", timeout=30).status_code == 200
    assert v2.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded"
    list_url = v2.generate_presigned_url("list_objects", Params={"Bucket": bucket}, ExpiresIn=300)
    r = requests.get(list_url, timeout=30)
    assert r.status_code == 200 and b"<Key>up</Key>" in r.content
    # Tampered: another key under the same signature.
    r = requests.get(url.replace("a%2Bb", "a%2Bc"), timeout=30)
    e2e.assert_s3_error(r, 403, "SignatureDoesNotMatch")
    # Expired.
    expired = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": KEY}, ExpiresIn=1)
    time.sleep(2.5)
    r = requests.get(expired, timeout=30)
    assert r.status_code == 403, r.text


def test_wrong_secret_and_unknown_key_are_refused(gateway, bucket):
    from botocore.config import Config
    cfg = Config(s3={"addressing_style": "path"}, signature_version="s3", retries={"max_attempts": 1})
    for ak, sk, code in ((gateway.access_key, "wrong-secret", "SignatureDoesNotMatch"),
                         ("NOSUCHKEY", "whatever", "InvalidAccessKeyId")):
        c = gateway.client_with(ak, sk, cfg)
        for call in (lambda: c.list_buckets(), lambda: c.list_objects(Bucket=bucket),
                     lambda: c.put_object(Bucket=bucket, Key="x", Body=b"x")):
            with pytest.raises(ClientError) as ei:
                call()
            assert error_of(ei.value) == (403, code), (ak, error_of(ei.value))
    with pytest.raises(ClientError) as ei:
        gateway.client(signature_version="s3").head_object(Bucket=bucket, Key="x")
    assert error_of(ei.value)[0] == 404, "nothing was written by the refused PUT"
