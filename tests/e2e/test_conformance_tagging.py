"""S3 conformance: object and bucket tagging, GetBucketVersioning, GetObjectAttributes.

Each case asserts what the AWS S3 API reference documents (status, error code, headers, XML), through boto3,
aws-cli or raw SigV4-signed HTTP where a client would hide the detail:
- PutObjectTagging / GetObjectTagging / DeleteObjectTagging, `x-amz-tagging` on PutObject, CopyObject
  (`x-amz-tagging-directive` COPY, the default, or REPLACE) and CreateMultipartUpload, `x-amz-tagging-count` on
  GetObject; limits: 10 tags per object, 50 per bucket, keys 1-128 and values 0-256 Unicode characters, letters,
  digits, spaces and `+ - = . _ : / @`, unique keys, no `aws:` prefix; tags change neither ETag nor Last-Modified.
- Put/Get/DeleteBucketTagging: GetBucketTagging on a bucket without tags is 404 NoSuchTagSet.
- GetBucketVersioning on a bucket that never had versioning: an empty VersioningConfiguration (no Status).
- GetObjectAttributes: only the attributes asked for; ObjectParts.TotalPartsCount for multipart objects.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB, error_of

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def tagset(d: dict) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in d.items()]}


def as_dict(resp) -> dict:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def tagging_xml(pairs: list[tuple[str, str]]) -> bytes:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


def md5_headers(body: bytes) -> dict:
    return {"Content-MD5": e2e.md5_b64(body), "Content-Type": "application/xml"}


# --------------------------------------------------------------------------
# object tagging: round trips
# --------------------------------------------------------------------------

def test_put_object_with_tagging_header_round_trips(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=alpha&team=storage")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"project": "alpha", "team": "storage"}


def test_get_object_reports_tag_count_only_when_tagged(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=1&b=2&c=3")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 3
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="plain")


def test_tag_count_header_on_raw_get(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    r = gateway.signed("GET", f"/{bucket}/k")
    assert r.status_code == 200
    assert r.headers.get("x-amz-tagging-count") == "1"
    r = gateway.signed("HEAD", f"/{bucket}/k")
    assert r.status_code == 200
    assert r.headers.get("x-amz-tagging-count") == "1"


def test_put_object_tagging_replaces_the_whole_set(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="old=1&keep=2")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({"new": "3"}))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"new": "3"}


def test_tagging_changes_neither_etag_nor_last_modified(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"content")
    before = s3.head_object(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({"a": "b"}))
    after = s3.head_object(Bucket=bucket, Key="k")
    assert after["ETag"] == before["ETag"]
    assert after["LastModified"] == before["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"content"


def test_delete_object_tagging_answers_204_and_empties_the_set(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    r = gateway.signed("DELETE", f"/{bucket}/k?tagging")
    assert r.status_code == 204, r.text
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_object_without_tags_has_an_empty_tag_set(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = gateway.signed("GET", f"/{bucket}/k?tagging")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.tag == f"{NS}Tagging"
    tag_set = root.find(f"{NS}TagSet")
    assert tag_set is not None and len(tag_set) == 0


def test_get_object_tagging_xml_shape(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="color=blue")
    r = gateway.signed("GET", f"/{bucket}/k?tagging")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    tags = root.findall(f"{NS}TagSet/{NS}Tag")
    assert [(t.findtext(f"{NS}Key"), t.findtext(f"{NS}Value")) for t in tags] == [("color", "blue")]


def test_overwrite_without_tagging_drops_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_unicode_and_special_characters_round_trip(s3, bucket):
    tags = {"Ünïcødé ключ": "値 + - = . _ : / @", "empty": ""}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                  Tagging="&".join(f"{quote(k)}={quote(v)}" for k, v in tags.items()))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags


def test_null_version_id_is_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="null")) == {"a": "1"}


def test_unknown_version_id_is_no_such_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ")
    assert error_of(e.value) == (404, "NoSuchVersion")


@pytest.mark.parametrize("op", ["get", "put", "delete"])
def test_tagging_a_missing_key_is_no_such_key(s3, bucket, op):
    with pytest.raises(ClientError) as e:
        if op == "get":
            s3.get_object_tagging(Bucket=bucket, Key="missing")
        elif op == "put":
            s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging=tagset({"a": "b"}))
        else:
            s3.delete_object_tagging(Bucket=bucket, Key="missing")
    assert error_of(e.value) == (404, "NoSuchKey")


@pytest.mark.parametrize("op", ["get", "put"])
def test_tagging_in_a_missing_bucket_is_no_such_bucket(s3, op):
    with pytest.raises(ClientError) as e:
        if op == "get":
            s3.get_object_tagging(Bucket="no-such-bucket-tagging", Key="k")
        else:
            s3.put_object_tagging(Bucket="no-such-bucket-tagging", Key="k", Tagging=tagset({"a": "b"}))
    assert error_of(e.value) == (404, "NoSuchBucket")


# --------------------------------------------------------------------------
# object tagging: limits and bad input
# --------------------------------------------------------------------------

def test_ten_tags_are_allowed_eleven_are_not(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ten = {f"k{i}": f"v{i}" for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(ten))
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({**ten, "k10": "v"}))
    assert error_of(e.value) == (400, "InvalidTag")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == ten


def test_eleven_tags_in_the_header_refuse_the_put(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert error_of(e.value) == (400, "InvalidTag")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert e2e.client_error_status(e.value) == 404


@pytest.mark.parametrize("key,value,ok", [
    ("k" * 128, "v", True),
    ("k" * 129, "v", False),
    ("k", "v" * 256, True),
    ("k", "v" * 257, False),
    ("k", "", True),
    ("é" * 128, "ü" * 256, True),   # limits count characters, not bytes
    ("aws:reserved", "v", False),
    ("bad*key", "v", False),
    ("k", "bad#value", False),
    ("k", "<angle>", False),
])
def test_key_and_value_rules(s3, bucket, key, value, ok):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    try:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({key: value}))
    except ClientError as e:
        assert not ok, e
        assert error_of(e) == (400, "InvalidTag")
        assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    else:
        assert ok, "accepted a tag S3 refuses"
        assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {key: value}


def test_empty_key_is_invalid_tag(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = tagging_xml([("", "v")])
    r = gateway.signed("PUT", f"/{bucket}/k?tagging", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "InvalidTag")


def test_duplicate_keys_in_xml_are_invalid_tag(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    body = tagging_xml([("dup", "1"), ("dup", "2")])
    r = gateway.signed("PUT", f"/{bucket}/k?tagging", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "InvalidTag")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"a": "1"}


def test_malformed_tagging_xml_is_malformed_xml(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key>a</Key>"
    r = gateway.signed("PUT", f"/{bucket}/k?tagging", body=body, headers=md5_headers(body))
    e2e.assert_s3_error(r, 400, "MalformedXML")


@pytest.mark.parametrize("header", ["a=1&a=2", "a=%ZZ", "a=%ff%fe"])
def test_malformed_tagging_header_is_invalid_argument(gateway, bucket, header):
    r = gateway.signed("PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-tagging": header})
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    assert gateway.signed("HEAD", f"/{bucket}/k").status_code == 404


# --------------------------------------------------------------------------
# tags through copy and multipart upload
# --------------------------------------------------------------------------

def test_copy_keeps_tags_by_default(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="dst")) == {"a": "1"}


def test_copy_with_replace_takes_the_new_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="b=2")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="dst")) == {"b": "2"}
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="src")) == {"a": "1"}


def test_copy_with_replace_and_no_tags_clears_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == []


def test_copy_with_unknown_directive_is_invalid_argument(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    r = gateway.signed("PUT", f"/{bucket}/dst", headers={
        "x-amz-copy-source": f"/{bucket}/src", "x-amz-tagging-directive": "MERGE"})
    e2e.assert_s3_error(r, 400, "InvalidArgument")


def test_multipart_upload_carries_its_tags(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=raw&owner=etl")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"a" * (5 * MiB))
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"b")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"stage": "raw", "owner": "etl"}


def test_multipart_upload_with_bad_tags_is_refused_at_create(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="aws:x=1")
    assert error_of(e.value) == (400, "InvalidTag")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# --------------------------------------------------------------------------
# real clients
# --------------------------------------------------------------------------

def test_aws_cli_object_tagging_round_trip(aws, s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="cli", Body=b"x")
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "cli",
        "--tagging", json.dumps(tagset({"env": "prod", "tier": "cold"})))
    out = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "cli").stdout)
    assert as_dict(out) == {"env": "prod", "tier": "cold"}
    aws("s3api", "delete-object-tagging", "--bucket", bucket, "--key", "cli")
    out = json.loads(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "cli").stdout)
    assert out["TagSet"] == []


def test_aws_cli_bucket_tagging_and_versioning(aws, bucket):
    aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", json.dumps(tagset({"cost-center": "42"})))
    out = json.loads(aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert as_dict(out) == {"cost-center": "42"}
    # An unversioned bucket: aws-cli prints nothing at all (no Status).
    out = aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout.strip()
    assert out == "" or "Status" not in json.loads(out)


def test_tags_survive_a_restart(fresh_gateway):
    fresh_gateway.require_managed()
    s3 = fresh_gateway.client()
    b = e2e.unique_bucket("tags")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x", Tagging="durable=yes")
    s3.put_bucket_tagging(Bucket=b, Tagging=tagset({"bucket": "tag"}))
    fresh_gateway.restart()
    s3 = fresh_gateway.client()
    assert as_dict(s3.get_object_tagging(Bucket=b, Key="k")) == {"durable": "yes"}
    assert as_dict(s3.get_bucket_tagging(Bucket=b)) == {"bucket": "tag"}


# --------------------------------------------------------------------------
# bucket tagging
# --------------------------------------------------------------------------

def test_bucket_without_tags_is_no_such_tag_set(gateway, bucket):
    r = gateway.signed("GET", f"/{bucket}?tagging")
    e2e.assert_s3_error(r, 404, "NoSuchTagSet")


def test_bucket_tagging_round_trip_replace_and_delete(gateway, s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({"a": "1", "b": "2"}))
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == {"a": "1", "b": "2"}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({"c": "3"}))
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == {"c": "3"}
    r = gateway.signed("DELETE", f"/{bucket}?tagging")
    assert r.status_code == 204, r.text
    e2e.assert_s3_error(gateway.signed("GET", f"/{bucket}?tagging"), 404, "NoSuchTagSet")


def test_fifty_bucket_tags_are_allowed_fifty_one_are_not(s3, bucket):
    fifty = {f"k{i}": "v" for i in range(50)}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(fifty))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({**fifty, "k50": "v"}))
    assert error_of(e.value) == (400, "InvalidTag")
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50


def test_bucket_tag_rules_are_the_object_rules(s3, bucket):
    for bad in ({"k" * 129: "v"}, {"k": "v" * 257}, {"aws:x": "v"}):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(bad))
        assert error_of(e.value) == (400, "InvalidTag")


def test_bucket_tagging_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_tagging(Bucket="no-such-bucket-tags", Tagging=tagset({"a": "b"}))
    assert error_of(e.value) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="no-such-bucket-tags")
    assert error_of(e.value) == (404, "NoSuchBucket")


def test_recreated_bucket_starts_without_tags(s3):
    b = e2e.unique_bucket("retag")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_tagging(Bucket=b, Tagging=tagset({"a": "1"}))
    s3.delete_bucket(Bucket=b)
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=b)
    assert error_of(e.value) == (404, "NoSuchTagSet")


# --------------------------------------------------------------------------
# GetBucketVersioning
# --------------------------------------------------------------------------

def test_new_bucket_has_no_versioning_status(gateway, s3, bucket):
    out = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in out and "MFADelete" not in out
    r = gateway.signed("GET", f"/{bucket}?versioning")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.tag == f"{NS}VersioningConfiguration"
    assert root.find(f"{NS}Status") is None


def test_versioning_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket="no-such-bucket-vers")
    assert error_of(e.value) == (404, "NoSuchBucket")


# --------------------------------------------------------------------------
# GetObjectAttributes
# --------------------------------------------------------------------------

ALL_ATTRS = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_attributes_of_a_simple_object(s3, bucket):
    body = b"attributes" * 100
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    out = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL_ATTRS)
    # GetObjectAttributes is the one answer whose ETag S3 writes without quotes.
    assert out["ETag"] == hashlib.md5(body).hexdigest()
    assert out["ObjectSize"] == len(body)
    assert out["StorageClass"] == "STANDARD"
    assert "ObjectParts" not in out        # not a multipart upload
    # Recent boto3 sends a CRC32 with every PUT by default; S3 keeps it and reports it here.
    if "Checksum" in out:
        assert out["Checksum"]["ChecksumCRC32"] == e2e.crc32_b64(body)
    assert out["LastModified"] == s3.head_object(Bucket=bucket, Key="k")["LastModified"]


def test_only_the_requested_attributes_are_returned(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    out = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert out["ObjectSize"] == 5
    for absent in ("ETag", "StorageClass", "ObjectParts", "Checksum"):
        assert absent not in out


def test_attributes_report_the_stored_checksum(s3, bucket):
    body = b"checksummed"
    s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256")
    out = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    import base64
    assert out["Checksum"]["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_attributes_of_a_multipart_object_count_its_parts(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = []
    for n, data in enumerate([b"a" * (5 * MiB), b"b" * (5 * MiB), b"c"], start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=data)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    out = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts", "ETag", "ObjectSize"])
    assert out["ObjectParts"]["TotalPartsCount"] == 3
    assert out["ETag"].endswith("-3") and '"' not in out["ETag"]
    assert out["ObjectSize"] == 10 * MiB + 1


def test_attributes_of_a_missing_key_is_no_such_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert error_of(e.value) == (404, "NoSuchKey")


def test_attributes_need_a_valid_attribute_list(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = gateway.signed("GET", f"/{bucket}/k?attributes", headers={"x-amz-object-attributes": "Colour"})
    e2e.assert_s3_error(r, 400, "InvalidArgument")
    r = gateway.signed("GET", f"/{bucket}/k?attributes", headers={"x-amz-object-attributes": "ETag,ObjectSize"})
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == f"{NS}GetObjectAttributesResponse"
    assert root.findtext(f"{NS}ObjectSize") == "1"
    assert root.findtext(f"{NS}ETag") == hashlib.md5(b"x").hexdigest()
    assert r.headers.get("Last-Modified")


# --------------------------------------------------------------------------
# a read-only user
# --------------------------------------------------------------------------

READER = ("tag-reader", "tag-reader-secret-key")


def test_read_only_user_reads_tags_but_cannot_change_them(make_gateway):
    gw, admin, reader, b = e2e.read_only_setup(make_gateway, READER, "ro")
    admin.put_object(Bucket=b, Key="k", Body=b"x", Tagging="a=1")
    admin.put_bucket_tagging(Bucket=b, Tagging=tagset({"b": "2"}))
    assert as_dict(reader.get_object_tagging(Bucket=b, Key="k")) == {"a": "1"}
    assert as_dict(reader.get_bucket_tagging(Bucket=b)) == {"b": "2"}
    assert reader.get_object_attributes(Bucket=b, Key="k", ObjectAttributes=["ObjectSize"])["ObjectSize"] == 1
    for call in (lambda: reader.put_object_tagging(Bucket=b, Key="k", Tagging=tagset({"x": "y"})),
                 lambda: reader.delete_object_tagging(Bucket=b, Key="k"),
                 lambda: reader.put_bucket_tagging(Bucket=b, Tagging=tagset({"x": "y"})),
                 lambda: reader.delete_bucket_tagging(Bucket=b)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value) == (403, "AccessDenied")
    assert as_dict(admin.get_object_tagging(Bucket=b, Key="k")) == {"a": "1"}
    assert as_dict(admin.get_bucket_tagging(Bucket=b)) == {"b": "2"}
