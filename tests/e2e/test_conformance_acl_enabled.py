"""S3 conformance: buckets whose ACLs count (Object Ownership `ObjectWriter` or `BucketOwnerPreferred`), bucket
owners, and users that are accounts of their own.

AWS S3 API reference: CreateBucket (`x-amz-object-ownership`, canned ACLs, `x-amz-grant-*`), PutBucketAcl,
GetBucketAcl, PutObjectAcl, GetObjectAcl, PutBucketOwnershipControls, ListBuckets (`max-buckets`,
`continuation-token`), the user guide's "Access control list (ACL) overview" (grantees, canned ACLs, what each
permission allows), "Controlling ownership of objects" and "Blocking public access to your Amazon S3 storage":

- a bucket created with `ObjectWriter` (here also the gateway's configured default) stores its ACL and its objects'
  ACLs; canned ACLs expand to grants (the owner's FULL_CONTROL plus the groups or the bucket owner they name);
- the AllUsers group lets anonymous callers in (READ on a bucket lists it, READ on an object reads it), and a grant to
  a user by canonical id lets that user in; nobody else gets in;
- an object is owned by its writer, or under `BucketOwnerPreferred` with `bucket-owner-full-control` by the bucket
  owner;
- grants to an unknown canonical id are 400 InvalidArgument, by e-mail 400 UnresolvableGrantByEmailAddress; a canned
  ACL together with grant headers is 400 InvalidRequest;
- `BlockPublicAcls` refuses a public ACL (403 AccessDenied), `IgnorePublicAcls` makes public grants count for nobody;
- bucket names are global: another owner's bucket is 409 BucketAlreadyExists; a user of its own account (`access =
  "own"`) lists only its buckets and reaches another's only through an ACL or a policy;
- `x-amz-expected-bucket-owner` that names another owner is 403 AccessDenied.
"""

from __future__ import annotations

import uuid

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

ALICE = ("alice-own", "alice-own-secret-1")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
GATEWAY_CONFIG = f"""
default_object_ownership = "ObjectWriter"

[[users]]
access_key = "{ALICE[0]}"
secret_key = "{ALICE[1]}"
access = "own"
"""


@pytest.fixture(scope="module")
def gw(configured_gateway):
    return configured_gateway


@pytest.fixture(scope="module")
def root(gw):
    return gw.client()


@pytest.fixture(scope="module")
def alice(gw):
    return gw.client_with(*ALICE)


@pytest.fixture(scope="module")
def anon(gw):
    return gw.client_with("x", "y", Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                           retries={"max_attempts": 1}))


def new_bucket(client, **kwargs) -> str:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, **kwargs)
    return name


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert error_of(e.value) == (403, "AccessDenied"), e.value.response


def grants_of(out) -> set:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in out["Grants"]}


def test_ownership_comes_from_the_create_header_or_the_configured_default(root, gw):
    b = new_bucket(root)
    rules = root.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    enforced = new_bucket(root, ObjectOwnership="BucketOwnerEnforced")
    rules = root.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as e:
        root.put_bucket_acl(Bucket=enforced, ACL="public-read")
    assert error_of(e.value) == (400, "AccessControlListNotSupported")
    # Switching a bucket's ownership: its ACLs count again once enabled.
    root.put_bucket_ownership_controls(
        Bucket=enforced, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    root.put_bucket_acl(Bucket=enforced, ACL="public-read")
    assert (ALL_USERS, "READ") in grants_of(root.get_bucket_acl(Bucket=enforced))
    with pytest.raises(ClientError) as e:
        root.put_bucket_ownership_controls(
            Bucket=enforced, OwnershipControls={"Rules": [{"ObjectOwnership": "Nobody"}]})
    assert error_of(e.value)[0] == 400


def test_canned_bucket_acls_expand_to_grants(root, gw):
    b = new_bucket(root, ACL="public-read-write")
    out = root.get_bucket_acl(Bucket=b)
    assert out["Owner"]["ID"] == gw.access_key
    assert grants_of(out) == {(ALL_USERS, "READ"), (ALL_USERS, "WRITE"), (gw.access_key, "FULL_CONTROL")}
    # Groups come first, then users (as S3 lists them).
    assert out["Grants"][0]["Grantee"]["Type"] == "Group"
    root.put_bucket_acl(Bucket=b, ACL="private")
    assert grants_of(root.get_bucket_acl(Bucket=b)) == {(gw.access_key, "FULL_CONTROL")}


def test_public_read_lets_anonymous_callers_read_only_what_it_names(root, anon):
    b = new_bucket(root)
    root.put_object(Bucket=b, Key="public", Body=b"for all", ACL="public-read")
    root.put_object(Bucket=b, Key="private", Body=b"mine")
    assert anon.get_object(Bucket=b, Key="public")["Body"].read() == b"for all"
    denied(lambda: anon.get_object(Bucket=b, Key="private"))
    denied(lambda: anon.list_objects(Bucket=b))
    denied(lambda: anon.put_object(Bucket=b, Key="new", Body=b"x"))
    root.put_bucket_acl(Bucket=b, ACL="public-read")
    assert {o["Key"] for o in anon.list_objects(Bucket=b)["Contents"]} == {"public", "private"}
    # A reader of the bucket learns that a key is missing.
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=b, Key="missing")
    assert error_of(e.value) == (404, "NoSuchKey")


def test_a_users_grant_by_canonical_id(root, alice):
    b = new_bucket(root)
    root.put_object(Bucket=b, Key="shared", Body=b"s", GrantRead=f'id="{ALICE[0]}"')
    root.put_object(Bucket=b, Key="unshared", Body=b"u")
    assert alice.get_object(Bucket=b, Key="shared")["Body"].read() == b"s"
    denied(lambda: alice.get_object(Bucket=b, Key="unshared"))
    denied(lambda: alice.get_object_acl(Bucket=b, Key="shared"))
    denied(lambda: alice.put_object_acl(Bucket=b, Key="shared", ACL="public-read"))
    assert (ALICE[0], "READ") in grants_of(root.get_object_acl(Bucket=b, Key="shared"))
    # An AccessControlPolicy body granting READ on the bucket lets alice list it.
    acl = root.get_bucket_acl(Bucket=b)
    root.put_bucket_acl(Bucket=b, AccessControlPolicy={
        "Owner": acl["Owner"],
        "Grants": acl["Grants"] + [{"Grantee": {"ID": ALICE[0], "Type": "CanonicalUser"}, "Permission": "READ"}],
    })
    assert alice.list_objects_v2(Bucket=b)["KeyCount"] == 2
    denied(lambda: alice.put_object(Bucket=b, Key="x", Body=b"x"))


def test_bad_grants_are_refused(root):
    b = new_bucket(root)
    with pytest.raises(ClientError) as e:
        root.put_bucket_acl(Bucket=b, GrantRead='id="nobody-by-that-id"')
    assert error_of(e.value) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        root.put_bucket_acl(Bucket=b, GrantRead='emailAddress="someone@example.com"')
    assert error_of(e.value) == (400, "UnresolvableGrantByEmailAddress")
    with pytest.raises(ClientError) as e:
        root.put_object(Bucket=b, Key="k", Body=b"x", ACL="private", GrantRead=f'id="{ALICE[0]}"')
    assert error_of(e.value) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        root.put_bucket_acl(Bucket=b)
    assert error_of(e.value)[0] == 400
    assert root.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_objects_belong_to_their_writer_or_to_the_bucket_owner_when_preferred(root, alice, gw):
    b = new_bucket(root, ACL="public-read-write")
    alice.put_object(Bucket=b, Key="by-alice", Body=b"a")
    out = alice.get_object_acl(Bucket=b, Key="by-alice")
    assert out["Owner"]["ID"] == ALICE[0]
    assert grants_of(out) == {(ALICE[0], "FULL_CONTROL")}
    listed = root.list_objects(Bucket=b)["Contents"]
    assert [o["Owner"]["ID"] for o in listed] == [ALICE[0]]
    alice.put_object(Bucket=b, Key="shared-up", Body=b"a", ACL="bucket-owner-read")
    assert grants_of(root.get_object_acl(Bucket=b, Key="shared-up")) == {
        (ALICE[0], "FULL_CONTROL"), (gw.access_key, "READ")}
    pref = new_bucket(root, ACL="public-read-write", ObjectOwnership="BucketOwnerPreferred")
    alice.put_object(Bucket=pref, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    alice.put_object(Bucket=pref, Key="kept", Body=b"k")
    assert root.get_object_acl(Bucket=pref, Key="given")["Owner"]["ID"] == gw.access_key
    assert root.get_object_acl(Bucket=pref, Key="kept")["Owner"]["ID"] == ALICE[0]


def test_public_access_blocks(root, anon):
    b = new_bucket(root)
    root.put_object(Bucket=b, Key="pub", Body=b"p", ACL="public-read")
    root.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    denied(lambda: root.put_bucket_acl(Bucket=b, ACL="public-read"))
    denied(lambda: root.put_object(Bucket=b, Key="pub2", Body=b"p", ACL="public-read"))
    assert anon.get_object(Bucket=b, Key="pub")["Body"].read() == b"p"
    root.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    denied(lambda: anon.get_object(Bucket=b, Key="pub"))
    assert {o["Key"] for o in root.list_objects_v2(Bucket=b)["Contents"]} == {"pub"}


def test_an_own_account_user_has_its_buckets_only(root, alice):
    mine = new_bucket(alice)
    theirs = new_bucket(root)
    names = {b["Name"] for b in alice.list_buckets()["Buckets"]}
    assert mine in names and theirs not in names
    assert {mine, theirs} <= {b["Name"] for b in root.list_buckets()["Buckets"]}
    alice.put_object(Bucket=mine, Key="k", Body=b"x")
    assert alice.get_bucket_acl(Bucket=mine)["Owner"]["ID"] == ALICE[0]
    denied(lambda: alice.list_objects_v2(Bucket=theirs))
    denied(lambda: alice.put_object(Bucket=theirs, Key="k", Body=b"x"))
    denied(lambda: alice.delete_bucket(Bucket=theirs))
    with pytest.raises(ClientError) as e:
        alice.create_bucket(Bucket=theirs)
    assert error_of(e.value) == (409, "BucketAlreadyExists")
    with pytest.raises(ClientError) as e:
        alice.head_bucket(Bucket=f"acl-missing-{uuid.uuid4().hex[:8]}")
    assert error_of(e.value)[0] == 404


def test_expected_bucket_owner(root, gw):
    b = new_bucket(root)
    assert root.list_objects_v2(Bucket=b, ExpectedBucketOwner=gw.access_key)["KeyCount"] == 0
    denied(lambda: root.list_objects_v2(Bucket=b, ExpectedBucketOwner="someone-else"))
    denied(lambda: root.put_object(Bucket=b, Key="k", Body=b"x", ExpectedBucketOwner="someone-else"))
    assert root.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_list_buckets_pages_with_max_buckets(gw, alice):
    mine = sorted(new_bucket(alice) for _ in range(3))
    seen, token = [], None
    while True:
        kwargs = {"MaxBuckets": 1} | ({"ContinuationToken": token} if token else {})
        out = alice.list_buckets(**kwargs)
        assert len(out["Buckets"]) <= 1
        seen += [b["Name"] for b in out["Buckets"]]
        token = out.get("ContinuationToken")
        if not token:
            break
    assert [n for n in seen if n in mine] == mine
    assert seen == sorted(seen)
    e2e.assert_s3_error(gw.signed("GET", "/?max-buckets=0"), 400, "InvalidArgument")
