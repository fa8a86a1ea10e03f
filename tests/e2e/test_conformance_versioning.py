"""S3 conformance: bucket versioning.

Each case asserts what the AWS S3 API reference and user guide document ("Using versioning in S3 buckets",
PutBucketVersioning, ListObjectVersions, DeleteObject, GetObject, CopyObject), through boto3, aws-cli or raw
SigV4-signed HTTP where a client would hide a header:
- PutBucketVersioning `Enabled` / `Suspended`, GetBucketVersioning's Status; a bucket never returns to unversioned.
- With versioning enabled every PutObject, CopyObject and CompleteMultipartUpload makes a new version and answers
  its id in `x-amz-version-id`; GET/HEAD/GetObjectAttributes/tagging/copy-source name a version with `versionId`.
- DeleteObject without a version id adds a delete marker (`x-amz-delete-marker: true` and its id); GET of the key
  is then 404 with `x-amz-delete-marker: true`; GET or HEAD of the marker's id is 405 MethodNotAllowed; deleting
  the marker by id brings the previous version back; deleting a version by id removes it for good.
- Objects written before versioning was enabled are the `null` version; while suspended, writes and deletes replace
  the `null` version and keep the others.
- ListObjectVersions: keys in order, each key's versions newest first, `IsLatest` on the newest only, delete
  markers apart, key and version-id markers for paging; a version-id marker needs a key marker.
- A bucket that still holds versions or delete markers cannot be deleted.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB, error_of


@pytest.fixture
def vbucket(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def body_of(s3, bucket, key, version=None, **kw):
    args = dict(Bucket=bucket, Key=key, **kw)
    if version is not None:
        args["VersionId"] = version
    return s3.get_object(**args)["Body"].read()


def versions_of(s3, bucket, key=None):
    """`(key, version id, is latest, is delete marker)` of every entry, in the order S3 documents."""
    r = s3.list_object_versions(Bucket=bucket, **({"Prefix": key} if key else {}))
    entries = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
    entries += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in r.get("DeleteMarkers", [])]
    return entries


# --------------------------------------------------------------------------
# the bucket's state
# --------------------------------------------------------------------------

def test_enable_then_suspend_is_reported(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_the_status_answer_is_s3_xml(gateway, vbucket):
    r = gateway.signed("GET", f"/{vbucket}?versioning")
    assert r.status_code == 200
    assert b"<Status>Enabled</Status>" in r.content
    assert b"VersioningConfiguration" in r.content


def test_an_unknown_status_is_malformed(gateway, bucket):
    body = b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Sometimes</Status></VersioningConfiguration>'
    r = gateway.signed("PUT", f"/{bucket}?versioning", body=body,
                       headers={"Content-MD5": e2e.md5_b64(body), "Content-Type": "application/xml"})
    e2e.assert_s3_error(r, 400, ("MalformedXML", "IllegalVersioningConfigurationException"))


def test_versioning_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="no-such-bucket-v2", VersioningConfiguration={"Status": "Enabled"})
    assert error_of(e.value) == (404, "NoSuchBucket")


def test_an_unversioned_bucket_answers_no_version_id(gateway, s3, bucket):
    r = gateway.signed("PUT", f"/{bucket}/plain", body=b"x")
    assert r.status_code == 200 and "x-amz-version-id" not in r.headers
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="plain")
    r = s3.delete_object(Bucket=bucket, Key="plain")
    assert "DeleteMarker" not in r and "VersionId" not in r
    assert versions_of(s3, bucket) == []


# --------------------------------------------------------------------------
# writes and reads by version
# --------------------------------------------------------------------------

def test_each_put_makes_a_version_readable_by_id(s3, vbucket):
    ids = [s3.put_object(Bucket=vbucket, Key="k", Body=f"v{n}".encode())["VersionId"] for n in range(3)]
    assert len(set(ids)) == 3 and "null" not in ids
    for n, vid in enumerate(ids):
        assert body_of(s3, vbucket, "k", vid) == f"v{n}".encode()
        assert s3.get_object(Bucket=vbucket, Key="k", VersionId=vid)["VersionId"] == vid
    assert body_of(s3, vbucket, "k") == b"v2"
    assert s3.get_object(Bucket=vbucket, Key="k")["VersionId"] == ids[2]


def test_head_and_ranges_of_an_old_version(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="k", Body=b"0123456789")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="k", Body=b"new")
    h = s3.head_object(Bucket=vbucket, Key="k", VersionId=old)
    assert h["ContentLength"] == 10 and h["VersionId"] == old
    assert body_of(s3, vbucket, "k", old, Range="bytes=2-4") == b"234"


def test_a_large_version_survives_newer_ones(s3, vbucket):
    data = os.urandom(3 * MiB + 17)
    first = s3.put_object(Bucket=vbucket, Key="big", Body=data)["VersionId"]
    for _ in range(2):
        s3.put_object(Bucket=vbucket, Key="big", Body=os.urandom(1000))
    assert e2e.sha256(body_of(s3, vbucket, "big", first)) == e2e.sha256(data)


def test_listing_shows_newest_first_and_one_latest(s3, vbucket):
    ids = [s3.put_object(Bucket=vbucket, Key="k", Body=b"x")["VersionId"] for _ in range(3)]
    s3.put_object(Bucket=vbucket, Key="a", Body=b"x")
    entries = versions_of(s3, vbucket)
    assert [e[0] for e in entries] == ["a", "k", "k", "k"]
    assert [e[1] for e in entries[1:]] == ids[::-1]
    assert [e[2] for e in entries] == [True, True, False, False]
    # ListObjects shows each key once.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]]
    assert keys == ["a", "k"]


def test_listing_entries_carry_size_etag_and_time(s3, vbucket):
    r = s3.put_object(Bucket=vbucket, Key="k", Body=b"hello")
    v = s3.list_object_versions(Bucket=vbucket)["Versions"][0]
    assert v["Size"] == 5 and v["ETag"] == r["ETag"] and v["StorageClass"] == "STANDARD"
    assert v["LastModified"].year >= 2024


def test_a_well_formed_unknown_version_is_no_such_version(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="0123456789abcdef")
    assert error_of(e.value) == (404, "NoSuchVersion")


def test_an_empty_version_id_is_invalid_argument(gateway, s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    r = gateway.signed("GET", f"/{vbucket}/k?versionId=")
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    r = gateway.signed("DELETE", f"/{vbucket}/k?versionId=")
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    assert body_of(s3, vbucket, "k") == b"x"


def test_an_id_from_another_store_is_no_such_version(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert error_of(e.value) == (404, "NoSuchVersion")
    # Deleting it changes nothing and succeeds.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert body_of(s3, vbucket, "k") == b"x"


def test_multipart_upload_makes_a_version(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="mp", Body=b"small")["VersionId"]
    up = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
    part = os.urandom(5 * MiB)
    etag = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    done = s3.complete_multipart_upload(Bucket=vbucket, Key="mp", UploadId=up,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["VersionId"] not in (None, "null", old)
    assert body_of(s3, vbucket, "mp", old) == b"small"
    assert e2e.sha256(body_of(s3, vbucket, "mp", done["VersionId"])) == e2e.sha256(part)


# --------------------------------------------------------------------------
# deletes and delete markers
# --------------------------------------------------------------------------

def test_a_plain_delete_adds_a_marker_and_keeps_the_data(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"kept")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="k")
    assert r["DeleteMarker"] is True
    marker = r["VersionId"]
    assert marker not in (v1, "null")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k")
    assert error_of(e.value) == (404, "NoSuchKey")
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    assert versions_of(s3, vbucket) == [("k", v1, False, False), ("k", marker, True, True)]
    assert body_of(s3, vbucket, "k", v1) == b"kept"


def test_a_deleted_key_says_delete_marker_on_get(gateway, s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    r = gateway.signed("GET", f"/{vbucket}/k")
    e2e.assert_s3_error(r, 404, "NoSuchKey")
    assert r.headers.get("x-amz-delete-marker") == "true"
    assert r.headers.get("x-amz-version-id") == marker


def test_reading_a_marker_by_id_is_method_not_allowed(gateway, s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    r = gateway.signed("GET", f"/{vbucket}/k?versionId={marker}")
    e2e.assert_s3_error(r, 405, "MethodNotAllowed")
    assert r.headers.get("x-amz-delete-marker") == "true"
    r = gateway.signed("HEAD", f"/{vbucket}/k?versionId={marker}")
    assert r.status_code == 405 and r.headers.get("x-amz-delete-marker") == "true"


def test_deleting_the_marker_restores_the_object(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"back")["VersionId"]
    marker = s3.delete_object(Bucket=vbucket, Key="k")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert body_of(s3, vbucket, "k") == b"back"
    assert versions_of(s3, vbucket) == [("k", v1, True, False)]


def test_deleting_a_version_removes_it_for_good(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert r["VersionId"] == v1 and "DeleteMarker" not in r
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert error_of(e.value) == (404, "NoSuchVersion")
    assert versions_of(s3, vbucket) == [("k", v2, True, False)]


def test_deleting_the_current_version_makes_the_previous_current(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"one")
    v2 = s3.put_object(Bucket=vbucket, Key="k", Body=b"two")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert body_of(s3, vbucket, "k") == b"one"


def test_deleting_a_missing_version_succeeds(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    r = s3.delete_object(Bucket=vbucket, Key="k", VersionId="0123456789abcdef")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert body_of(s3, vbucket, "k") == b"x"


def test_delete_objects_by_version_and_with_markers(s3, vbucket):
    ids = {k: s3.put_object(Bucket=vbucket, Key=k, Body=b"x")["VersionId"] for k in ("a", "b")}
    r = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "a", "VersionId": ids["a"]}, {"Key": "b"}]})
    by_key = {d["Key"]: d for d in r["Deleted"]}
    assert by_key["a"]["VersionId"] == ids["a"] and "DeleteMarker" not in by_key["a"]
    assert by_key["b"]["DeleteMarker"] is True and by_key["b"]["DeleteMarkerVersionId"]
    entries = versions_of(s3, vbucket)
    assert ("b", ids["b"], False, False) in entries
    assert not any(e[0] == "a" for e in entries)


def test_a_bucket_with_versions_is_not_empty(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"x")
    s3.delete_object(Bucket=vbucket, Key="k")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=vbucket)
    assert error_of(e.value) == (409, "BucketNotEmpty")


def test_a_write_after_a_marker_is_current_again(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="k", Body=b"one")
    s3.delete_object(Bucket=vbucket, Key="k")
    # If-None-Match: * sees no current object behind a delete marker.
    v3 = s3.put_object(Bucket=vbucket, Key="k", Body=b"three", IfNoneMatch="*")["VersionId"]
    assert body_of(s3, vbucket, "k") == b"three"
    assert [e[2] for e in versions_of(s3, vbucket)] .count(True) == 1
    assert versions_of(s3, vbucket)[0] == ("k", v3, True, False)


# --------------------------------------------------------------------------
# the null version and suspended versioning
# --------------------------------------------------------------------------

def test_objects_from_before_versioning_are_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"after")
    assert body_of(s3, bucket, "k", "null") == b"before"
    entries = versions_of(s3, bucket)
    assert [e[1] for e in entries][-1] == "null"
    assert entries[0][2] is True and entries[1] == ("k", "null", False, False)


def test_suspended_writes_replace_only_the_null_version(s3, vbucket):
    kept = s3.put_object(Bucket=vbucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=vbucket, Key="k", Body=b"null-1")["VersionId"] == "null"
    assert s3.put_object(Bucket=vbucket, Key="k", Body=b"null-2")["VersionId"] == "null"
    assert body_of(s3, vbucket, "k") == b"null-2"
    assert body_of(s3, vbucket, "k", kept) == b"versioned"
    assert [(e[1], e[2]) for e in versions_of(s3, vbucket)] == [("null", True), (kept, False)]


def test_a_suspended_delete_leaves_a_null_marker(s3, vbucket):
    kept = s3.put_object(Bucket=vbucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null")
    r = s3.delete_object(Bucket=vbucket, Key="k")
    assert r["DeleteMarker"] is True and r["VersionId"] == "null"
    assert versions_of(s3, vbucket) == [("k", kept, False, False), ("k", "null", True, True)]


# --------------------------------------------------------------------------
# copies, tags and attributes of a version
# --------------------------------------------------------------------------

def test_copy_from_a_version(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="src", Body=b"new")
    r = s3.copy_object(Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": old})
    assert r["CopySourceVersionId"] == old
    assert r["VersionId"] not in (None, "null", old)
    assert body_of(s3, vbucket, "dst") == b"old"


def test_copying_an_old_version_onto_its_key_restores_it(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="k", Body=b"good")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="k", Body=b"bad")
    r = s3.copy_object(Bucket=vbucket, Key="k", CopySource={"Bucket": vbucket, "Key": "k", "VersionId": old})
    assert body_of(s3, vbucket, "k") == b"good"
    assert len(versions_of(s3, vbucket)) == 3
    assert versions_of(s3, vbucket)[0][1] == r["VersionId"]


def test_copy_from_a_missing_version_is_no_such_version(s3, vbucket):
    s3.put_object(Bucket=vbucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=vbucket, Key="dst",
                       CopySource={"Bucket": vbucket, "Key": "src", "VersionId": "0123456789abcdef"})
    assert error_of(e.value) == (404, "NoSuchVersion")


def test_tags_belong_to_one_version(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="k", Body=b"1", Tagging="gen=old")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="k", Body=b"2", Tagging="gen=new")
    r = s3.put_object_tagging(Bucket=vbucket, Key="k", VersionId=old,
                              Tagging={"TagSet": [{"Key": "gen", "Value": "retagged"}]})
    assert r["VersionId"] == old
    got = s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=old)
    assert got["TagSet"] == [{"Key": "gen", "Value": "retagged"}] and got["VersionId"] == old
    assert s3.get_object_tagging(Bucket=vbucket, Key="k")["TagSet"] == [{"Key": "gen", "Value": "new"}]
    s3.delete_object_tagging(Bucket=vbucket, Key="k", VersionId=old)
    assert s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=old)["TagSet"] == []


def test_attributes_of_a_version(s3, vbucket):
    old = s3.put_object(Bucket=vbucket, Key="k", Body=b"12345")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="k", Body=b"1")
    r = s3.get_object_attributes(Bucket=vbucket, Key="k", VersionId=old, ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 5 and r["VersionId"] == old


# --------------------------------------------------------------------------
# listing: paging, markers, prefixes
# --------------------------------------------------------------------------

def test_paging_returns_every_entry_once(s3, vbucket):
    for key in ("a", "b/1", "b/2", "c"):
        for n in range(3):
            s3.put_object(Bucket=vbucket, Key=key, Body=f"{n}".encode())
    s3.delete_object(Bucket=vbucket, Key="c")
    whole = versions_of(s3, vbucket)
    assert len(whole) == 13
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=vbucket, PaginationConfig={"PageSize": 2}):
        assert len(page.get("Versions", [])) + len(page.get("DeleteMarkers", [])) <= 2
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    assert sorted(seen) == sorted((e[0], e[1]) for e in whole)
    assert len(seen) == len(set(seen))


def test_truncated_pages_name_the_next_markers(s3, vbucket):
    ids = [s3.put_object(Bucket=vbucket, Key="k", Body=b"x")["VersionId"] for _ in range(3)]
    r = s3.list_object_versions(Bucket=vbucket, MaxKeys=2)
    assert r["IsTruncated"] is True
    assert (r["NextKeyMarker"], r["NextVersionIdMarker"]) == ("k", ids[1])
    r = s3.list_object_versions(Bucket=vbucket, KeyMarker="k", VersionIdMarker=ids[1])
    assert [v["VersionId"] for v in r["Versions"]] == [ids[0]]
    assert r["Versions"][0]["IsLatest"] is False
    # A key marker alone skips every version of that key.
    assert "Versions" not in s3.list_object_versions(Bucket=vbucket, KeyMarker="k")


def test_delimiter_rolls_versions_up(s3, vbucket):
    for key in ("dir/a", "dir/b", "top"):
        s3.put_object(Bucket=vbucket, Key=key, Body=b"x")
        s3.put_object(Bucket=vbucket, Key=key, Body=b"y")
    r = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    assert [v["Key"] for v in r["Versions"]] == ["top", "top"]
    r = s3.list_object_versions(Bucket=vbucket, Prefix="dir/")
    assert [v["Key"] for v in r["Versions"]] == ["dir/a", "dir/a", "dir/b", "dir/b"]


def test_a_version_marker_needs_a_key_marker(gateway, vbucket):
    r = gateway.signed("GET", f"/{vbucket}?versions&version-id-marker=0123456789abcdef")
    e2e.assert_s3_error(r, 400, "InvalidArgument")


def test_aws_cli_versioning_round_trip(aws, s3, bucket):
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    out = json.loads(aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)
    assert out["Status"] == "Enabled"
    for n in range(2):
        s3.put_object(Bucket=bucket, Key="cli", Body=f"{n}".encode())
    out = json.loads(aws("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert [v["IsLatest"] for v in out["Versions"]] == [True, False]


def test_versions_survive_a_restart(fresh_gateway):
    fresh_gateway.require_managed()
    s3 = fresh_gateway.client()
    b = e2e.unique_bucket("vers")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=b, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"new")
    marker = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    # Start-up recovery deletes unreferenced blobs: a noncurrent version's blobs are referenced.
    fresh_gateway.restart()
    s3 = fresh_gateway.client()
    assert body_of(s3, b, "k", old) == b"old"
    assert versions_of(s3, b)[-1] == ("k", marker, True, True)


# --------------------------------------------------------------------------
# versions and placement
# --------------------------------------------------------------------------

def test_the_planner_moves_a_noncurrent_version_down_and_it_stays_readable(strata_bin, tmp_path):
    """An old version nobody reads is an object of its own to the planner: it moves to a cheaper tier (a move of its
    own row, planned and committed against its own generation), and both versions read back exactly."""
    if strata_bin is None:
        pytest.skip("external endpoint: needs a gateway on its test clock")
    gw = e2e.managed_gateway(strata_bin, tmp_path / "gw", {"STRATA_TEST_CLOCK": "1"})
    try:
        s3 = gw.client()
        s3.create_bucket(Bucket="versions")
        s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
        old_data, new_data = os.urandom(8 * MiB), os.urandom(8 * MiB)
        old = s3.put_object(Bucket="versions", Key="doc", Body=old_data)["VersionId"]
        s3.put_object(Bucket="versions", Key="doc", Body=new_data)
        assert gw.admin("POST", "/admin/test/clock", json={"advance_ms": 40 * 86_400_000}).status_code == 200
        for _ in range(5):
            s3.get_object(Bucket="versions", Key="doc")["Body"].read()
        row = "doc\x00" + old
        assert gw.object_info("versions", row).json()["replicas"] == ["hot"]
        r = gw.admin("POST", "/admin/plan/apply")
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 60
        while gw.admin("GET", "/admin/moves?active=true").json()["moves"]:
            assert time.monotonic() < deadline, "moves did not finish within 60 s"
            time.sleep(0.2)
        assert gw.object_info("versions", row).json()["replicas"] != ["hot"]
        assert e2e.sha256(body_of(s3, "versions", "doc", old)) == e2e.sha256(old_data)
        assert e2e.sha256(body_of(s3, "versions", "doc")) == e2e.sha256(new_data)
    finally:
        gw.stop()


def test_a_null_version_in_a_versioned_bucket_says_null(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    # Unversioned: no header.
    assert "x-amz-version-id" not in gateway.signed("HEAD", f"/{bucket}/k").headers
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # The object written before versioning is the null version, and says so.
    assert gateway.signed("HEAD", f"/{bucket}/k").headers.get("x-amz-version-id") == "null"
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"after")["VersionId"]
    r = gateway.signed("GET", f"/{bucket}/k")
    assert r.headers.get("x-amz-version-id") == vid and r.content == b"after"
