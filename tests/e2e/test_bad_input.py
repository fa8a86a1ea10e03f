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


# --------------------------------------------------------------------------
# the chaos issue's malformed-request suite: broken SigV4, oversize headers,
# hostile XML, wrong Content-Length, absurd part numbers. Every test below
# also checks (fixture) that the gateway is alive and never panicked.
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def gateway_survives(gateway):
    """After each test of this module: the gateway still answers and its log has no panic."""
    yield
    if not gateway.managed:
        return
    assert gateway.proc is not None and gateway.proc.poll() is None, "the gateway process died"
    gateway.health()  # asserts a 200 from the admin API
    log = gateway.log_path.read_bytes().decode("utf-8", "replace") if gateway.log_path else ""
    assert "panicked" not in log, "the gateway panicked:\n" + log[log.find("panicked") - 2000:][:4000]


def _sigv4_now():
    now = dt.datetime.now(dt.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    return amz, amz[:8]


SIG = "a" * 64
# (label, Authorization template: {ak} access key, {day} scope date, status, codes)
BROKEN_SIGV4 = [
    ("no-signature", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date",
     400, ("InvalidRequest", "AuthorizationHeaderMalformed")),
    ("no-signed-headers", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, Signature=" + SIG,
     400, ("InvalidRequest", "AuthorizationHeaderMalformed")),
    ("short-scope", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3, SignedHeaders=host;x-amz-date, Signature=" + SIG,
     400, ("InvalidRequest", "AuthorizationHeaderMalformed")),
    ("duplicate-signature", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG + ", Signature=" + SIG,
     400, ("InvalidRequest", "AuthorizationHeaderMalformed")),
    ("unknown-access-key", "AWS4-HMAC-SHA256 Credential=NOSUCHKEY0000/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, 403, ("InvalidAccessKeyId",)),
    ("wrong-signature", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, 403, ("SignatureDoesNotMatch",)),
    ("non-hex-signature", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + "z" * 64, 403, ("SignatureDoesNotMatch",)),
    ("empty-signed-headers", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=, Signature=" + SIG, 403, ("SignatureDoesNotMatch",)),
    ("host-not-signed", "AWS4-HMAC-SHA256 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=x-amz-date, Signature=" + SIG, 403, ("SignatureDoesNotMatch",)),
    ("wrong-region", "AWS4-HMAC-SHA256 Credential={ak}/{day}/eu-west-9/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, 403, ("SignatureDoesNotMatch", "AuthorizationHeaderMalformed")),
    ("scope-date-mismatch", "AWS4-HMAC-SHA256 Credential={ak}/19990101/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, 403, ("SignatureDoesNotMatch",)),
    ("sha512-algorithm", "AWS4-HMAC-SHA512 Credential={ak}/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, (400, 403), ("SignatureDoesNotMatch", "InvalidRequest",
                                                                    "AuthorizationHeaderMalformed")),
    ("30k-access-key", "AWS4-HMAC-SHA256 Credential=" + "A" * 30000 + "/{day}/us-east-1/s3/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=" + SIG, 403, ("InvalidAccessKeyId",)),
]


@pytest.mark.strata_only
@pytest.mark.parametrize("label,template,status,codes", BROKEN_SIGV4, ids=[b[0] for b in BROKEN_SIGV4])
def test_broken_sigv4_authorization(gateway, s3, bucket, label, template, status, codes):
    amz, day = _sigv4_now()
    auth = template.format(ak=gateway.access_key, day=day)
    headers = {"Authorization": auth, "x-amz-date": amz, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    r = gateway.http.get(gateway.url(f"/{bucket}?list-type=2"), headers=headers, timeout=30)
    e2e.assert_s3_error(r, status, codes)
    # and the same broken signature cannot write
    r = gateway.http.put(gateway.url(f"/{bucket}/sigv4-{label}"), data=b"x", headers=headers, timeout=30)
    e2e.assert_s3_error(r, status, codes)
    assert not exists(s3, bucket, f"sigv4-{label}")


@pytest.mark.strata_only
@pytest.mark.parametrize("amz_date,code", [("notadate", "InvalidRequest"), (None, "InvalidRequest"),
                                           ("20200101T000000Z", "RequestTimeTooSkewed")])
def test_bad_or_missing_x_amz_date(gateway, bucket, amz_date, code):
    _, day = _sigv4_now()
    if amz_date and amz_date[:8].isdigit():
        day = amz_date[:8]  # a consistent scope, so that the date itself is what is refused
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={gateway.access_key}/{day}/us-east-1/s3/aws4_request, "
                                f"SignedHeaders=host;x-amz-date, Signature={SIG}",
               "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    if amz_date:
        headers["x-amz-date"] = amz_date
    r = gateway.http.get(gateway.url(f"/{bucket}?list-type=2"), headers=headers, timeout=30)
    e2e.assert_s3_error(r, (400, 403), code)


def test_oversize_user_metadata_is_refused(gateway, s3, bucket):
    big = "x" * 65536
    r = gateway.signed("PUT", f"/{bucket}/meta-64k", body=b"body", headers={"x-amz-meta-big": big})
    e2e.assert_s3_error(r, 400, "MetadataTooLarge")
    assert not exists(s3, bucket, "meta-64k")
    r = gateway.signed("POST", f"/{bucket}/meta-64k?uploads", headers={"x-amz-meta-big": big})
    e2e.assert_s3_error(r, 400, "MetadataTooLarge")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    r = gateway.signed("PUT", f"/{bucket}/meta-copy", headers={
        "x-amz-copy-source": f"/{bucket}/src", "x-amz-metadata-directive": "REPLACE", "x-amz-meta-big": big})
    e2e.assert_s3_error(r, 400, "MetadataTooLarge")
    assert not exists(s3, bucket, "meta-copy")
    # just under S3's 2 KiB limit is fine, and comes back
    r = gateway.signed("PUT", f"/{bucket}/meta-2k", body=b"body", headers={"x-amz-meta-k": "v" * 2000})
    assert r.status_code == 200, r.text
    assert s3.head_object(Bucket=bucket, Key="meta-2k")["Metadata"]["k"] == "v" * 2000


@pytest.mark.strata_only
def test_oversize_headers(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=b"headers")
    # A 64 KiB header the gateway does not use: signed, it is just carried along.
    r = gateway.signed("GET", f"/{bucket}/h", headers={"x-custom-big": "y" * 65536})
    assert r.status_code == 200 and r.content == b"headers", r.status_code
    # Beyond the HTTP server's header limits (1 MiB of one header, 200 headers) the request is refused before
    # any S3 processing: 431 from hyper, without an S3 body.
    r = gateway.http.get(gateway.url(f"/{bucket}/h"), headers={"x-custom-big": "y" * (1024 * 1024)}, timeout=30)
    assert r.status_code == 431, r.status_code
    r = gateway.http.get(gateway.url(f"/{bucket}/h"), headers={f"x-h{i}": "v" for i in range(200)}, timeout=30)
    assert r.status_code == 431, r.status_code
    assert s3.get_object(Bucket=bucket, Key="h")["Body"].read() == b"headers"


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
HOSTILE_DELETE = [
    BILLION_LAUGHS + b"<Delete><Object><Key>&lol3;</Key></Object></Delete>",
    b"<Delete>" + b"<Object>" * 100_000 + b"</Object>" * 100_000 + b"</Delete>",   # deep nesting
    b"<Delete><Object><Key>\xff\xfe\x00</Key></Object></Delete>",                   # not UTF-8
    b"<Delete><Object><Key>a</Key></Object></Delete>" * 2,
]


@pytest.mark.parametrize("body", HOSTILE_DELETE, ids=["entities", "deep", "not-utf8", "two-roots"])
def test_delete_objects_hostile_xml(gateway, s3, bucket, body):
    s3.put_object(Bucket=bucket, Key="a", Body=b"keep me")
    t = time.monotonic()
    r = gateway.signed("POST", f"/{bucket}?delete", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "MalformedXML")
    assert time.monotonic() - t < 20, "hostile XML took too long"
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"keep me"


HOSTILE_COMPLETE = [
    BILLION_LAUGHS + b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&lol3;</ETag></Part>"
                     b"</CompleteMultipartUpload>",
    b"<CompleteMultipartUpload>" + b"<Part>" * 50_000 + b"</Part>" * 50_000 + b"</CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>1099511627776</PartNumber><ETag>x</ETag></Part>"
    b"</CompleteMultipartUpload>",
]


@pytest.mark.parametrize("body", HOSTILE_COMPLETE, ids=["entities", "deep", "part-2^40"])
def test_complete_multipart_hostile_xml(gateway, s3, bucket, upload, body):
    key, uid, etag = upload
    r = gateway.signed("POST", f"/{bucket}/{quote(key)}?uploadId={quote(uid, safe='')}", body=body,
                       headers={"Content-Type": "application/xml"})
    e2e.assert_s3_error(r, 400, ("MalformedXML", "InvalidPart"))
    assert not exists(s3, bucket, key)
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]] == [1]


def _raw_put(gateway, path: str, body: bytes, content_length, unsigned: bool, extra: dict | None = None) -> bytes:
    """A PUT with a Content-Length that may not match the body; returns the raw response (b'' if none)."""
    url = gateway.url(path)
    hdrs, _ = e2e.sign_request(url, "PUT", dict(extra or {}), b"", gateway.access_key, gateway.secret_key,
                               payload_hash="UNSIGNED-PAYLOAD" if unsigned else e2e.sha256(body))
    hdrs["Content-Length"] = str(content_length)
    u = urlsplit(url)
    head = f"PUT {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if k.lower() != "host")
    head += "Connection: close\r\n\r\n"
    out = b""
    with socket.create_connection((u.hostname, u.port), timeout=20) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _status_and_code(raw: bytes):
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    status = int(raw.split(b" ", 2)[1])
    _, _, payload = raw.partition(b"\r\n\r\n")
    code, _ = e2e.parse_error(payload) if payload else (None, None)
    return status, code


BODY_1000 = bytes(range(256)) * 3 + bytes(232)
WRONG_LENGTHS = [
    # (id, Content-Length, unsigned payload, extra headers, status, code, stored)
    ("shorter-signed", 500, False, None, 400, "XAmzContentSHA256Mismatch", None),
    ("shorter-md5", 500, True, {"Content-MD5": e2e.md5_b64(BODY_1000)}, 400, "BadDigest", None),
    ("shorter-unsigned", 500, True, None, 200, None, BODY_1000[:500]),
    ("zero-signed", 0, False, None, 400, "XAmzContentSHA256Mismatch", None),
    ("longer-signed", 1500, False, None, 400, "IncompleteBody", None),
    ("longer-unsigned", 1500, True, None, 400, "IncompleteBody", None),
    ("beyond-5GiB", 10**15, True, None, 400, "EntityTooLarge", None),
    ("negative", -5, True, None, 400, None, None),        # refused by the HTTP server, no S3 body
    ("not-a-number", "abc", True, None, 400, None, None),
]


@pytest.mark.strata_only
@pytest.mark.parametrize("name,length,unsigned,extra,status,code,stored", WRONG_LENGTHS,
                         ids=[w[0] for w in WRONG_LENGTHS])
def test_wrong_content_length(gateway, s3, bucket, name, length, unsigned, extra, status, code, stored):
    """A Content-Length shorter than the body stores exactly Content-Length bytes (unless a signature or digest
    covers the whole body); a longer one is an incomplete body. Nothing else is ever stored."""
    if stored is None:
        s3.put_object(Bucket=bucket, Key=f"cl/{name}", Body=b"previous")
    raw = _raw_put(gateway, f"/{bucket}/cl/{name}", BODY_1000, length, unsigned, extra)
    got_status, got_code = _status_and_code(raw)
    assert got_status == status, raw[:400]
    assert got_code == code, raw[:400]
    if stored is None:
        assert s3.get_object(Bucket=bucket, Key=f"cl/{name}")["Body"].read() == b"previous"
    else:
        assert s3.get_object(Bucket=bucket, Key=f"cl/{name}")["Body"].read() == stored
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == [f"cl/{name}"]


ABSURD = ["0", "-1", "10001", str(2**31), str(2**40), "1e3", "1.5"]


@pytest.mark.parametrize("n", ABSURD)
def test_absurd_part_numbers(gateway, s3, bucket, n):
    key = "mp/absurd"
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain object")
    # GetObject ?partNumber: out of range is 416 InvalidPartNumber; not an int32 at all is 400 InvalidArgument
    r = gateway.signed("GET", f"/{bucket}/plain?partNumber={n}")
    if n in ("0", "-1", "10001"):
        e2e.assert_s3_error(r, 416, "InvalidPartNumber")
    else:
        e2e.assert_s3_error(r, 400, "InvalidArgument")
    r = gateway.signed("HEAD", f"/{bucket}/plain?partNumber={n}")
    assert r.status_code in (400, 416), r.status_code
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    q = f"uploadId={quote(uid, safe='')}"
    r = gateway.signed("PUT", f"/{bucket}/{key}?partNumber={n}&{q}", body=b"x")
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    r = gateway.signed("PUT", f"/{bucket}/{key}?partNumber={n}&{q}", headers={"x-amz-copy-source": f"/{bucket}/plain"})
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"p1")["ETag"]
    body = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
            f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>").encode()
    r = gateway.signed("POST", f"/{bucket}/{key}?{q}", body=body, headers={"Content-Type": "application/xml"})
    # s3s reads <PartNumber>1e3</PartNumber> and 1.5 as 1: then part 1 twice is InvalidPartOrder
    e2e.assert_s3_error(r, 400, ("InvalidArgument", "MalformedXML") if n[0] != "1" else
                        ("InvalidArgument", "MalformedXML", "InvalidPartOrder"))
    assert not exists(s3, bucket, key)
    for param in ("part-number-marker", "max-parts"):
        r = gateway.signed("GET", f"/{bucket}/{key}?{q}&{param}={n}")
        if r.status_code != 200:   # 0 and 10001 are legal values here
            e2e.assert_s3_error(r, 400, "InvalidArgument")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]] == [1]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_suffix_range_on_an_empty_object(gateway, s3, bucket):
    """Was a panic (u64 underflow building Content-Range for the empty range s3s resolves it to)."""
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    for spec in ("bytes=-1", "bytes=-5", f"bytes=-{2**63}"):
        r = gateway.signed("GET", f"/{bucket}/empty", headers={"Range": spec})
        e2e.assert_s3_error(r, 416, "InvalidRange")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
