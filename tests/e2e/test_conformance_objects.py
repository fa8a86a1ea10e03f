"""S3 conformance: buckets, keys, object writes and reads, beyond test_boto3.py.

Each case asserts what the AWS S3 API reference and user guide document ("Bucket naming rules", "Naming objects",
CreateBucket, DeleteBucket, HeadBucket, PutObject, GetObject, HeadObject, DeleteObject), through boto3 or raw SigV4
HTTP where a client would hide the detail.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of


# --------------------------------------------------------------------------
# buckets
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "ab",                       # shorter than 3
    "a" * 64,                   # longer than 63
    "UpperCase",                # uppercase
    "under_score",              # underscore
    "-starts-with-hyphen",
    "ends-with-hyphen-",
    "two..dots",
    "192.168.5.4",              # formatted as an IP address
])
def test_invalid_bucket_names_are_refused(s3, name):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_of(e.value) == (400, "InvalidBucketName")


def test_creating_an_owned_bucket_again_answers_200_in_us_east_1(s3, bucket):
    # CreateBucket: "if you re-create an existing bucket that you already own in the North Virginia Region, Amazon
    # S3 returns 200 OK" (every other region: 409 BucketAlreadyOwnedByYou). The gateway's default region is
    # us-east-1; the bucket and its objects are untouched.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"k")
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"k"


def test_missing_buckets_are_404(gateway, s3):
    name = e2e.unique_bucket("missing")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e.value) == (404, "NoSuchBucket")
    assert gateway.signed("HEAD", f"/{name}").status_code == 404
    for call in (lambda: s3.list_objects_v2(Bucket=name), lambda: s3.put_object(Bucket=name, Key="k", Body=b"x"),
                 lambda: s3.get_object(Bucket=name, Key="k")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value) == (404, "NoSuchBucket")


def test_list_buckets_shows_name_and_creation_date(s3, bucket):
    found = [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket]
    assert len(found) == 1
    age = dt.datetime.now(dt.timezone.utc) - found[0]["CreationDate"]
    assert dt.timedelta(seconds=-5) < age < dt.timedelta(minutes=10)


def test_head_bucket_answers_its_region(gateway, bucket):
    r = gateway.signed("HEAD", f"/{bucket}")
    assert r.status_code == 200 and r.headers.get("x-amz-bucket-region")


# --------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    "with space", "plus+sign", "percent%20literal", "question?mark", "hash#tag", "unicodé/日本語/🙂",
    "a/b/../c", "trailing/", "~tilde", "semi;colon=equals&amp", "x" * 1024,
])
def test_keys_round_trip_exactly(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key in keys


def test_a_key_longer_than_1024_bytes_is_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")  # 1026 bytes of UTF-8
    assert error_of(e.value) == (400, "KeyTooLongError")


def test_raw_percent_encoded_keys_address_the_same_object(gateway, s3, bucket):
    key = "dir name/file+1.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"same object")
    r = gateway.signed("GET", f"/{bucket}/{quote(key, safe='/')}")
    assert r.status_code == 200 and r.content == b"same object"


# --------------------------------------------------------------------------
# writes
# --------------------------------------------------------------------------

def test_user_metadata_over_2_kb_is_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_of(e.value) == (400, "MetadataTooLarge")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(e.value)[0] == 404


def test_metadata_keys_come_back_lowercase(gateway, s3, bucket):
    r = gateway.signed("PUT", f"/{bucket}/meta", body=b"x", headers={"x-amz-meta-MixedCase": "Value Kept"})
    assert r.status_code == 200
    assert s3.head_object(Bucket=bucket, Key="meta")["Metadata"] == {"mixedcase": "Value Kept"}


def test_default_content_type_is_binary_octet_stream(gateway, bucket):
    assert gateway.signed("PUT", f"/{bucket}/untyped", body=b"x").status_code == 200
    r = gateway.signed("HEAD", f"/{bucket}/untyped")
    assert r.headers["Content-Type"] == "binary/octet-stream"


def test_put_answers_the_md5_etag(s3, bucket):
    import hashlib
    r = s3.put_object(Bucket=bucket, Key="k", Body=b"hello etag")
    assert r["ETag"] == '"%s"' % hashlib.md5(b"hello etag").hexdigest()


def test_an_overwrite_changes_etag_and_last_modified(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    first = s3.head_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two!")
    second = s3.head_object(Bucket=bucket, Key="k")
    assert second["ETag"] != first["ETag"] and second["ContentLength"] == 4
    assert second["LastModified"] >= first["LastModified"]


def test_expires_and_content_language_round_trip(s3, bucket):
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Expires=when, ContentLanguage="fr-CA",
                  ContentEncoding="identity")
    h = s3.head_object(Bucket=bucket, Key="k")
    assert h["ContentLanguage"] == "fr-CA" and h["ContentEncoding"] == "identity"
    assert h["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"


# --------------------------------------------------------------------------
# reads
# --------------------------------------------------------------------------

def test_head_answers_headers_without_a_body(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    r = gateway.signed("HEAD", f"/{bucket}/k")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == "10" and r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["ETag"].startswith('"') and r.headers["Last-Modified"].endswith("GMT")


def test_a_missing_key_is_no_such_key_with_xml(gateway, bucket):
    r = gateway.signed("GET", f"/{bucket}/nope")
    e2e.assert_s3_error(r, 404, "NoSuchKey")
    assert gateway.signed("HEAD", f"/{bucket}/nope").status_code == 404


def test_a_range_on_an_empty_object_is_unsatisfiable(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-0")
    assert error_of(e.value) == (416, "InvalidRange")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_range_and_part_number_together_are_refused(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    r = gateway.signed("GET", f"/{bucket}/k?partNumber=1", headers={"Range": "bytes=0-1"})
    assert r.status_code == 400


def test_checksums_come_back_only_when_asked_and_whole(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"checked", ChecksumAlgorithm="SHA256")
    # Raw requests: boto3 itself asks for checksums on every GET.
    assert "x-amz-checksum-sha256" not in gateway.signed("GET", f"/{bucket}/k").headers
    whole = gateway.signed("GET", f"/{bucket}/k", headers={"x-amz-checksum-mode": "ENABLED"})
    assert whole.headers["x-amz-checksum-sha256"]
    ranged = gateway.signed("GET", f"/{bucket}/k", headers={"x-amz-checksum-mode": "ENABLED", "Range": "bytes=0-2"})
    assert ranged.status_code == 206 and "x-amz-checksum-sha256" not in ranged.headers


def test_if_none_match_wins_over_if_modified_since(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    h = s3.head_object(Bucket=bucket, Key="k")
    past = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    # If-None-Match false (the ETag matches) and If-Modified-Since true: 304 (RFC 7232 6, S3 docs).
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=h["ETag"], IfModifiedSince=past)
    assert error_of(e.value)[0] == 304


# --------------------------------------------------------------------------
# deletes
# --------------------------------------------------------------------------

def test_deleting_a_missing_key_is_204(gateway, bucket):
    r = gateway.signed("DELETE", f"/{bucket}/never-was")
    assert r.status_code == 204 and r.content == b""


def test_delete_objects_quiet_answers_errors_only(s3, bucket):
    for k in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "c"}],
                                                 "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_every_answer_has_a_request_id_and_errors_repeat_it(gateway, s3, bucket):
    # Common response headers: x-amz-request-id on every answer; an error's XML names the same RequestId.
    ok = s3.put_object(Bucket=bucket, Key="rid", Body=b"x")["ResponseMetadata"]
    assert re.fullmatch(r"[0-9A-F]{16}", ok["HTTPHeaders"]["x-amz-request-id"])
    r = gateway.signed("GET", f"/{bucket}/no-such-key")
    e2e.assert_s3_error(r, 404, "NoSuchKey")
    rid = r.headers["x-amz-request-id"]
    assert ET.fromstring(r.content).findtext("RequestId") == rid
    again = gateway.signed("GET", f"/{bucket}/no-such-key").headers["x-amz-request-id"]
    assert again != rid
    # SDKs report it: boto3 puts it in the error's metadata.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="no-such-key")
    assert re.fullmatch(r"[0-9A-F]{16}", e.value.response["ResponseMetadata"]["RequestId"])


# --------------------------------------------------------------------------
# presigned URLs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seconds,ok", [(604_800, True), (604_801, False), (-7, False)])
def test_a_presigned_url_lives_a_week_at_most(s3, bucket, seconds, ok):
    # SigV4 query authentication: X-Amz-Expires from 1 to 604800 seconds; anything else is 400
    # AuthorizationQueryParametersError (AWS S3 API reference, "Authenticating Requests: Using Query Parameters").
    import requests
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=seconds)
    r = requests.get(url, timeout=10)
    if ok:
        assert r.status_code == 200 and r.content == b"body"
    else:
        e2e.assert_s3_error(r, 400, "AuthorizationQueryParametersError")
