"""Malformed and hostile requests, sent raw (requests / sockets), SigV4-signed by botocore.

Every refusal must be a 4xx with an XML <Error><Code> body, never a 5xx, a
hang or a partial object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import time
from urllib.parse import quote, urlsplit

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB


def exists(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        assert e2e.client_error_status(e) == 404, e
        return False


def md5_headers(body: bytes) -> dict:
    return {"Content-MD5": e2e.md5_b64(body), "Content-Type": "application/xml"}


# --------------------------------------------------------------------------
# malformed XML
# --------------------------------------------------------------------------

BAD_XML = [
    b"<Delete><Object><Key>a</Key></Object",                  # truncated
    b"this is not xml at all",
    b"<Delete><Object><Key>a</Key></Object></Delete><extra/>",  # two roots
    b"<Delete><Object><Key>a</Key><Key>b</Key></Object><<</Delete>",
    b"<?xml version='1.0'?><Delete><Object><Key>a</Object></Key></Delete>",  # mis-nested
]


@pytest.mark.parametrize("body", BAD_XML, ids=range(len(BAD_XML)))
def test_delete_objects_malformed_xml(gateway, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="a", Body=b"keep me")
    r = gateway.signed("POST", f"/{bucket}?delete", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"keep me"


def test_delete_objects_empty_list_is_malformed(gateway, bucket):
    body = b"<Delete></Delete>"
    r = gateway.signed("POST", f"/{bucket}?delete", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "MalformedXML")


def test_delete_objects_too_many_keys(gateway, bucket):
    body = ("<Delete>" + "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
            + "</Delete>").encode()
    r = gateway.signed("POST", f"/{bucket}?delete", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "MalformedXML")


@pytest.fixture
def upload(s3, bucket):
    key = "mp/bad-xml"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"only part")["ETag"]
    yield key, uid, etag


BAD_COMPLETE = [
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
    b"garbage",
    b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",   # no parts: AWS says MalformedXML
]


@pytest.mark.parametrize("body", BAD_COMPLETE, ids=range(len(BAD_COMPLETE)))
def test_complete_multipart_malformed_xml(gateway, s3, bucket, upload, body):
    key, uid, etag = upload
    r = gateway.signed("POST", f"/{bucket}/{quote(key)}?uploadId={quote(uid, safe='')}", body=body,
                       headers={"Content-Type": "application/xml"})
    code = e2e.assert_s3_error(r, 400, ("MalformedXML", "InvalidArgument", "InvalidPart"))
    if body != BAD_COMPLETE[2]:
        assert code == "MalformedXML", r.text
    assert not exists(s3, bucket, key)
    # the upload is intact and can still be completed
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"only part"


# --------------------------------------------------------------------------
# ranges
# --------------------------------------------------------------------------

RANGE_BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.mark.parametrize("spec", [
    "bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=", "bytes=--5",
    "bytes=1-2-3", "bytes= 1-2x", "0-10", "bytes=99999999999999999999999-",
])
def test_bad_range_forms(gateway, s3, bucket, spec):
    """Unusable Range headers: S3 ignores them (200, whole body) or says 416; never 5xx or a wrong slice."""
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_BODY)
    r = gateway.signed("GET", f"/{bucket}/r", headers={"Range": spec})
    assert r.status_code in (200, 400, 416), (spec, r.status_code, r.content[:300])
    if r.status_code == 200:
        assert r.content == RANGE_BODY, spec
    else:
        e2e.assert_s3_error(r, r.status_code, ("InvalidRange", "InvalidArgument"))


def test_range_suffix_zero_and_empty_object(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_BODY)
    r = gateway.signed("GET", f"/{bucket}/r", headers={"Range": "bytes=-0"})
    e2e.assert_s3_error(r, 416, "InvalidRange")
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    r = gateway.signed("GET", f"/{bucket}/empty", headers={"Range": "bytes=0-0"})
    e2e.assert_s3_error(r, 416, "InvalidRange")
    r = gateway.signed("GET", f"/{bucket}/r", headers={"Range": f"bytes={len(RANGE_BODY)}-"})
    e2e.assert_s3_error(r, 416, "InvalidRange")
    assert r.headers.get("Content-Range") in (None, f"bytes */{len(RANGE_BODY)}")


# --------------------------------------------------------------------------
# bucket names
# --------------------------------------------------------------------------

BAD_BUCKETS = ["UPPERCASE", "Mixed-case-name", "ab", "a", "192.168.5.4", "10.0.0.1",
               "a" * 64, "bad_underscore", "-leading-dash", "trailing-dash-",
               "double..dot", ".leading-dot", "trailing-dot."]


@pytest.mark.parametrize("name", BAD_BUCKETS)
def test_invalid_bucket_names(gateway, s3, name):
    r = gateway.signed("PUT", f"/{quote(name)}")
    e2e.assert_s3_error(r, 400, "InvalidBucketName")
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_valid_edge_bucket_names(gateway, s3):
    for name in ("abc", "a" * 63, "with.dots.ok", "0starts-with-digit"):
        r = gateway.signed("PUT", f"/{name}")
        assert r.status_code == 200, (name, r.text)
        s3.delete_bucket(Bucket=name)


# --------------------------------------------------------------------------
# truncated bodies
# --------------------------------------------------------------------------


def _send_truncated_put(gateway, bucket, key, body: bytes, send: int, unsigned: bool):
    url = gateway.url(f"/{bucket}/{quote(key)}")
    headers = {"Content-Length": str(len(body))}
    hdrs, _ = e2e.sign_request(url, "PUT", headers, b"", gateway.access_key, gateway.secret_key,
                               payload_hash="UNSIGNED-PAYLOAD" if unsigned else e2e.sha256(body))
    hdrs["Content-Length"] = str(len(body))
    u = urlsplit(url)
    head = f"PUT {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host")
    head += "\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(head.encode() + body[:send])
        time.sleep(0.3)
        sock.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
    # the socket is closed here with the body incomplete


@pytest.mark.parametrize("unsigned", [False, True], ids=["signed-payload", "unsigned-payload"])
def test_truncated_put_leaves_no_object(gateway, s3, bucket, unsigned):
    body = os.urandom(2 * MiB)
    s3.put_object(Bucket=bucket, Key="trunc/existing", Body=b"previous")
    for key, send in [("trunc/new", len(body) // 2), ("trunc/existing", len(body) - 1),
                      ("trunc/headers-only", 0)]:
        _send_truncated_put(gateway, bucket, key, body, send, unsigned)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # it must not appear later either
        assert not exists(s3, bucket, "trunc/new")
        assert not exists(s3, bucket, "trunc/headers-only")
        assert s3.get_object(Bucket=bucket, Key="trunc/existing")["Body"].read() == b"previous"
        time.sleep(0.5)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == ["trunc/existing"]
    # and the gateway is still serving
    s3.put_object(Bucket=bucket, Key="trunc/after", Body=body)
    assert e2e.sha256(s3.get_object(Bucket=bucket, Key="trunc/after")["Body"].read()) == e2e.sha256(body)


def test_truncated_upload_part_leaves_no_part(gateway, s3, bucket):
    key = "trunc/mp"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    body = os.urandom(5 * MiB)
    url_key = f"{quote(key)}?partNumber=1&uploadId={quote(uid, safe='')}"
    url = gateway.url(f"/{bucket}/{url_key}")
    hdrs, _ = e2e.sign_request(url, "PUT", {"Content-Length": str(len(body))}, b"", gateway.access_key,
                               gateway.secret_key, payload_hash="UNSIGNED-PAYLOAD")
    u = urlsplit(url)
    head = f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host") + "\r\n"
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(head.encode() + body[:MiB])
        time.sleep(0.3)
    time.sleep(0.5)
    assert not s3.list_parts(Bucket=bucket, Key=key, UploadId=uid).get("Parts")
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


# --------------------------------------------------------------------------
# other refusals
# --------------------------------------------------------------------------


def test_key_too_long(gateway, s3, bucket):
    key = "k" * 1025
    r = gateway.signed("PUT", f"/{bucket}/{key}", body=b"x")
    e2e.assert_s3_error(r, 400, "KeyTooLongError")
    ok = "k" * 1024
    r = gateway.signed("PUT", f"/{bucket}/{ok}", body=b"x")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key=ok)["Body"].read() == b"x"


def test_missing_bucket_and_key_errors_are_xml(gateway, bucket):
    r = gateway.signed("GET", f"/{bucket}/no/such/key")
    e2e.assert_s3_error(r, 404, "NoSuchKey")
    missing = e2e.unique_bucket("missing")
    r = gateway.signed("GET", f"/{missing}/k")
    e2e.assert_s3_error(r, 404, "NoSuchBucket")
    r = gateway.signed("GET", f"/{missing}?list-type=2")
    e2e.assert_s3_error(r, 404, "NoSuchBucket")
    r = gateway.signed("DELETE", f"/{missing}")
    e2e.assert_s3_error(r, 404, "NoSuchBucket")
    r = gateway.signed("HEAD", f"/{bucket}/no/such/key")
    assert r.status_code == 404 and r.content == b""


def test_bad_part_numbers_and_upload_ids(gateway, s3, bucket):
    key = "mp/bad-numbers"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for n in ("0", "10001", "-1", "abc"):
        r = gateway.signed("PUT", f"/{bucket}/{quote(key)}?partNumber={n}&uploadId={quote(uid, safe='')}",
                           body=b"x")
        e2e.assert_s3_error(r, 400, ("InvalidArgument", "InvalidPartNumber", "InvalidRequest"))
    r = gateway.signed("PUT", f"/{bucket}/{quote(key)}?partNumber=1&uploadId=no-such-upload-id", body=b"x")
    e2e.assert_s3_error(r, 404, "NoSuchUpload")
    assert not s3.list_parts(Bucket=bucket, Key=key, UploadId=uid).get("Parts")
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


@pytest.mark.parametrize("query", ["list-type=2&max-keys=abc", "list-type=2&max-keys=-1",
                                   "list-type=2&continuation-token=%25%25not-a-token",
                                   "list-type=3", "encoding-type=bogus"])
def test_bad_list_parameters(gateway, bucket, query):
    r = gateway.signed("GET", f"/{bucket}?{query}")
    assert r.status_code < 500, (query, r.status_code, r.content[:300])
    if r.status_code >= 400:
        e2e.assert_s3_error(r, r.status_code, None)
    if "max-keys" in query or "encoding-type" in query:
        e2e.assert_s3_error(r, 400, ("InvalidArgument",))


@pytest.mark.strata_only
def test_unsupported_operation_is_not_implemented(gateway, bucket):
    body = (b'<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"<IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>")
    r = gateway.signed("PUT", f"/{bucket}?website", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 501, "NotImplemented")


@pytest.mark.strata_only
def test_request_time_too_skewed(gateway, s3, bucket):
    when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
    r = gateway.signed("PUT", f"/{bucket}/skewed", body=b"old request", when=when)
    e2e.assert_s3_error(r, 403, "RequestTimeTooSkewed")
    assert not exists(s3, bucket, "skewed")


@pytest.mark.strata_only
def test_payload_hash_mismatch(gateway, s3, bucket):
    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="hash/existing", Body=b"old")
    for key in ("hash/new", "hash/existing"):
        r = gateway.signed("PUT", f"/{bucket}/{key}", body=body,
                           payload_hash=hashlib.sha256(body + b"x").hexdigest())
        e2e.assert_s3_error(r, 400, ("XAmzContentSHA256Mismatch", "BadDigest"))
    assert not exists(s3, bucket, "hash/new")
    assert s3.get_object(Bucket=bucket, Key="hash/existing")["Body"].read() == b"old"
    r = gateway.signed("PUT", f"/{bucket}/hash/new", body=body, payload_hash="not-a-hash")
    # AWS answers 400 InvalidArgument for a malformed x-amz-content-sha256; s3s 0.14 (which owns SigV4 parsing)
    # answers 403 SignatureDoesNotMatch. Either way nothing may be stored.
    e2e.assert_s3_error(r, (400, 403), ("InvalidArgument", "XAmzContentSHA256Mismatch", "BadDigest",
                                 "InvalidRequest", "SignatureDoesNotMatch"))
    assert not exists(s3, bucket, "hash/new")


@pytest.mark.strata_only
@pytest.mark.parametrize("auth", [
    "AWS4-HMAC-SHA256 garbage",
    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
    "AWS4-HMAC-SHA256 Credential=STRATAE2EACCESSKEY01/20200101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=zz",
    "AWS STRATAE2EACCESSKEY01:c2lnbmF0dXJl",      # SigV2
    "Bearer token",
    "",
])
def test_malformed_authorization(gateway, bucket, auth):
    r = gateway.http.get(gateway.url(f"/{bucket}?list-type=2"),
                         headers={"Authorization": auth, "x-amz-date": "20200101T000000Z",
                                  "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, timeout=30)
    e2e.assert_s3_error(r, (400, 403), None)


def test_error_bodies_have_message(gateway, bucket):
    r = gateway.signed("GET", f"/{bucket}/missing-key")
    code, root = e2e.parse_error(r.content)
    assert code == "NoSuchKey"
    msg = root.find("Message")
    assert msg is not None and msg.text, r.text
