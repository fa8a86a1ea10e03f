"""Per-bucket grants: two users besides root, each allowed only what the config's grants say.

S3 itself answers a request outside a user's permissions with 403 AccessDenied (an XML error body) whatever the
operation; a user may always list the buckets (ListBuckets). Grants here: `read` (GET, HEAD, object tags and
attributes, a copy's source), `write` (PUT, copy into, delete, multipart uploads, object tags), `list`
(ListObjects v1/v2/versions, ListMultipartUploads, HeadBucket, GetBucketLocation), `admin` (create, delete, bucket
configuration). `bucket` is a name or a prefix ending in `*`. Tested with boto3 and raw HTTP.

- alice: read + list on `shared-*`, everything on `alice-*`.
- bob: `read-only` access with `read` on `shared-*` only (no list), and no grant at all elsewhere.
- carol: read, write and list on the Object Lock bucket `lockbox` (no admin: no governance bypass).
"""

from __future__ import annotations

import subprocess

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e

ALICE = ("alice", "alice-secret-123")
BOB = ("bob", "bob-secret-1234")
CAROL = ("carol", "carol-secret-12")
GATEWAY_CONFIG = f"""
[[users]]
access_key = "{ALICE[0]}"
secret_key = "{ALICE[1]}"
grants = [
  {{ bucket = "shared-*", allow = ["read", "list"] }},
  {{ bucket = "alice-*", allow = ["read", "write", "list", "admin"] }},
]

[[users]]
access_key = "{BOB[0]}"
secret_key = "{BOB[1]}"
access = "read-only"
grants = [{{ bucket = "shared-*", allow = ["read"] }}]

[[users]]
access_key = "{CAROL[0]}"
secret_key = "{CAROL[1]}"
grants = [{{ bucket = "lockbox", allow = ["read", "write", "list"] }}]
"""


@pytest.fixture(scope="module")
def gw(configured_gateway):
    return configured_gateway


@pytest.fixture(scope="module")
def clients(gw):
    root = gw.client()
    for b in ("shared-docs", "alice-work", "other-stuff"):
        root.create_bucket(Bucket=b)
        root.put_object(Bucket=b, Key="doc.txt", Body=b"hello " + b.encode())
    return root, gw.client_with(*ALICE), gw.client_with(*BOB)


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.value.response
    code = e.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "403"), code  # HEAD answers carry no body, so boto3 reports the status


def test_a_read_grant_allows_get_and_head_and_nothing_else(clients):
    _, alice, bob = clients
    for c in (alice, bob):
        assert c.get_object(Bucket="shared-docs", Key="doc.txt")["Body"].read() == b"hello shared-docs"
        assert c.head_object(Bucket="shared-docs", Key="doc.txt")["ContentLength"] == len(b"hello shared-docs")
        assert c.get_object_tagging(Bucket="shared-docs", Key="doc.txt")["TagSet"] == []
    denied(lambda: alice.put_object(Bucket="shared-docs", Key="new.txt", Body=b"x"))
    denied(lambda: alice.delete_object(Bucket="shared-docs", Key="doc.txt"))
    denied(lambda: alice.put_object_tagging(Bucket="shared-docs", Key="doc.txt",
                                            Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}))
    denied(lambda: alice.create_multipart_upload(Bucket="shared-docs", Key="mp"))


def test_list_needs_a_list_grant(clients):
    _, alice, bob = clients
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="shared-docs")["Contents"]] == ["doc.txt"]
    assert alice.head_bucket(Bucket="shared-docs")["ResponseMetadata"]["HTTPStatusCode"] == 200
    denied(lambda: bob.list_objects_v2(Bucket="shared-docs"))
    denied(lambda: bob.list_objects(Bucket="shared-docs"))
    denied(lambda: bob.head_bucket(Bucket="shared-docs"))


def test_no_grant_no_access(clients):
    _, alice, bob = clients
    for c in (alice, bob):
        denied(lambda c=c: c.get_object(Bucket="other-stuff", Key="doc.txt"))
        denied(lambda c=c: c.head_object(Bucket="other-stuff", Key="doc.txt"))
        denied(lambda c=c: c.list_objects_v2(Bucket="other-stuff"))
        denied(lambda c=c: c.put_object(Bucket="other-stuff", Key="x", Body=b"x"))
        denied(lambda c=c: c.get_bucket_tagging(Bucket="other-stuff"))
    denied(lambda: bob.get_object(Bucket="alice-work", Key="doc.txt"))


def test_a_full_grant_allows_writes_and_bucket_management_under_its_prefix(clients):
    root, alice, _ = clients
    alice.put_object(Bucket="alice-work", Key="mine.txt", Body=b"mine")
    assert root.get_object(Bucket="alice-work", Key="mine.txt")["Body"].read() == b"mine"
    up = alice.create_multipart_upload(Bucket="alice-work", Key="big")
    part = alice.upload_part(Bucket="alice-work", Key="big", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 100)
    alice.complete_multipart_upload(Bucket="alice-work", Key="big", UploadId=up["UploadId"],
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    alice.put_bucket_tagging(Bucket="alice-work", Tagging={"TagSet": [{"Key": "owner", "Value": "alice"}]})
    # Admin on the prefix covers creating and deleting buckets under it, and nowhere else.
    alice.create_bucket(Bucket="alice-new")
    alice.delete_bucket(Bucket="alice-new")
    denied(lambda: alice.create_bucket(Bucket="bobs-bucket"))
    denied(lambda: alice.delete_bucket(Bucket="shared-docs"))
    denied(lambda: alice.put_bucket_tagging(Bucket="shared-docs",
                                            Tagging={"TagSet": [{"Key": "x", "Value": "y"}]}))
    assert "bobs-bucket" not in [b["Name"] for b in root.list_buckets()["Buckets"]]


def test_a_copy_needs_read_on_its_source_and_write_on_its_target(clients):
    root, alice, _ = clients
    alice.copy_object(Bucket="alice-work", Key="copied.txt", CopySource={"Bucket": "shared-docs", "Key": "doc.txt"})
    assert root.get_object(Bucket="alice-work", Key="copied.txt")["Body"].read() == b"hello shared-docs"
    denied(lambda: alice.copy_object(Bucket="alice-work", Key="stolen.txt",
                                     CopySource={"Bucket": "other-stuff", "Key": "doc.txt"}))
    denied(lambda: alice.copy_object(Bucket="shared-docs", Key="into.txt",
                                     CopySource={"Bucket": "alice-work", "Key": "mine.txt"}))
    up = alice.create_multipart_upload(Bucket="alice-work", Key="pc")
    denied(lambda: alice.upload_part_copy(Bucket="alice-work", Key="pc", UploadId=up["UploadId"], PartNumber=1,
                                          CopySource={"Bucket": "other-stuff", "Key": "doc.txt"}))
    alice.abort_multipart_upload(Bucket="alice-work", Key="pc", UploadId=up["UploadId"])
    with pytest.raises(ClientError):
        root.head_object(Bucket="alice-work", Key="stolen.txt")


def test_read_only_access_still_bounds_a_grant_and_every_user_lists_buckets(clients):
    _, alice, bob = clients
    # bob's grant says read, his access says read-only: a write is refused for either reason.
    denied(lambda: bob.put_object(Bucket="shared-docs", Key="b.txt", Body=b"x"))
    names = {"shared-docs", "alice-work", "other-stuff"}
    for c in (alice, bob):
        assert names <= {b["Name"] for b in c.list_buckets()["Buckets"]}


def test_denials_are_s3_errors_with_an_xml_body(gw, clients):
    r = gw.signed("GET", "/other-stuff/doc.txt", access_key=ALICE[0], secret_key=ALICE[1])
    e2e.assert_s3_error(r, 403, "AccessDenied")
    assert "No grant of this user allows read on bucket other-stuff" in r.text, r.text
    r = gw.signed("PUT", "/shared-docs/raw.txt", body=b"raw", access_key=ALICE[0], secret_key=ALICE[1])
    e2e.assert_s3_error(r, 403, "AccessDenied")
    assert "allows write on bucket shared-docs" in r.text, r.text


def test_the_admin_api_lists_each_users_grants(gw):
    users = {u["access_key"]: u for u in gw.admin("GET", "/admin/users").json()["users"]}
    assert users["alice"]["grants"] == [
        {"bucket": "shared-*", "allow": ["read", "list"]},
        {"bucket": "alice-*", "allow": ["read", "write", "list", "admin"]},
    ]
    assert users["bob"]["access"] == "read-only" and users["bob"]["grants"] == [
        {"bucket": "shared-*", "allow": ["read"]}]
    assert users[e2e.ACCESS_KEY]["grants"] is None  # root: every bucket


@pytest.mark.parametrize("grants, message", [
    ('[{ bucket = "", allow = ["read"] }]', "a bucket name, or a prefix ending in one '*'"),
    ('[{ bucket = "a*b", allow = ["read"] }]', "a bucket name, or a prefix ending in one '*'"),
    ('[{ bucket = "ok", allow = [] }]', "allow needs at least one of read, write, list, admin"),
    ('[{ bucket = "ok", allow = ["delete"] }]', "unknown variant"),
])
def test_bad_grants_are_refused_at_start(strata_bin, tmp_path, grants, message):
    if strata_bin is None:
        pytest.skip("external endpoint")
    cfg = tmp_path / "strata.toml"
    cfg.write_text(f'[[users]]\naccess_key = "carol"\nsecret_key = "carol-secret-1"\ngrants = {grants}\n')
    p = subprocess.run([str(strata_bin), "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and message in p.stderr, (p.returncode, p.stderr)


def test_bypassing_governance_needs_admin_on_the_bucket(gw, clients):
    import datetime as dt
    root = clients[0]
    carol = gw.client_with(*CAROL)
    alice = gw.client_with(*ALICE)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    for name, client in (("lockbox", carol), ("alice-lock", alice)):
        root.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        vid = client.put_object(Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=until)["VersionId"]
        # Without the bypass: the lock refuses, for everyone.
        denied(lambda: client.delete_object(Bucket=name, Key="k", VersionId=vid))
        if name == "lockbox":
            # A writer without admin may not bypass, nor shorten the retention with it...
            denied(lambda: carol.delete_object(Bucket=name, Key="k", VersionId=vid, BypassGovernanceRetention=True))
            denied(lambda: carol.put_object_retention(Bucket=name, Key="k", VersionId=vid, Retention={
                "Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(minutes=30)},
                BypassGovernanceRetention=True))
            # ...but may hide the object behind a delete marker, and root (admin everywhere) may bypass.
            assert carol.delete_object(Bucket=name, Key="k")["DeleteMarker"] is True
            root.delete_object(Bucket=name, Key="k", VersionId=vid, BypassGovernanceRetention=True)
        else:
            alice.delete_object(Bucket=name, Key="k", VersionId=vid, BypassGovernanceRetention=True)
        with pytest.raises(ClientError):
            root.head_object(Bucket=name, Key="k", VersionId=vid)
