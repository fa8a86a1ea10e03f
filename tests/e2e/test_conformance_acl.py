"""S3 conformance: ownership controls and the ACL answers of a bucket with ACLs disabled.

S3's default since April 2023 is Object Ownership `BucketOwnerEnforced`: ACLs are disabled, GetBucketAcl and
GetObjectAcl answer the owner's single FULL_CONTROL grant (AWS S3 API reference, "Controlling ownership of objects
and disabling ACLs"); it is Strata's default too. Writing an ACL other than the owner's full control to such a bucket
is refused with AccessControlListNotSupported, as S3 refuses it. Public-access-block settings are stored and answered.
Buckets whose ACLs count (`ObjectWriter`, `BucketOwnerPreferred`) are in test_conformance_acl_enabled.py.
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


# --------------------------------------------------------------------------
# writing ACLs on a BucketOwnerEnforced bucket: only the owner's full control is accepted
# (AWS S3 user guide, "Troubleshooting" of Object Ownership: AccessControlListNotSupported)
# --------------------------------------------------------------------------

def _owner_only(s3, bucket):
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == ["FULL_CONTROL"]


def test_put_bucket_acl_other_than_private_is_not_supported(s3, bucket):
    for acl in ("public-read", "public-read-write", "authenticated-read"):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_acl(Bucket=bucket, ACL=acl)
        assert error_of(e.value) == (400, "AccessControlListNotSupported"), acl
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    _owner_only(s3, bucket)


def test_put_bucket_acl_restating_the_owners_grant_is_accepted(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    policy = {"Owner": acl["Owner"], "Grants": acl["Grants"]}
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy)
    public = dict(policy, Grants=policy["Grants"] + [{
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ"}])
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=public)
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    _owner_only(s3, bucket)


def test_put_object_acl(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=bucket, Key="missing", ACL="private")
    assert error_of(e.value) == (404, "NoSuchKey")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == ["FULL_CONTROL"]


@pytest.mark.parametrize("acl,ok", [("private", True), ("bucket-owner-full-control", True),
                                    ("public-read", False), ("authenticated-read", False)])
def test_writes_accept_only_the_owners_acl(s3, bucket, acl, ok):
    calls = {
        "put": lambda: s3.put_object(Bucket=bucket, Key=f"put-{acl}", Body=b"x", ACL=acl),
        "copy": lambda: s3.copy_object(Bucket=bucket, Key=f"copy-{acl}", ACL=acl,
                                       CopySource={"Bucket": bucket, "Key": "src"}),
        "multipart": lambda: s3.create_multipart_upload(Bucket=bucket, Key=f"mp-{acl}", ACL=acl),
    }
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    for name, call in calls.items():
        if ok:
            call()
        else:
            with pytest.raises(ClientError) as e:
                call()
            assert error_of(e.value) == (400, "AccessControlListNotSupported"), name
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == ({"src", f"put-{acl}", f"copy-{acl}"} if ok else {"src"})
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert len(uploads) == (1 if ok else 0)
    for u in uploads:
        s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])


def test_a_grant_header_on_put_is_not_supported(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", GrantRead='id="someone-else"')
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_create_bucket_with_a_public_acl_is_refused(s3):
    name = e2e.unique_bucket("aclpub")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name, ACL="public-read")
    assert error_of(e.value) == (400, "InvalidBucketAclWithObjectOwnership")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert error_of(e.value)[0] == 404
    s3.create_bucket(Bucket=name, ACL="private", ObjectOwnership="BucketOwnerEnforced")
    s3.delete_bucket(Bucket=name)


def test_ownership_controls_round_trip(s3, bucket):
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    out = s3.get_bucket_ownership_controls(Bucket=bucket)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    out = s3.get_bucket_ownership_controls(Bucket=bucket)
    assert out["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


# --------------------------------------------------------------------------
# public access block
# --------------------------------------------------------------------------

PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
       "RestrictPublicBuckets": True}


def test_public_access_block_round_trip(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchPublicAccessBlockConfiguration")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PAB)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == PAB
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchPublicAccessBlockConfiguration")


def test_public_access_block_of_a_missing_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.put_public_access_block(Bucket="no-such-bucket-pab", PublicAccessBlockConfiguration=PAB)
    assert error_of(e.value) == (404, "NoSuchBucket")


READER = ("acl-reader", "acl-reader-secret-key")


def test_read_only_user_reads_but_cannot_write_access_settings(make_gateway):
    gw, admin, reader, b = e2e.read_only_setup(make_gateway, READER, "aclro")
    admin.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=PAB)
    assert reader.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == PAB
    for call in (lambda: reader.delete_public_access_block(Bucket=b),
                 lambda: reader.put_bucket_acl(Bucket=b, ACL="private")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value) == (403, "AccessDenied")
    gw.restart()
    assert gw.client().get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == PAB
