"""S3 conformance: ownership controls and the ACL read answers of a bucket with ACLs disabled.

S3's default since April 2023 is Object Ownership `BucketOwnerEnforced`: ACLs are disabled, GetBucketAcl and
GetObjectAcl answer the owner's single FULL_CONTROL grant (AWS S3 API reference, "Controlling ownership of objects
and disabling ACLs"). Strata has no other mode; setting ACLs (PutBucketAcl, PutObjectAcl) is not implemented yet.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def test_ownership_controls_are_bucket_owner_enforced(s3, bucket):
    out = s3.get_bucket_ownership_controls(Bucket=bucket)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_acl_is_the_owners_full_control(s3, gateway, bucket):
    out = s3.get_bucket_acl(Bucket=bucket)
    assert out["Owner"]["ID"] == gateway.access_key
    assert len(out["Grants"]) == 1
    grant = out["Grants"][0]
    assert grant["Permission"] == "FULL_CONTROL"
    assert grant["Grantee"]["Type"] == "CanonicalUser"
    assert grant["Grantee"]["ID"] == out["Owner"]["ID"]


def test_bucket_acl_xml_shape(gateway, bucket):
    r = gateway.signed("GET", f"/{bucket}?acl")
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == f"{NS}AccessControlPolicy"
    grants = root.findall(f"{NS}AccessControlList/{NS}Grant")
    assert len(grants) == 1
    assert grants[0].findtext(f"{NS}Permission") == "FULL_CONTROL"
    grantee = grants[0].find(f"{NS}Grantee")
    assert grantee is not None and grantee.get(f"{XSI}type") == "CanonicalUser"


def test_object_acl_is_the_owners_full_control(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    out = s3.get_object_acl(Bucket=bucket, Key="k")
    assert [g["Permission"] for g in out["Grants"]] == ["FULL_CONTROL"]
    assert out["Grants"][0]["Grantee"]["ID"] == out["Owner"]["ID"]


def test_object_acl_of_a_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_acl(Bucket=bucket, Key="missing")
    assert error_of(e.value) == (404, "NoSuchKey")


@pytest.mark.parametrize("op", ["acl", "ownership"])
def test_missing_bucket_is_no_such_bucket(s3, op):
    with pytest.raises(ClientError) as e:
        if op == "acl":
            s3.get_bucket_acl(Bucket="no-such-bucket-acl")
        else:
            s3.get_bucket_ownership_controls(Bucket="no-such-bucket-acl")
    assert error_of(e.value) == (404, "NoSuchBucket")


def test_aws_cli_reads_the_acl(aws, bucket):
    import json
    out = json.loads(aws("s3api", "get-bucket-acl", "--bucket", bucket).stdout)
    assert [g["Permission"] for g in out["Grants"]] == ["FULL_CONTROL"]


def test_setting_acls_is_not_implemented_yet(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_of(e.value) == (501, "NotImplemented")
    # Nothing changed: still the owner alone.
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == ["FULL_CONTROL"]
