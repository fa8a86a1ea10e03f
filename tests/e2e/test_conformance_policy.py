"""S3 conformance: bucket policies (the subset Strata evaluates), with root, two users and anonymous callers.

Each case asserts what the AWS S3 user guide and API reference document ("Bucket policies", PutBucketPolicy,
GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus, "Blocking public access"):
- Put/Get/DeleteBucketPolicy (204 on put and delete; 404 NoSuchBucketPolicy without one); a document that is not
  a valid policy, names another bucket's resources, or uses what Strata does not evaluate (Condition) is 400
  MalformedPolicy.
- An explicit Deny wins over every grant; an Allow admits what a user's own grants do not; an Allow with the `*`
  principal makes the matching requests public (anonymous), unless the public-access block restricts public
  buckets; BlockPublicPolicy refuses a public policy (403).
- Principals by access key or IAM user ARN; actions with wildcards; resources `arn:aws:s3:::bucket/prefix*`;
  conditions on the client's address (`IpAddress` / `NotIpAddress` on `aws:SourceIp`) and on the transport
  (`Bool` on `aws:SecureTransport`: false over plain HTTP), and the String operators (with `IfExists`) and `Null` on
  request values: `s3:x-amz-*` headers, `s3:prefix`, `s3:RequestObjectTag/KEY` and `s3:ExistingObjectTag/KEY` (a
  missing key fails a positive operator and passes a negated one); other conditions are MalformedPolicy.

Users: alice has only `list` on `pol-*`; bob is read-only with no grants (reads everything, writes nothing).
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

ALICE = ("alice", "alice-secret-123")
BOB = ("bob", "bob-secret-1234")
GATEWAY_CONFIG = f"""
[[users]]
access_key = "{ALICE[0]}"
secret_key = "{ALICE[1]}"
grants = [{{ bucket = "pol-*", allow = ["list"] }}]

[[users]]
access_key = "{BOB[0]}"
secret_key = "{BOB[1]}"
access = "read-only"
"""


@pytest.fixture(scope="module")
def gw(configured_gateway):
    return configured_gateway


@pytest.fixture
def pbucket(gw):
    root = gw.client()
    name = f"pol-{uuid.uuid4().hex[:12]}"
    root.create_bucket(Bucket=name)
    for key in ("public/a.txt", "private/b.txt", "doc.txt"):
        root.put_object(Bucket=name, Key=key, Body=f"body of {key}".encode())
    yield name
    root.delete_bucket_policy(Bucket=name)
    root.delete_public_access_block(Bucket=name)
    e2e.empty_bucket(root, name)


def policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect: str, principal, action, resource) -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.value.response


def anonymous(gw):
    return gw.client_with("x", "y", Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                           retries={"max_attempts": 1}))


# --------------------------------------------------------------------------
# the policy document
# --------------------------------------------------------------------------

def test_put_get_delete_round_trip(gw, pbucket):
    root = gw.client()
    with pytest.raises(ClientError) as e:
        root.get_bucket_policy(Bucket=pbucket)
    assert error_of(e.value) == (404, "NoSuchBucketPolicy")
    doc = policy(pbucket, stmt("Allow", {"AWS": "alice"}, "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"))
    r = root.put_bucket_policy(Bucket=pbucket, Policy=doc)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert json.loads(root.get_bucket_policy(Bucket=pbucket)["Policy"]) == json.loads(doc)
    assert root.get_bucket_policy_status(Bucket=pbucket)["PolicyStatus"]["IsPublic"] is False
    assert root.delete_bucket_policy(Bucket=pbucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        root.get_bucket_policy(Bucket=pbucket)
    assert error_of(e.value) == (404, "NoSuchBucketPolicy")


@pytest.mark.parametrize("doc", [
    "not json",
    json.dumps({"Version": "2012-10-17"}),
    json.dumps({"Version": "2012-10-17", "Statement": [stmt("Allow", "*", "s3:GetObject", "arn:aws:s3:::elsewhere/*")]}),
    json.dumps({"Version": "2012-10-17", "Statement": [dict(stmt("Allow", "*", "s3:GetObject", "RES"),
                                                            Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})]}),
    json.dumps({"Version": "2012-10-17", "Statement": [dict(stmt("Allow", "*", "s3:GetObject", "RES"),
                                                            Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})]}),
    json.dumps({"Version": "2012-10-17", "Statement": [stmt("Permit", "*", "s3:GetObject", "RES")]}),
    json.dumps({"Version": "1999-01-01", "Statement": [stmt("Allow", "*", "s3:GetObject", "RES")]}),
])
def test_a_bad_policy_is_malformed(gw, pbucket, doc):
    doc = doc.replace("RES", f"arn:aws:s3:::{pbucket}/*")
    with pytest.raises(ClientError) as e:
        gw.client().put_bucket_policy(Bucket=pbucket, Policy=doc)
    assert error_of(e.value) == (400, "MalformedPolicy")
    with pytest.raises(ClientError):
        gw.client().get_bucket_policy(Bucket=pbucket)


def test_a_policy_of_a_missing_bucket_is_no_such_bucket(gw):
    with pytest.raises(ClientError) as e:
        gw.client().put_bucket_policy(Bucket="pol-missing-bucket", Policy=policy(
            "pol-missing-bucket", stmt("Allow", "*", "s3:GetObject", "arn:aws:s3:::pol-missing-bucket/*")))
    assert error_of(e.value) == (404, "NoSuchBucket")


def test_only_bucket_admins_manage_policies(gw, pbucket):
    doc = policy(pbucket, stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"))
    for who in (ALICE, BOB):
        denied(lambda: gw.client_with(*who).put_bucket_policy(Bucket=pbucket, Policy=doc))


# --------------------------------------------------------------------------
# public access
# --------------------------------------------------------------------------

def test_a_public_read_policy_lets_anonymous_callers_read_only_what_it_names(gw, pbucket):
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/public/*")))
    assert root.get_bucket_policy_status(Bucket=pbucket)["PolicyStatus"]["IsPublic"] is True
    anon = anonymous(gw)
    assert anon.get_object(Bucket=pbucket, Key="public/a.txt")["Body"].read() == b"body of public/a.txt"
    assert requests.get(gw.url(f"/{pbucket}/public/a.txt"), timeout=30).content == b"body of public/a.txt"
    assert requests.head(gw.url(f"/{pbucket}/public/a.txt"), timeout=30).status_code == 200
    denied(lambda: anon.get_object(Bucket=pbucket, Key="private/b.txt"))
    denied(lambda: anon.put_object(Bucket=pbucket, Key="public/new.txt", Body=b"x"))
    denied(lambda: anon.list_objects_v2(Bucket=pbucket))
    r = requests.get(gw.url(f"/{pbucket}/private/b.txt"), timeout=30)
    e2e.assert_s3_error(r, 403, "AccessDenied")


def test_restrict_public_buckets_shuts_anonymous_callers_out(gw, pbucket):
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*")))
    anon = anonymous(gw)
    assert anon.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read()
    root.put_public_access_block(Bucket=pbucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    denied(lambda: anon.get_object(Bucket=pbucket, Key="doc.txt"))
    # Signed users the policy names still get in.
    assert gw.client_with(*ALICE).get_object(Bucket=pbucket, Key="doc.txt")["Body"].read()


def test_block_public_policy_refuses_a_public_policy(gw, pbucket):
    root = gw.client()
    root.put_public_access_block(Bucket=pbucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})
    denied(lambda: root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"))))
    # A policy naming a user is not public: accepted.
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", {"AWS": "alice"}, "s3:GetObject", f"arn:aws:s3:::{pbucket}/*")))


def test_anonymous_callers_never_copy_from_another_bucket(gw, pbucket):
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", "*", "s3:PutObject", f"arn:aws:s3:::{pbucket}/drop/*")))
    anon = anonymous(gw)
    anon.put_object(Bucket=pbucket, Key="drop/ok.txt", Body=b"dropped")
    assert root.get_object(Bucket=pbucket, Key="drop/ok.txt")["Body"].read() == b"dropped"
    denied(lambda: anon.copy_object(Bucket=pbucket, Key="drop/copy.txt",
                                    CopySource={"Bucket": pbucket, "Key": "private/b.txt"}))


# --------------------------------------------------------------------------
# users: Allow adds, Deny wins
# --------------------------------------------------------------------------

def test_an_allow_admits_what_grants_do_not(gw, pbucket):
    alice = gw.client_with(*ALICE)
    denied(lambda: alice.get_object(Bucket=pbucket, Key="doc.txt"))
    gw.client().put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", {"AWS": ["arn:aws:iam::123456789012:user/alice"]}, ["s3:Get*"],
                      [f"arn:aws:s3:::{pbucket}/*"])))
    assert alice.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read() == b"body of doc.txt"
    assert alice.head_object(Bucket=pbucket, Key="private/b.txt")["ContentLength"] > 0
    denied(lambda: alice.put_object(Bucket=pbucket, Key="x", Body=b"x"))
    denied(lambda: gw.client_with(*BOB).put_object(Bucket=pbucket, Key="x", Body=b"x"))


def test_an_allow_lets_a_read_only_user_write_where_it_says(gw, pbucket):
    bob = gw.client_with(*BOB)
    gw.client().put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", {"AWS": "bob"}, "s3:PutObject", f"arn:aws:s3:::{pbucket}/uploads/*")))
    bob.put_object(Bucket=pbucket, Key="uploads/from-bob.txt", Body=b"bob")
    denied(lambda: bob.put_object(Bucket=pbucket, Key="elsewhere.txt", Body=b"bob"))
    denied(lambda: bob.delete_object(Bucket=pbucket, Key="uploads/from-bob.txt"))


def test_a_deny_wins_over_every_grant(gw, pbucket):
    root, bob = gw.client(), gw.client_with(*BOB)
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket,
        stmt("Deny", {"AWS": "bob"}, "s3:GetObject", f"arn:aws:s3:::{pbucket}/private/*"),
        stmt("Deny", "*", "s3:DeleteObject", f"arn:aws:s3:::{pbucket}/*")))
    denied(lambda: bob.get_object(Bucket=pbucket, Key="private/b.txt"))
    assert bob.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read() == b"body of doc.txt"
    # Root too: nobody deletes while the policy says so...
    denied(lambda: root.delete_object(Bucket=pbucket, Key="doc.txt"))
    r = root.delete_objects(Bucket=pbucket, Delete={"Objects": [{"Key": "doc.txt"}]})
    assert [(x["Key"], x["Code"]) for x in r["Errors"]] == [("doc.txt", "AccessDenied")]
    assert root.head_object(Bucket=pbucket, Key="doc.txt")["ContentLength"] > 0
    # ...but the owner can always remove the policy itself.
    root.delete_bucket_policy(Bucket=pbucket)
    root.delete_object(Bucket=pbucket, Key="doc.txt")


def test_version_actions_are_their_own(gw, pbucket):
    root, alice = gw.client(), gw.client_with(*ALICE)
    root.put_bucket_versioning(Bucket=pbucket, VersioningConfiguration={"Status": "Enabled"})
    vid = root.put_object(Bucket=pbucket, Key="v.txt", Body=b"v1")["VersionId"]
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", {"AWS": "alice"}, "s3:GetObject", f"arn:aws:s3:::{pbucket}/*")))
    assert alice.get_object(Bucket=pbucket, Key="v.txt")["Body"].read() == b"v1"
    denied(lambda: alice.get_object(Bucket=pbucket, Key="v.txt", VersionId=vid))
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Allow", {"AWS": "alice"}, ["s3:GetObject", "s3:GetObjectVersion"],
                      f"arn:aws:s3:::{pbucket}/*")))
    assert alice.get_object(Bucket=pbucket, Key="v.txt", VersionId=vid)["Body"].read() == b"v1"


def test_list_needs_the_bucket_resource(gw, pbucket):
    bob = gw.client_with(*BOB)
    gw.client().put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket, stmt("Deny", {"AWS": "bob"}, "s3:ListBucket", f"arn:aws:s3:::{pbucket}")))
    denied(lambda: bob.list_objects_v2(Bucket=pbucket))
    assert bob.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read()


def test_a_recreated_bucket_does_not_inherit_the_old_policy(gw):
    root, anon = gw.client(), anonymous(gw)
    name = f"pol-{uuid.uuid4().hex[:12]}"
    root.create_bucket(Bucket=name)
    root.put_bucket_policy(Bucket=name, Policy=policy(name, stmt("Allow", "*", "s3:*", f"arn:aws:s3:::{name}/*")))
    root.put_object(Bucket=name, Key="k", Body=b"x")
    assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    root.delete_object(Bucket=name, Key="k")
    root.delete_bucket(Bucket=name)
    root.create_bucket(Bucket=name)
    root.put_object(Bucket=name, Key="k", Body=b"private now")
    denied(lambda: anon.get_object(Bucket=name, Key="k"))
    e2e.empty_bucket(root, name)


def test_a_source_ip_condition_limits_a_public_read(gw, pbucket):
    root, anon = gw.client(), anonymous(gw)
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"),
        Condition={"IpAddress": {"aws:SourceIp": ["10.9.0.0/16", "203.0.113.7"]}})))
    # The suite's clients connect from 127.0.0.1: outside every block.
    denied(lambda: anon.get_object(Bucket=pbucket, Key="doc.txt"))
    assert root.get_bucket_policy_status(Bucket=pbucket)["PolicyStatus"]["IsPublic"] is False
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"),
        Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    assert anon.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read() == b"body of doc.txt"


def test_deny_outside_an_address_range_applies_to_everyone(gw, pbucket):
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Deny", "*", "s3:*", [f"arn:aws:s3:::{pbucket}", f"arn:aws:s3:::{pbucket}/*"]),
        Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}})))
    denied(lambda: root.get_object(Bucket=pbucket, Key="doc.txt"))
    denied(lambda: root.list_objects_v2(Bucket=pbucket))
    # The owner can still remove the policy, and then reads again.
    root.delete_bucket_policy(Bucket=pbucket)
    assert root.get_object(Bucket=pbucket, Key="doc.txt")["Body"].read() == b"body of doc.txt"


def test_requiring_https_denies_plain_http(gw, pbucket):
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Deny", "*", "s3:*", f"arn:aws:s3:::{pbucket}/*"),
        Condition={"Bool": {"aws:SecureTransport": "false"}})))
    # Strata serves plain HTTP, so the common "HTTPS only" policy refuses every object request.
    denied(lambda: root.get_object(Bucket=pbucket, Key="doc.txt"))
    root.delete_bucket_policy(Bucket=pbucket)


def test_a_header_condition_requires_what_a_write_sends(gw, pbucket):
    # The user guide's "require server-side encryption" policy: PUTs without the header (or with another value)
    # are denied; with it they pass. (StringNotEquals holds when the header is absent.)
    root = gw.client()
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Deny", "*", "s3:PutObject", f"arn:aws:s3:::{pbucket}/*"),
        Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}})))
    denied(lambda: root.put_object(Bucket=pbucket, Key="plain", Body=b"x"))
    denied(lambda: root.put_object(Bucket=pbucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms"))
    root.delete_bucket_policy(Bucket=pbucket)
    with pytest.raises(ClientError):
        root.head_object(Bucket=pbucket, Key="plain")


def test_a_prefix_condition_limits_what_a_listing_may_ask(gw, pbucket):
    alice = gw.client_with(*ALICE)
    root = gw.client()
    root.put_object(Bucket=pbucket, Key="home/alice/a.txt", Body=b"a")
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(pbucket, dict(
        stmt("Deny", {"AWS": ALICE[0]}, "s3:ListBucket", f"arn:aws:s3:::{pbucket}"),
        Condition={"StringNotLike": {"s3:prefix": "home/alice/*"}})))
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=pbucket, Prefix="home/alice/")["Contents"]] == [
        "home/alice/a.txt"]
    denied(lambda: alice.list_objects_v2(Bucket=pbucket, Prefix="home/"))
    denied(lambda: alice.list_objects_v2(Bucket=pbucket))   # no prefix at all: the negated operator holds
    assert root.list_objects_v2(Bucket=pbucket)["KeyCount"] >= 1   # the Deny names alice only
    root.delete_bucket_policy(Bucket=pbucket)


def test_object_tag_conditions_read_the_objects_and_the_requests_tags(gw, pbucket):
    root = gw.client()
    root.put_object(Bucket=pbucket, Key="pub", Body=b"p", Tagging="security=public")
    root.put_object(Bucket=pbucket, Key="priv", Body=b"q", Tagging="security=secret")
    root.put_bucket_policy(Bucket=pbucket, Policy=policy(
        pbucket,
        dict(stmt("Allow", "*", "s3:GetObject", f"arn:aws:s3:::{pbucket}/*"),
             Condition={"StringEquals": {"s3:ExistingObjectTag/security": "public"}}),
        dict(stmt("Deny", "*", "s3:PutObject", f"arn:aws:s3:::{pbucket}/*"),
             Condition={"StringEqualsIfExists": {"s3:RequestObjectTag/security": "secret"}}),
    ))
    anon = anonymous(gw)
    assert anon.get_object(Bucket=pbucket, Key="pub")["Body"].read() == b"p"
    denied(lambda: anon.get_object(Bucket=pbucket, Key="priv"))
    denied(lambda: root.put_object(Bucket=pbucket, Key="new", Body=b"n", Tagging="security=secret"))
    root.put_object(Bucket=pbucket, Key="new", Body=b"n", Tagging="security=public")
    # IfExists: a request without the key makes the condition true, so the Deny applies to untagged writes too.
    denied(lambda: root.put_object(Bucket=pbucket, Key="untagged", Body=b"n"))
    root.delete_bucket_policy(Bucket=pbucket)
