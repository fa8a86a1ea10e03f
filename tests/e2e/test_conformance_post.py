"""S3 conformance: POST object (browser form uploads) with a signed POST policy (AWS S3 API reference, "POST
Object"; "Creating a POST policy"). s3s 0.14 parses the form, verifies the signature (SigV4 or SigV2 fields) and the
policy's expiry and conditions; the object is written by Strata's PutObject path.

- a form signed by boto3's generate_presigned_post uploads the file (204 by default, 201 with an XML PostResponse
  when success_action_status says so);
- content-length-range, exact matches and starts-with are enforced (a broken condition is 403 AccessDenied, "Invalid
  according to Policy"); an expired policy, a wrong signature and an unsigned form are refused, and nothing is
  written;
- a read-only user's signed form is refused.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.config import Config

import strata_e2e as e2e

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def signer(gateway, version="s3v4", keys=None):
    ak, sk = keys or (gateway.access_key, gateway.secret_key)
    return gateway.client_with(ak, sk, Config(signature_version=version, s3={"addressing_style": "path"}))


def post(p, data=None, body=b"hello", filename="hello.txt"):
    fields = dict(p["fields"])
    fields.update(data or {})
    return requests.post(p["url"], data=fields, files={"file": (filename, body)}, timeout=60)


def keys_of(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_a_signed_form_uploads_the_file(gateway, s3, bucket, version):
    p = signer(gateway, version).generate_presigned_post(bucket, "form/upload.bin", ExpiresIn=300)
    r = post(p, body=b"form body")
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="form/upload.bin")
    assert got["Body"].read() == b"form body"
    assert got["ETag"] == f'"{e2e.md5_hex(b"form body")}"'


def test_success_action_status_201_answers_a_post_response(gateway, bucket):
    p = signer(gateway).generate_presigned_post(
        bucket, "k201", Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}], ExpiresIn=300)
    r = post(p, body=b"x")
    assert r.status_code == 201, r.text
    root = ET.fromstring(r.content)
    assert root.tag.endswith("PostResponse")
    assert (root.findtext(f"{NS}Key") or root.findtext("Key")) == "k201"
    assert (root.findtext(f"{NS}Bucket") or root.findtext("Bucket")) == bucket


def test_content_length_range_is_enforced(gateway, s3, bucket):
    p = signer(gateway).generate_presigned_post(
        bucket, "ranged", Conditions=[["content-length-range", 5, 10]], ExpiresIn=300)
    assert post(p, body=b"12345678").status_code == 204
    for body in (b"1234", b"x" * 11):
        r = post(p, body=body)
        assert r.status_code == 400, (len(body), r.text)
    assert s3.get_object(Bucket=bucket, Key="ranged")["Body"].read() == b"12345678"


def test_exact_and_starts_with_conditions(gateway, s3, bucket):
    p = signer(gateway).generate_presigned_post(
        bucket, "user/${filename}",
        Fields={"Content-Type": "image/png"},
        Conditions=[["starts-with", "$key", "user/"], {"Content-Type": "image/png"}],
        ExpiresIn=300)
    assert post(p, data={"key": "user/photo.png"}).status_code == 204
    # A broken condition is 403 AccessDenied, "Invalid according to Policy: Policy Condition failed".
    for data in ({"key": "admin/photo.png"}, {"key": "user/x.png", "Content-Type": "text/html"}):
        r = post(p, data=data)
        e2e.assert_s3_error(r, 403, "AccessDenied")
        assert "Invalid according to Policy" in r.text
    assert keys_of(s3, bucket) == ["user/photo.png"]
    assert s3.head_object(Bucket=bucket, Key="user/photo.png")["ContentType"] == "image/png"


def test_an_expired_policy_is_refused(gateway, s3, bucket):
    p = signer(gateway).generate_presigned_post(bucket, "late", ExpiresIn=1)
    time.sleep(2.5)
    r = post(p)
    assert r.status_code == 403, r.text
    assert keys_of(s3, bucket) == []


@pytest.mark.parametrize("version,field,value", [
    ("s3v4", "x-amz-signature", "0" * 64),
    ("s3", "signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
])
def test_a_wrong_signature_is_refused(gateway, s3, bucket, version, field, value):
    p = signer(gateway, version).generate_presigned_post(bucket, "forged", ExpiresIn=300)
    e2e.assert_s3_error(post(p, data={field: value}), 403, "SignatureDoesNotMatch")
    assert keys_of(s3, bucket) == []


def test_an_unsigned_form_is_refused(gateway, s3, bucket):
    r = requests.post(gateway.url(f"/{bucket}"), data={"key": "anon"}, files={"file": ("a", b"a")}, timeout=60)
    e2e.assert_s3_error(r, 403, "AccessDenied")
    assert keys_of(s3, bucket) == []


READER = ("post-reader", "post-reader-secret-key")


def test_a_read_only_users_form_is_refused(make_gateway):
    gw, admin, _, b = e2e.read_only_setup(make_gateway, READER, "postro")
    p = signer(gw, keys=READER).generate_presigned_post(b, "nope", ExpiresIn=300)
    e2e.assert_s3_error(post(p), 403, "AccessDenied")
    assert keys_of(admin, b) == []
