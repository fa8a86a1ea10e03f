"""S3 conformance: Object Lock.

Each case asserts what the AWS S3 API reference and user guide document ("Locking objects with Object Lock",
PutObjectLockConfiguration, PutObjectRetention, PutObjectLegalHold, DeleteObject), through boto3 or raw SigV4 HTTP:
- A bucket created with `x-amz-bucket-object-lock-enabled: true` is versioned, and its versioning cannot be
  suspended (409 InvalidBucketState); a versioned bucket may get Object Lock later, an unversioned one may not.
- GetObjectLockConfiguration: 404 ObjectLockConfigurationNotFoundError without one; a default retention needs a
  mode and exactly one positive period.
- Retention (GOVERNANCE, COMPLIANCE) and legal hold come with a write (`x-amz-object-lock-*`), from the bucket's
  default, or from Put/GetObjectRetention and Put/GetObjectLegalHold, per version; lock requests on a bucket without
  Object Lock are 400 InvalidRequest.
- A protected version cannot be deleted: 403 AccessDenied; governance gives way to
  `x-amz-bypass-governance-retention`, compliance and legal holds to nothing until they end. A plain delete still
  adds a delete marker. Retention can be extended, never shortened through compliance.
- Moves, key rotation, re-sealing and scrubbing never lose a locked version (tests that try).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB, error_of


def utc_in(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


@pytest.fixture
def lbucket(s3):
    """A bucket created with Object Lock enabled; its versions are removed (bypassing governance) afterwards."""
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            try:
                s3.put_object_legal_hold(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                                         LegalHold={"Status": "OFF"})
            except ClientError:
                pass
            try:
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
            except ClientError:
                pass  # compliance: stays until it ends; the gateway is thrown away with the module
    try:
        s3.delete_bucket(Bucket=name)
    except ClientError:
        pass


def put_locked(s3, bucket, key, body=b"locked", mode="GOVERNANCE", seconds=3600, **kw):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ObjectLockMode=mode,
                         ObjectLockRetainUntilDate=utc_in(seconds), **kw)["VersionId"]


# --------------------------------------------------------------------------
# bucket configuration
# --------------------------------------------------------------------------

def test_a_lock_bucket_is_versioned_and_reports_its_configuration(s3, lbucket):
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    cfg = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled" and "Rule" not in cfg


def test_a_lock_bucket_cannot_suspend_versioning(s3, lbucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=lbucket, VersioningConfiguration={"Status": "Suspended"})
    assert error_of(e.value) == (409, "InvalidBucketState")
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"


def test_no_configuration_is_not_found(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert error_of(e.value) == (404, "ObjectLockConfigurationNotFoundError")


def test_lock_on_an_existing_bucket_needs_versioning(s3, bucket):
    cfg = {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=cfg)
    assert error_of(e.value) == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=cfg)
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


def test_default_retention_applies_to_new_versions(s3, lbucket):
    s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}})
    rule = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]["Rule"]
    assert rule["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 2}
    vid = s3.put_object(Bucket=lbucket, Key="k", Body=b"x")["VersionId"]
    h = s3.head_object(Bucket=lbucket, Key="k")
    assert h["ObjectLockMode"] == "GOVERNANCE"
    left = (h["ObjectLockRetainUntilDate"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 2 * 86400 - 120 < left <= 2 * 86400 + 5
    r = s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=vid)["Retention"]
    assert r["Mode"] == "GOVERNANCE"


@pytest.mark.parametrize("rule,code", [
    ({"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}, (400, "MalformedXML")),
    ({"DefaultRetention": {"Mode": "GOVERNANCE"}}, (400, "MalformedXML")),
    ({"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 0}}, (400, "InvalidArgument")),
    # The XML schema's enumeration: an unknown (or lower-case) mode does not parse.
    ({"DefaultRetention": {"Mode": "governance", "Days": 1}}, (400, "MalformedXML")),
])
def test_a_bad_default_retention_is_refused(s3, lbucket, rule, code):
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=lbucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": rule})
    assert error_of(e.value) == code


# --------------------------------------------------------------------------
# retention and legal hold on writes
# --------------------------------------------------------------------------

def test_lock_headers_need_a_lock_bucket(s3, bucket):
    with pytest.raises(ClientError) as e:
        put_locked(s3, bucket, "k")
    assert error_of(e.value) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert error_of(e.value) == (400, "InvalidRequest")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_mode_and_date_come_together_and_in_the_future(gateway, s3, lbucket):
    r = gateway.signed("PUT", f"/{lbucket}/k", body=b"x", headers={"x-amz-object-lock-mode": "GOVERNANCE"})
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        put_locked(s3, lbucket, "k", seconds=-60)
    assert error_of(e.value) == (400, "InvalidArgument")


def test_a_write_returns_its_lock_on_get_and_head(s3, lbucket):
    until = utc_in(3600).replace(microsecond=0)
    s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    for r in (s3.get_object(Bucket=lbucket, Key="k"), s3.head_object(Bucket=lbucket, Key="k")):
        assert r["ObjectLockMode"] == "COMPLIANCE"
        assert r["ObjectLockRetainUntilDate"] == until
        assert r["ObjectLockLegalHoldStatus"] == "ON"
    s3.put_object_legal_hold(Bucket=lbucket, Key="k", LegalHold={"Status": "OFF"})


def test_multipart_upload_carries_its_lock(s3, lbucket):
    up = s3.create_multipart_upload(Bucket=lbucket, Key="mp", ObjectLockMode="GOVERNANCE",
                                    ObjectLockRetainUntilDate=utc_in(3600))["UploadId"]
    etag = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=up, PartNumber=1, Body=os.urandom(MiB))["ETag"]
    vid = s3.complete_multipart_upload(Bucket=lbucket, Key="mp", UploadId=up,
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="mp", VersionId=vid)
    assert error_of(e.value) == (403, "AccessDenied")


def test_a_copy_does_not_inherit_its_source_lock(s3, lbucket):
    put_locked(s3, lbucket, "src", mode="COMPLIANCE")
    vid = s3.copy_object(Bucket=lbucket, Key="dst", CopySource={"Bucket": lbucket, "Key": "src"})["VersionId"]
    assert "ObjectLockMode" not in s3.head_object(Bucket=lbucket, Key="dst")
    s3.delete_object(Bucket=lbucket, Key="dst", VersionId=vid)


# --------------------------------------------------------------------------
# deletes of protected versions
# --------------------------------------------------------------------------

def test_compliance_refuses_every_delete_of_the_version(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="COMPLIANCE")
    for bypass in (False, True):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid, BypassGovernanceRetention=bypass)
        assert error_of(e.value) == (403, "AccessDenied")
    # A plain delete only hides it behind a marker.
    assert s3.delete_object(Bucket=lbucket, Key="k")["DeleteMarker"] is True
    assert s3.get_object(Bucket=lbucket, Key="k", VersionId=vid)["Body"].read() == b"locked"


def test_governance_gives_way_to_the_bypass_header(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="GOVERNANCE")
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid)
    assert error_of(e.value) == (403, "AccessDenied")
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=lbucket, Key="k", VersionId=vid)
    assert error_of(e.value)[0] == 404


def test_a_legal_hold_holds_until_released(s3, lbucket):
    vid = s3.put_object(Bucket=lbucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="k")["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert error_of(e.value) == (403, "AccessDenied")
    s3.put_object_legal_hold(Bucket=lbucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="k", VersionId=vid)["LegalHold"]["Status"] == "OFF"
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid)


def test_retention_ends_on_time(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="COMPLIANCE", seconds=2)
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid)
    time.sleep(2.5)
    s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid)


def test_delete_objects_reports_locked_versions_one_by_one(s3, lbucket):
    locked = put_locked(s3, lbucket, "locked", mode="COMPLIANCE")
    free = s3.put_object(Bucket=lbucket, Key="free", Body=b"x")["VersionId"]
    r = s3.delete_objects(Bucket=lbucket, Delete={"Objects": [{"Key": "locked", "VersionId": locked},
                                                              {"Key": "free", "VersionId": free}]})
    assert [(d["Key"], d["VersionId"]) for d in r["Deleted"]] == [("free", free)]
    assert [(x["Key"], x["Code"]) for x in r["Errors"]] == [("locked", "AccessDenied")]


def test_a_bucket_with_locked_versions_cannot_be_deleted(s3, lbucket):
    put_locked(s3, lbucket, "k")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=lbucket)
    assert error_of(e.value) == (409, "BucketNotEmpty")


# --------------------------------------------------------------------------
# changing retention
# --------------------------------------------------------------------------

def test_retention_may_be_extended_but_not_shortened_through_compliance(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="COMPLIANCE", seconds=3600)
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(7200)})
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(60)},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(9000)}):
        with pytest.raises(ClientError) as e:
            s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=retention,
                                    BypassGovernanceRetention=True)
        assert error_of(e.value) == (403, "AccessDenied")
    left = (s3.get_object_retention(Bucket=lbucket, Key="k")["Retention"]["RetainUntilDate"]
            - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert left > 7000


def test_governance_may_be_shortened_with_the_bypass_only(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="GOVERNANCE", seconds=3600)
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(60)}
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=shorter)
    assert error_of(e.value) == (403, "AccessDenied")
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=shorter, BypassGovernanceRetention=True)
    left = (s3.get_object_retention(Bucket=lbucket, Key="k")["Retention"]["RetainUntilDate"]
            - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert left < 120


def test_governance_becomes_compliance_with_the_bypass_only(s3, lbucket):
    vid = put_locked(s3, lbucket, "k", mode="GOVERNANCE", seconds=3600)
    stricter = {"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(3700)}
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=stricter)
    assert error_of(e.value) == (403, "AccessDenied")
    assert s3.get_object_retention(Bucket=lbucket, Key="k")["Retention"]["Mode"] == "GOVERNANCE"
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=vid, Retention=stricter, BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket=lbucket, Key="k")["Retention"]["Mode"] == "COMPLIANCE"


def test_retention_belongs_to_one_version(s3, lbucket):
    old = s3.put_object(Bucket=lbucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=lbucket, Key="k", Body=b"new")
    s3.put_object_retention(Bucket=lbucket, Key="k", VersionId=old,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(3600)})
    assert s3.get_object_retention(Bucket=lbucket, Key="k", VersionId=old)["Retention"]["Mode"] == "GOVERNANCE"
    with pytest.raises(ClientError) as e:
        s3.get_object_retention(Bucket=lbucket, Key="k")
    assert error_of(e.value) == (404, "NoSuchObjectLockConfiguration")


def test_retention_calls_need_a_lock_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (lambda: s3.get_object_retention(Bucket=bucket, Key="k"),
                 lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k"),
                 lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"}),
                 lambda: s3.put_object_retention(Bucket=bucket, Key="k", Retention={
                     "Mode": "GOVERNANCE", "RetainUntilDate": utc_in(60)})):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value) == (400, "InvalidRequest")


def test_a_past_retain_until_date_is_refused(s3, lbucket):
    s3.put_object(Bucket=lbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=lbucket, Key="k",
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(-60)})
    assert error_of(e.value) == (400, "InvalidArgument")


# --------------------------------------------------------------------------
# the background never loses a locked version
# --------------------------------------------------------------------------

def test_moves_rotation_resealing_and_scrub_keep_a_locked_version(gateway, s3, lbucket):
    gateway.require_admin()
    data = os.urandom(2 * MiB + 5)
    vid = put_locked(s3, lbucket, "k", body=data, mode="COMPLIANCE")
    s3.put_object(Bucket=lbucket, Key="k", Body=b"newer")
    row = "k\x00" + vid
    # A move of the locked (noncurrent) version to another backend, verified and committed.
    r = gateway.admin("POST", "/admin/moves", json={"bucket": lbucket, "key": row, "to": ["cold"]})
    assert r.status_code in (200, 201, 202), r.text
    deadline = time.monotonic() + 60
    while gateway.object_info(lbucket, row).json()["replicas"] != ["cold"]:
        assert time.monotonic() < deadline, "the move did not commit within 60 s"
        time.sleep(0.2)
    # A key rotation of that backend (re-sealing its blobs) and a scrub pass.
    assert gateway.admin("POST", "/admin/keys/rotate", json={"backend": "cold"}).status_code == 200
    assert gateway.admin("POST", "/admin/scrub").status_code == 200
    got = s3.get_object(Bucket=lbucket, Key="k", VersionId=vid)
    assert e2e.sha256(got["Body"].read()) == e2e.sha256(data)
    assert got["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert error_of(e.value) == (403, "AccessDenied")


def test_unknown_modes_and_statuses_in_a_body_are_malformed_xml(s3, lbucket):
    vid = s3.put_object(Bucket=lbucket, Key="enum", Body=b"x")["VersionId"]
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    for mode in ("abc", "governance"):
        with pytest.raises(ClientError) as e:
            s3.put_object_retention(Bucket=lbucket, Key="enum", VersionId=vid,
                                    Retention={"Mode": mode, "RetainUntilDate": until})
        assert error_of(e.value) == (400, "MalformedXML")
    with pytest.raises(ClientError) as e:
        s3.put_object_legal_hold(Bucket=lbucket, Key="enum", VersionId=vid, LegalHold={"Status": "abc"})
    assert error_of(e.value) == (400, "MalformedXML")
    assert "ObjectLockMode" not in s3.head_object(Bucket=lbucket, Key="enum", VersionId=vid)
