"""S3 conformance: CORS (AWS S3 API reference: PutBucketCors, GetBucketCors, DeleteBucketCors, OPTIONS object;
user guide "Using cross-origin resource sharing (CORS)").

- configurations are stored as given and checked as S3 checks them (methods GET/PUT/HEAD/POST/DELETE only, at most
  one wildcard per origin, at most 100 rules); GetBucketCors on a bucket without one is 404
  NoSuchCORSConfiguration;
- a preflight OPTIONS (unsigned) is answered from the first rule that allows its origin, method and every
  requested header: 200 with the Access-Control-Allow-* headers, else 403 AccessForbidden; without Origin or
  Access-Control-Request-Method it is 400;
- an actual request with an Origin gets the matching rule's headers on its answer, and none when no rule matches.
"""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

APP = "https://app.example.com"

RULES = {
    "CORSRules": [
        {
            "ID": "uploads",
            "AllowedOrigins": [APP, "https://*.tenant.example"],
            "AllowedMethods": ["PUT", "POST", "DELETE"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 3000,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
    ]
}


def preflight(gateway, path, origin=APP, method="PUT", headers=None):
    h = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(gateway.url(path), headers=h, timeout=30)


@pytest.fixture
def cors_bucket(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    return bucket


def test_get_without_a_configuration_is_no_such_cors_configuration(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchCORSConfiguration")


def test_a_configuration_round_trips(s3, cors_bucket):
    got = s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"]
    assert got[0]["ID"] == "uploads"
    assert got[0]["AllowedOrigins"] == [APP, "https://*.tenant.example"]
    assert got[0]["AllowedMethods"] == ["PUT", "POST", "DELETE"]
    assert got[0]["AllowedHeaders"] == ["content-type", "x-amz-*"]
    assert got[0]["ExposeHeaders"] == ["ETag", "x-amz-version-id"]
    assert got[0]["MaxAgeSeconds"] == 3000
    assert got[1]["AllowedOrigins"] == ["*"] and got[1]["AllowedMethods"] == ["GET", "HEAD"]


def test_delete_removes_it(s3, cors_bucket):
    s3.delete_bucket_cors(Bucket=cors_bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=cors_bucket)
    assert error_of(e.value) == (404, "NoSuchCORSConfiguration")


@pytest.mark.parametrize("rule,code", [
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["https://*.*.example"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
])
def test_invalid_rules_are_refused_and_change_nothing(s3, cors_bucket, rule, code):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": [rule]})
    assert error_of(e.value) == (400, code)
    assert len(s3.get_bucket_cors(Bucket=cors_bucket)["CORSRules"]) == 2


def test_more_than_100_rules_are_refused(s3, bucket):
    rules = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert error_of(e.value) == (400, "InvalidRequest")


def test_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=e2e.unique_bucket("nocors"), CORSConfiguration=RULES)
    assert error_of(e.value) == (404, "NoSuchBucket")


def test_preflight_allowed_by_the_first_matching_rule(gateway, cors_bucket):
    r = preflight(gateway, f"/{cors_bucket}/upload.bin", headers="Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Allow-Methods"] == "PUT, POST, DELETE"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]


def test_preflight_with_a_wildcard_origin(gateway, cors_bucket):
    r = preflight(gateway, f"/{cors_bucket}/k", origin="https://acme.tenant.example", method="DELETE")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://acme.tenant.example"
    r = preflight(gateway, f"/{cors_bucket}/k", origin="https://anyone.example", method="GET")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("origin,method,headers", [
    ("https://evil.example", "PUT", None),          # origin not allowed to PUT
    (APP, "PATCH", None),                             # method in no rule
    (APP, "PUT", "authorization, x-custom"),         # a header no rule allows
    ("https://anyone.example", "GET", "x-amz-date"),  # the any-origin rule allows no header
])
def test_preflight_not_allowed_is_access_forbidden(gateway, cors_bucket, origin, method, headers):
    r = preflight(gateway, f"/{cors_bucket}/k", origin=origin, method=method, headers=headers)
    e2e.assert_s3_error(r, 403, "AccessForbidden")
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_on_a_bucket_without_cors_is_forbidden(gateway, bucket):
    r = preflight(gateway, f"/{bucket}/k")
    e2e.assert_s3_error(r, 403, "AccessForbidden")


def test_preflight_without_origin_or_method_is_bad_request(gateway, cors_bucket):
    e2e.assert_s3_error(preflight(gateway, f"/{cors_bucket}/k", origin=None), 400, "BadRequest")
    e2e.assert_s3_error(preflight(gateway, f"/{cors_bucket}/k", method=None), 400, "BadRequest")


def test_preflight_on_a_missing_bucket(gateway):
    r = preflight(gateway, f"/{e2e.unique_bucket('gone')}/k")
    e2e.assert_s3_error(r, 404, "NoSuchBucket")


def test_actual_requests_carry_the_matching_rules_headers(gateway, s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="page.html", Body=b"<p>hi</p>")
    r = gateway.signed("GET", f"/{cors_bucket}/page.html", headers={"Origin": "https://anyone.example"})
    assert r.status_code == 200 and r.content == b"<p>hi</p>"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    r = gateway.signed("PUT", f"/{cors_bucket}/up.txt", body=b"x", headers={"Origin": APP})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-version-id"
    # No rule lets this origin PUT: the request itself is answered as usual, without CORS headers.
    r = gateway.signed("PUT", f"/{cors_bucket}/up2.txt", body=b"y", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    # Errors carry them too, so that a browser can read the error.
    r = gateway.signed("GET", f"/{cors_bucket}/missing", headers={"Origin": "https://anyone.example"})
    assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == "*"


READER = ("cors-reader", "cors-reader-secret-key")


def test_a_read_only_user_may_read_but_not_change_cors(make_gateway):
    gw, admin, reader, b = e2e.read_only_setup(make_gateway, READER, "corsro")
    admin.put_bucket_cors(Bucket=b, CORSConfiguration=RULES)
    assert len(reader.get_bucket_cors(Bucket=b)["CORSRules"]) == 2
    for call in (lambda: reader.delete_bucket_cors(Bucket=b),
                 lambda: reader.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": RULES["CORSRules"][1:]})):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value) == (403, "AccessDenied")
    assert len(admin.get_bucket_cors(Bucket=b)["CORSRules"]) == 2


def test_the_configuration_survives_a_restart(make_gateway):
    gw = make_gateway("")
    s3 = gw.client()
    b = e2e.unique_bucket("corsrs")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_cors(Bucket=b, CORSConfiguration=RULES)
    gw.restart()
    assert len(gw.client().get_bucket_cors(Bucket=b)["CORSRules"]) == 2
    r = preflight(gw, f"/{b}/k", method="GET", origin="https://x.example")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
