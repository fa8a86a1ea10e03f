"""boto3 (unmodified, default configuration) against the gateway."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, unquote_plus

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB, S3_NS

UTC = dt.timezone.utc


def err(ei) -> tuple[str, int]:
    return e2e.client_error_code(ei.value), e2e.client_error_status(ei.value)


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404, f"{key} should not exist: {ei.value}"


# --------------------------------------------------------------------------
# buckets
# --------------------------------------------------------------------------


def test_bucket_lifecycle(s3):
    name = e2e.unique_bucket("life")
    s3.create_bucket(Bucket=name)
    try:
        s3.head_bucket(Bucket=name)
        listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
        assert name in listed
        assert isinstance(listed[name]["CreationDate"], dt.datetime)
        loc = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        assert loc in (None, "", "us-east-1")

        s3.put_object(Bucket=name, Key="keep", Body=b"x")
        with pytest.raises(ClientError) as ei:
            s3.delete_bucket(Bucket=name)
        assert err(ei) == ("BucketNotEmpty", 409)
        s3.head_bucket(Bucket=name)  # still there
        assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"x"

        s3.delete_object(Bucket=name, Key="keep")
        s3.delete_bucket(Bucket=name)
    except Exception:
        e2e.empty_bucket(s3, name)
        raise

    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert err(ei)[1] == 404
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=name)
    assert err(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert err(ei) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=name)
    assert err(ei) == ("NoSuchBucket", 404)


# --------------------------------------------------------------------------
# put / get / head
# --------------------------------------------------------------------------


def test_put_get_head_metadata_roundtrip(s3, bucket):
    body = os.urandom(10_000)
    expires = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    put = s3.put_object(
        Bucket=bucket, Key="meta/object.bin", Body=body,
        Metadata={"color": "blue", "Mixed-Case": "Value with spaces", "empty": ""},
        ContentType="application/x-strata-test", CacheControl="max-age=60, private",
        ContentDisposition='attachment; filename="object.bin"', ContentEncoding="identity",
        ContentLanguage="en-GB", Expires=expires)
    assert put["ETag"] == f'"{e2e.md5_hex(body)}"'

    for resp in (s3.head_object(Bucket=bucket, Key="meta/object.bin"),
                 s3.get_object(Bucket=bucket, Key="meta/object.bin")):
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp["ContentLength"] == len(body)
        assert resp["ETag"] == put["ETag"]
        assert resp["ContentType"] == "application/x-strata-test"
        assert resp["CacheControl"] == "max-age=60, private"
        assert resp["ContentDisposition"] == 'attachment; filename="object.bin"'
        assert resp["ContentEncoding"] == "identity"
        assert resp["ContentLanguage"] == "en-GB"
        assert resp.get("Expires") == expires or resp.get("ExpiresString", "").startswith("Tue, 06 May 2031")
        assert resp["Metadata"] == {"color": "blue", "mixed-case": "Value with spaces", "empty": ""}
        age = dt.datetime.now(UTC) - resp["LastModified"]
        assert dt.timedelta(minutes=-5) < age < dt.timedelta(minutes=5), resp["LastModified"]
        assert resp.get("AcceptRanges") == "bytes"
        if "Body" in resp:
            assert resp["Body"].read() == body


def test_empty_object_and_overwrite(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0 and got["Body"].read() == b""

    s3.put_object(Bucket=bucket, Key="over", Body=b"first version", ContentType="text/plain",
                  Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="over", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="over")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}, "overwrite must not inherit the old metadata"
    assert got.get("ContentType") != "text/plain"

    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="never-written")
    assert err(ei) == ("NoSuchKey", 404)
    assert_absent(s3, bucket, "never-written")
    # deleting a missing key is a success in S3
    assert s3.delete_object(Bucket=bucket, Key="never-written")["ResponseMetadata"]["HTTPStatusCode"] == 204


# --------------------------------------------------------------------------
# ranges and conditionals
# --------------------------------------------------------------------------

BIG_LEN = 3 * MiB + 123


@pytest.fixture(scope="module")
def big_object(s3):
    name = e2e.unique_bucket("range")
    s3.create_bucket(Bucket=name)
    data = os.urandom(BIG_LEN)
    s3.put_object(Bucket=name, Key="big.bin", Body=data)
    yield name, "big.bin", data
    e2e.empty_bucket(s3, name)


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=0-0", 0, 0),
    ("bytes=10-99", 10, 99),
    ("bytes=-5", BIG_LEN - 5, BIG_LEN - 1),
    ("bytes=100-", 100, BIG_LEN - 1),
    ("bytes=1048570-1048585", 1048570, 1048585),          # crosses the 1 MiB frame boundary
    ("bytes=1048575-1048576", 1048575, 1048576),
    ("bytes=1048576-1048576", 1048576, 1048576),
    ("bytes=2097151-3145730", 2097151, 3145730),          # two boundaries
    ("bytes=1048576-", 1048576, BIG_LEN - 1),
    (f"bytes={BIG_LEN - 1}-{BIG_LEN - 1}", BIG_LEN - 1, BIG_LEN - 1),
    (f"bytes=0-{BIG_LEN - 1}", 0, BIG_LEN - 1),
    (f"bytes=100-{BIG_LEN + 5000}", 100, BIG_LEN - 1),   # end past the object is clipped
    (f"bytes=-{BIG_LEN + 10}", 0, BIG_LEN - 1),           # suffix longer than the object
])
def test_ranged_get(s3, big_object, spec, start, end):
    bucket, key, data = big_object
    r = s3.get_object(Bucket=bucket, Key=key, Range=spec)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == f"bytes {start}-{end}/{BIG_LEN}"
    assert r["ContentLength"] == end - start + 1
    got = r["Body"].read()
    assert len(got) == end - start + 1
    assert got == data[start:end + 1]


@pytest.mark.parametrize("spec", [f"bytes={BIG_LEN}-", f"bytes={BIG_LEN + 5}-{BIG_LEN + 10}"])
def test_range_beyond_end(s3, big_object, spec):
    bucket, key, _ = big_object
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, Range=spec)
    assert err(ei) == ("InvalidRange", 416)


def test_conditional_get(s3, big_object):
    bucket, key, data = big_object
    head = s3.head_object(Bucket=bucket, Key=key)
    etag, mtime = head["ETag"], head["LastModified"]
    future = mtime + dt.timedelta(days=1)
    past = dt.datetime(2001, 1, 1, tzinfo=UTC)

    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert err(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    assert err(ei)[1] == 304
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, IfModifiedSince=future)
    assert err(ei)[1] == 304
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, IfUnmodifiedSince=past)
    assert err(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    assert err(ei)[1] == 304
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key, IfMatch='"ffff"')
    assert err(ei)[1] == 412

    ok = [
        dict(IfMatch=etag),
        dict(IfNoneMatch='"0123456789abcdef0123456789abcdef"'),
        dict(IfModifiedSince=past),
        dict(IfUnmodifiedSince=future),
        # If-Match true wins over a false If-Unmodified-Since (RFC 7232 3.4, S3 docs)
        dict(IfMatch=etag, IfUnmodifiedSince=past),
    ]
    for cond in ok:
        try:
            r = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-9", **cond)
        except ClientError as e:
            pytest.fail(f"{cond}: {e}")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, cond
        assert r["Body"].read() == data[:10], cond


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ovr", Body=b"override me", ContentType="application/octet-stream")
    r = s3.get_object(Bucket=bucket, Key="ovr", ResponseContentType="text/x-override",
                      ResponseContentDisposition='inline; filename="o.txt"',
                      ResponseCacheControl="no-store", ResponseContentLanguage="fr",
                      ResponseContentEncoding="identity")
    assert r["ContentType"] == "text/x-override"
    assert r["ContentDisposition"] == 'inline; filename="o.txt"'
    assert r["CacheControl"] == "no-store"
    assert r["ContentLanguage"] == "fr"
    assert r["ContentEncoding"] == "identity"
    assert r["Body"].read() == b"override me"
    # the stored object is unchanged
    assert s3.head_object(Bucket=bucket, Key="ovr")["ContentType"] == "application/octet-stream"


# --------------------------------------------------------------------------
# copy
# --------------------------------------------------------------------------


def test_copy_object(s3, bucket):
    other = e2e.unique_bucket("copy")
    s3.create_bucket(Bucket=other)
    try:
        body = os.urandom(2 * MiB + 7)
        src_key = "src dir/ünïcode source+key.bin"
        s3.put_object(Bucket=bucket, Key=src_key, Body=body, ContentType="application/x-src",
                      Metadata={"origin": "source"}, CacheControl="max-age=5")
        src = {"Bucket": bucket, "Key": src_key}

        # COPY (the default directive): data and metadata come along
        r = s3.copy_object(Bucket=bucket, Key="copy-same", CopySource=src)
        assert r["CopyObjectResult"]["ETag"] == f'"{e2e.md5_hex(body)}"'
        got = s3.get_object(Bucket=bucket, Key="copy-same")
        assert got["Body"].read() == body
        assert got["Metadata"] == {"origin": "source"}
        assert got["ContentType"] == "application/x-src"
        assert got["CacheControl"] == "max-age=5"

        # REPLACE: new metadata only
        s3.copy_object(Bucket=other, Key="copy-replaced", CopySource=src, MetadataDirective="REPLACE",
                       Metadata={"new": "meta"}, ContentType="text/x-replaced")
        got = s3.get_object(Bucket=other, Key="copy-replaced")
        assert got["Body"].read() == body
        assert got["Metadata"] == {"new": "meta"}
        assert got["ContentType"] == "text/x-replaced"
        assert "CacheControl" not in got

        # across buckets with COPY
        s3.copy_object(Bucket=other, Key="nested/copy", CopySource=src)
        got = s3.get_object(Bucket=other, Key="nested/copy")
        assert e2e.sha256(got["Body"].read()) == e2e.sha256(body)
        assert got["Metadata"] == {"origin": "source"}

        # the source is untouched, and deleting it leaves the copies readable
        s3.delete_object(Bucket=bucket, Key=src_key)
        assert s3.get_object(Bucket=other, Key="nested/copy")["Body"].read() == body

        with pytest.raises(ClientError) as ei:
            s3.copy_object(Bucket=other, Key="x", CopySource=src)
        assert err(ei) == ("NoSuchKey", 404)
        with pytest.raises(ClientError) as ei:
            s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": other, "Key": "nested/copy"},
                           CopySourceIfMatch='"00000000000000000000000000000000"')
        assert err(ei) == ("PreconditionFailed", 412)
        assert_absent(s3, other, "x")
    finally:
        e2e.empty_bucket(s3, other)


def test_copy_onto_itself_replace_metadata(s3, bucket):
    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="self", Body=body, Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"a": "2"}, ContentType="text/x-new")
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Body"].read() == body, "copy onto itself lost the data"
    assert got["Metadata"] == {"a": "2"}
    assert got["ContentType"] == "text/x-new"


def test_copy_onto_itself_without_change_is_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self2", Body=b"data")
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="self2", CopySource={"Bucket": bucket, "Key": "self2"})
    assert err(ei) == ("InvalidRequest", 400)
    assert s3.get_object(Bucket=bucket, Key="self2")["Body"].read() == b"data"


# --------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------

ODD_KEYS = [
    "odd/a b", "odd/a+b", "odd/a%20b", "odd/ü ñ 日本", "odd/x&y<z>", "odd/q?x=1",
    "odd/hash#tag", "odd/semi;colon", "odd/tilde~star*", "odd/quote\"'", "odd/trailing/",
    "odd/tab\there", "odd//double-slash", "odd/emoji-🙂",
]


def _key_sort(k: str) -> bytes:
    return k.encode("utf-8")


@pytest.fixture(scope="module")
def listing(s3):
    name = e2e.unique_bucket("list")
    s3.create_bucket(Bucket=name)
    keys = [f"flat/{i:04d}" for i in range(1000)]
    keys += [f"dir/a/{i:02d}" for i in range(50)] + [f"dir/b/{i:02d}" for i in range(50)]
    keys += ["dir/top.txt"] + ODD_KEYS
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), keys))
    yield name, sorted(keys, key=_key_sort)
    e2e.empty_bucket(s3, name)


def test_list_v2_pagination(s3, listing):
    bucket, keys = listing
    first = s3.list_objects_v2(Bucket=bucket)
    assert first["IsTruncated"] is True
    assert first["KeyCount"] == 1000 and len(first["Contents"]) == 1000
    assert first.get("NextContinuationToken")
    seen = [o["Key"] for o in first["Contents"]]
    token = first["NextContinuationToken"]
    while token:
        page = s3.list_objects_v2(Bucket=bucket, ContinuationToken=token, MaxKeys=1000)
        seen += [o["Key"] for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken") if page["IsTruncated"] else None
    assert seen == keys  # complete, no duplicates, in UTF-8 binary order

    o = next(c for c in first["Contents"] if c["Key"] == "dir/top.txt")
    assert o["Size"] == len(b"dir/top.txt")
    assert o["ETag"] == f'"{e2e.md5_hex(b"dir/top.txt")}"'

    small = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="flat/", PaginationConfig={"PageSize": 97}):
        pages += 1
        assert page["KeyCount"] <= 97
        small += [c["Key"] for c in page.get("Contents", [])]
    assert pages == 11 and small == [k for k in keys if k.startswith("flat/")]


def test_list_v2_prefix_delimiter_start_after(s3, listing):
    bucket, keys = listing
    r = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/a/", "dir/b/"]
    assert [c["Key"] for c in r["Contents"]] == ["dir/top.txt"]
    assert r["KeyCount"] == 3

    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/", "flat/", "odd/"]
    assert "Contents" not in r

    r = s3.list_objects_v2(Bucket=bucket, Prefix="dir/a/")
    assert [c["Key"] for c in r["Contents"]] == [f"dir/a/{i:02d}" for i in range(50)]

    # max-keys counts common prefixes and keys together
    entries = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="dir/", Delimiter="/", PaginationConfig={"PageSize": 1}):
        entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        entries += [c["Key"] for c in page.get("Contents", [])]
    assert entries == ["dir/a/", "dir/b/", "dir/top.txt"]

    r = s3.list_objects_v2(Bucket=bucket, Prefix="flat/", StartAfter="flat/0990")
    assert [c["Key"] for c in r["Contents"]] == [f"flat/{i:04d}" for i in range(991, 1000)]
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="zzz")
    assert "Contents" not in r and r["KeyCount"] == 0

    r = s3.list_objects_v2(Bucket=bucket, Prefix="nothing-here/")
    assert r["KeyCount"] == 0 and "Contents" not in r and r["IsTruncated"] is False


def test_list_v1_marker_paging(s3, listing):
    bucket, keys = listing
    flat = [k for k in keys if k.startswith("flat/")]
    r = s3.list_objects(Bucket=bucket, Prefix="flat/", MaxKeys=400)
    assert r["IsTruncated"] is True
    seen = [c["Key"] for c in r["Contents"]]
    assert len(seen) == 400
    while r["IsTruncated"]:
        r = s3.list_objects(Bucket=bucket, Prefix="flat/", MaxKeys=400, Marker=seen[-1])
        seen += [c["Key"] for c in r.get("Contents", [])]
    assert seen == flat

    r = s3.list_objects(Bucket=bucket, Prefix="dir/", Delimiter="/", MaxKeys=1)
    assert r["IsTruncated"] is True
    assert r.get("NextMarker") == "dir/a/"  # v1 gives NextMarker when a delimiter is used
    r = s3.list_objects(Bucket=bucket, Prefix="dir/", Delimiter="/", Marker="dir/a/")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["dir/b/"]
    assert [c["Key"] for c in r["Contents"]] == ["dir/top.txt"]

    r = s3.list_objects(Bucket=bucket, Marker="flat/0997", Prefix="flat/")
    assert [c["Key"] for c in r["Contents"]] == ["flat/0998", "flat/0999"]


def test_list_odd_keys_roundtrip(s3, listing):
    bucket, _ = listing
    # boto3 asks for encoding-type=url itself and decodes: keys must come back exact
    r = s3.list_objects_v2(Bucket=bucket, Prefix="odd/")
    assert [c["Key"] for c in r["Contents"]] == sorted(ODD_KEYS, key=_key_sort)
    r1 = s3.list_objects(Bucket=bucket, Prefix="odd/")
    assert [c["Key"] for c in r1["Contents"]] == sorted(ODD_KEYS, key=_key_sort)
    for k in ODD_KEYS:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode(), k


def _raw_list(gateway, bucket, query: str) -> ET.Element:
    r = gateway.signed("GET", f"/{bucket}?{query}")
    assert r.status_code == 200, r.text
    return ET.fromstring(r.content)


def _findall(root, tag):
    return root.findall(f"{S3_NS}{tag}") or root.findall(tag)


def _text(el, tag):
    found = el.find(f"{S3_NS}{tag}")
    if found is None:
        found = el.find(tag)
    return None if found is None else (found.text or "")


def test_list_encoding_type_url_raw(gateway, listing):
    bucket, _ = listing
    want = sorted(ODD_KEYS, key=_key_sort)
    for query in ("list-type=2&prefix=odd%2F&encoding-type=url", "prefix=odd%2F&encoding-type=url"):
        root = _raw_list(gateway, bucket, query)
        assert _text(root, "EncodingType") == "url", query
        raw = [_text(c, "Key") for c in _findall(root, "Contents")]
        for k in raw:
            assert not any(ch in k for ch in " <>&\"'#?\t") and k.isascii(), f"not URL-encoded: {k!r}"
        assert [unquote_plus(k) for k in raw] == want, query
        assert _text(root, "Prefix") in ("odd%2F", "odd/")

    # without encoding-type the keys are XML-escaped text
    root = _raw_list(gateway, bucket, "list-type=2&prefix=odd%2F")
    assert [_text(c, "Key") for c in _findall(root, "Contents")] == want

    root = _raw_list(gateway, bucket, "list-type=2&delimiter=%2F&prefix=odd%2F&encoding-type=url")
    prefixes = [unquote_plus(_text(p, "Prefix")) for p in _findall(root, "CommonPrefixes")]
    assert prefixes == ["odd//", "odd/trailing/"]


def test_list_object_versions_shows_null(s3, listing):
    bucket, _ = listing
    r = s3.list_object_versions(Bucket=bucket, Prefix="dir/a/")
    versions = r["Versions"]
    assert [v["Key"] for v in versions] == [f"dir/a/{i:02d}" for i in range(50)]
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["Size"] == len(v["Key"])
    assert not r.get("DeleteMarkers")


def test_delete_objects(s3, bucket):
    for k in ("d/1", "d/2", "d/3", "d/keep"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "d/1"}, {"Key": "d/2"}, {"Key": "d/3"}, {"Key": "d/missing"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d/1", "d/2", "d/3", "d/missing"]
    assert not r.get("Errors")
    left = [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="d/").get("Contents", [])]
    assert left == ["d/keep"]

    s3.put_object(Bucket=bucket, Key="d/q", Body=b"q")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/q"}], "Quiet": True})
    assert not r.get("Deleted") and not r.get("Errors")
    assert_absent(s3, bucket, "d/q")


# --------------------------------------------------------------------------
# multipart
# --------------------------------------------------------------------------


def test_multipart_upload(s3, bucket):
    key = "mp/three parts.bin"
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1 * MiB + 17)]
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-mp",
                                    Metadata={"kind": "multipart"})
    uid = up["UploadId"]
    # a part uploaded twice: the last one counts
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=os.urandom(5 * MiB))
    etags = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data)
        assert r["ETag"] == f'"{e2e.md5_hex(data)}"', n
        etags.append(r["ETag"])

    ups = s3.list_multipart_uploads(Bucket=bucket, Prefix="mp/").get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in ups] == [(key, uid)]
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in lp["Parts"]] == [
        (n, len(d), etags[n - 1]) for n, d in enumerate(parts, start=1)]
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2)
    assert lp["IsTruncated"] is True and [p["PartNumber"] for p in lp["Parts"]] == [1, 2]
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, PartNumberMarker=lp["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in lp["Parts"]] == [3]
    assert_absent(s3, bucket, key)  # not visible before completion

    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    expected_etag = e2e.multipart_etag(parts)
    assert done["ETag"] == expected_etag

    whole = b"".join(parts)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(whole)
    assert head["ETag"] == expected_etag
    assert head["ContentType"] == "application/x-mp"
    assert head["Metadata"] == {"kind": "multipart"}
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert e2e.sha256(got) == e2e.sha256(whole)

    b1, b2 = 5 * MiB, 10 * MiB
    for start, end in [(b1 - 10, b1 + 9), (b1 - 1, b1), (b2 - 5, b2 + 5), (b1 - 3, b2 + 3),
                       (len(whole) - 20, len(whole) - 1), (0, b1 - 1)]:
        r = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
        assert r["ContentRange"] == f"bytes {start}-{end}/{len(whole)}"
        assert r["Body"].read() == whole[start:end + 1], (start, end)

    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix="mp/").get("Uploads")
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert err(ei) == ("NoSuchUpload", 404)


def test_multipart_abort(s3, bucket):
    key = "mp/aborted"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=os.urandom(5 * MiB))
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    for call in (lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=uid),
                 lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"x"),
                 lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                                      MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("NoSuchUpload", 404)
    assert_absent(s3, bucket, key)


def test_an_error_before_the_body_closes_the_connection(gateway, s3, bucket):
    """A client that sends `Expect: 100-continue` and gets an error instead never sends the body its
    Content-Length promised, so the connection cannot carry another request: the error says `Connection: close`
    and the server closes it (botocore's next request on such a connection used to fail its signature)."""
    import socket
    from urllib.parse import urlsplit

    key = "mp/never"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    path = f"/{bucket}/{quote(key)}?partNumber=2&uploadId={quote(uid, safe='')}"
    headers, _ = e2e.sign_request(gateway.url(path), "PUT", {"Content-Length": "1", "Expect": "100-continue"},
                                  b"x", gateway.access_key, gateway.secret_key, payload_hash="UNSIGNED-PAYLOAD")
    u = urlsplit(gateway.endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        lines = [f"PUT {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        if not any(k.lower() == "host" for k in headers):
            lines.append(f"Host: {u.netloc}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())  # headers only: the body is never sent
        got = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break  # the server closed the connection after its answer
            got += chunk
    head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 404"), got[:500]
    assert "connection: close" in head, head
    assert b"<Code>NoSuchUpload</Code>" in got, got[:800]


def test_multipart_part_too_small(s3, bucket):
    key = "mp/small"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for n in (1, 2):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=os.urandom(1 * MiB))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
    assert err(ei) == ("EntityTooSmall", 400)
    assert_absent(s3, bucket, key)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_multipart_complete_errors(s3, bucket):
    key = "mp/errors"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=os.urandom(5 * MiB))["ETag"]
    p2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=os.urandom(5 * MiB))["ETag"]
    p3 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3, Body=b"tail")["ETag"]

    def complete(*pairs):
        with pytest.raises(ClientError) as ei:
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in pairs]})
        return err(ei)

    assert complete((1, p1), (2, '"00000000000000000000000000000000"'), (3, p3)) == ("InvalidPart", 400)
    assert complete((1, p1), (2, p2), (4, p3)) == ("InvalidPart", 400)
    assert complete((2, p2), (1, p1), (3, p3)) == ("InvalidPartOrder", 400)
    assert_absent(s3, bucket, key)
    # the upload survived the failed attempts; a subset of the parts may be completed
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1}, {"PartNumber": 3, "ETag": p3}]})
    assert done["ETag"].endswith('-2"')
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 5 * MiB + 4


def test_upload_part_copy(s3, bucket):
    src = os.urandom(6 * MiB + 3)
    s3.put_object(Bucket=bucket, Key="mpc/source", Body=src)
    key = "mpc/assembled"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    cs = {"Bucket": bucket, "Key": "mpc/source"}
    r1 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, CopySource=cs,
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    r2 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, CopySource=cs)
    tail = os.urandom(100)
    r3 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3, Body=tail)
    pieces = [src[:5 * MiB], src, tail]
    assert r1["CopyPartResult"]["ETag"] == f'"{e2e.md5_hex(pieces[0])}"'
    assert r2["CopyPartResult"]["ETag"] == f'"{e2e.md5_hex(pieces[1])}"'
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": r3["ETag"]}]})
    assert done["ETag"] == e2e.multipart_etag(pieces)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert e2e.sha256(got) == e2e.sha256(b"".join(pieces))


# --------------------------------------------------------------------------
# presigned URLs
# --------------------------------------------------------------------------


def test_presigned_get_and_put(s3, bucket, gateway):
    http = e2e.http_session()
    body = os.urandom(300_000)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/put"}, ExpiresIn=300)
    r = http.put(url, data=body, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers.get("ETag") == f'"{e2e.md5_hex(body)}"'
    assert s3.get_object(Bucket=bucket, Key="pre/put")["Body"].read() == body

    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/put"}, ExpiresIn=300)
    r = http.get(url, timeout=60)
    assert r.status_code == 200 and r.content == body
    r = http.get(url, headers={"Range": "bytes=5-9"}, timeout=60)
    assert r.status_code == 206 and r.content == body[5:10]


@pytest.mark.strata_only
def test_presigned_expired_and_tampered(s3, bucket):
    http = e2e.http_session()
    s3.put_object(Bucket=bucket, Key="pre/a", Body=b"secret a")
    s3.put_object(Bucket=bucket, Key="pre/b", Body=b"secret b")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/a"}, ExpiresIn=300)
    r = http.get(url.replace("/pre/a?", "/pre/b?"), timeout=30)
    e2e.assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert b"secret b" not in r.content

    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/a"}, ExpiresIn=1)
    time.sleep(2.5)
    r = http.get(url, timeout=30)
    e2e.assert_s3_error(r, 403, "AccessDenied")
    assert b"secret a" not in r.content

    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/a"}, ExpiresIn=300)
    r = http.put(url.replace("/pre/a?", "/pre/c?"), data=b"intruder", timeout=30)
    e2e.assert_s3_error(r, 403, "SignatureDoesNotMatch")
    assert_absent(s3, bucket, "pre/c")


# --------------------------------------------------------------------------
# checksums
# --------------------------------------------------------------------------


class _Capture:
    def __init__(self, client):
        self.requests = []
        client.meta.events.register("before-send.s3.*", self)

    def __call__(self, request, **kw):
        self.requests.append(request)

    def last_headers(self) -> dict:
        return {k.lower(): (v.decode() if isinstance(v, bytes) else v)
                for k, v in self.requests[-1].headers.items()}


def test_default_flexible_checksum_header(gateway, bucket):
    s3 = gateway.client()
    cap = _Capture(s3)
    body = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="ck/default", Body=body)
    sent = cap.last_headers()
    assert sent.get("x-amz-checksum-crc32") == e2e.crc32_b64(body), sent  # boto3's default
    assert s3.get_object(Bucket=bucket, Key="ck/default")["Body"].read() == body
    s3.put_object(Bucket=bucket, Key="ck/sha256", Body=body, ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=bucket, Key="ck/md5", Body=body, ContentMD5=e2e.md5_b64(body))
    for k in ("ck/sha256", "ck/md5"):
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body


def _force_trailer(params, **kw):
    """What botocore does over https: send the checksum as an aws-chunked trailer."""
    alg = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(alg, dict):
        alg["in"] = "trailer"


def test_boto3_crc32_trailer(gateway, bucket):
    s3 = gateway.client()
    s3.meta.events.register("before-call.s3.PutObject", _force_trailer)
    s3.meta.events.register("before-call.s3.UploadPart", _force_trailer)
    cap = _Capture(s3)
    body = os.urandom(3 * MiB + 5)
    s3.put_object(Bucket=bucket, Key="ck/trailer", Body=body)
    sent = cap.last_headers()
    assert sent.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", sent
    assert sent.get("x-amz-trailer") == "x-amz-checksum-crc32", sent
    got = s3.get_object(Bucket=bucket, Key="ck/trailer")
    assert got["ContentLength"] == len(body)
    assert e2e.sha256(got["Body"].read()) == e2e.sha256(body), "aws-chunked framing leaked into the data"
    assert got["ETag"] == f'"{e2e.md5_hex(body)}"'

    key = "ck/trailer-mp"
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, d in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=d)
        assert r["ETag"] == f'"{e2e.md5_hex(d)}"'
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert r["ETag"] == e2e.multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(parts)


def _put_path(bucket, key):
    return f"/{bucket}/{quote(key)}"


def test_raw_unsigned_trailer(gateway, s3, bucket):
    body = os.urandom(200_000)
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
               "X-Amz-Decoded-Content-Length": str(len(body))}
    good = e2e.aws_chunked_unsigned_body(body, 65536, ("x-amz-checksum-crc32", e2e.crc32_b64(body)))
    r = gateway.signed("PUT", _put_path(bucket, "raw/trailer-ok"), body=good, headers=headers,
                       payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="raw/trailer-ok")["Body"].read() == body


@pytest.mark.strata_only
def test_raw_wrong_trailer_checksum_refused(gateway, s3, bucket):
    body = os.urandom(200_000)
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
               "X-Amz-Decoded-Content-Length": str(len(body))}
    bad = e2e.aws_chunked_unsigned_body(body, 65536, ("x-amz-checksum-crc32", e2e.crc32_b64(b"other")))
    r = gateway.signed("PUT", _put_path(bucket, "raw/trailer-bad"), body=bad, headers=headers,
                       payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    e2e.assert_s3_error(r, 400, ("BadDigest", "InvalidDigest"))
    assert_absent(s3, bucket, "raw/trailer-bad")


@pytest.mark.strata_only
def test_raw_wrong_checksum_header_refused(gateway, s3, bucket):
    body = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="raw/existing", Body=b"old content")
    for key in ("raw/new", "raw/existing"):
        r = gateway.signed("PUT", _put_path(bucket, key), body=body,
                           headers={"x-amz-checksum-crc32": e2e.crc32_b64(body + b"!")})
        e2e.assert_s3_error(r, 400, ("BadDigest", "InvalidDigest"))
    assert_absent(s3, bucket, "raw/new")
    assert s3.get_object(Bucket=bucket, Key="raw/existing")["Body"].read() == b"old content", \
        "a refused PUT replaced the existing object"
    r = gateway.signed("PUT", _put_path(bucket, "raw/new"), body=body,
                       headers={"x-amz-checksum-crc32": e2e.crc32_b64(body)})
    assert r.status_code == 200, r.text


@pytest.mark.strata_only
def test_raw_wrong_content_md5_refused(gateway, s3, bucket):
    body = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="raw/md5-existing", Body=b"old content")
    for key in ("raw/md5-new", "raw/md5-existing"):
        r = gateway.signed("PUT", _put_path(bucket, key), body=body,
                           headers={"Content-MD5": e2e.md5_b64(b"something else")})
        e2e.assert_s3_error(r, 400, ("BadDigest", "InvalidDigest"))
        r = gateway.signed("PUT", _put_path(bucket, key), body=body,
                           headers={"Content-MD5": "not-base64-md5!!"})
        e2e.assert_s3_error(r, 400, ("InvalidDigest", "BadDigest"))
    assert_absent(s3, bucket, "raw/md5-new")
    assert s3.get_object(Bucket=bucket, Key="raw/md5-existing")["Body"].read() == b"old content"


def _signed_chunked_put(gateway, bucket, key, body, corrupt=None, trailer=False):
    url = gateway.url(_put_path(bucket, key))
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(body))}
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    if trailer:
        headers["X-Amz-Trailer"] = "x-amz-checksum-crc32"
        payload += "-TRAILER"
    # Content-Length of the encoded body must be signed: compute it on a dry run
    dry = e2e.aws_chunked_signed_body(body, 64 * 1024, "0" * 64, "20000101T000000Z", "k",
                                      ("x-amz-checksum-crc32", e2e.crc32_b64(body)) if trailer else None)
    headers["Content-Length"] = str(len(dry))
    hdrs, req = e2e.sign_request(url, "PUT", headers, b"", gateway.access_key, gateway.secret_key,
                                 payload_hash=payload)
    seed = hdrs["Authorization"].rsplit("Signature=", 1)[1]
    ts = req.context["timestamp"]
    encoded = e2e.aws_chunked_signed_body(body, 64 * 1024, seed, ts, gateway.secret_key,
                                          ("x-amz-checksum-crc32", e2e.crc32_b64(body)) if trailer else None)
    assert len(encoded) == len(dry)
    if corrupt == "data":
        i = encoded.index(b"\r\n") + 10
        encoded = encoded[:i] + bytes([encoded[i] ^ 1]) + encoded[i + 1:]
    elif corrupt == "signature":
        i = encoded.index(b"chunk-signature=") + len(b"chunk-signature=")
        encoded = encoded[:i] + (b"0" if encoded[i:i + 1] != b"0" else b"1") + encoded[i + 1:]
    hdrs["Content-Length"] = str(len(encoded))
    return gateway.http.put(url, headers=hdrs, data=encoded, timeout=60)


@pytest.mark.parametrize("trailer", [False, True], ids=["signed-chunks", "signed-chunks-trailer"])
def test_signed_streaming_payload(gateway, s3, bucket, trailer):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as sent by minio-go, the Java SDK and others over http."""
    body = os.urandom(300_000)
    r = _signed_chunked_put(gateway, bucket, "chunked/ok", body, trailer=trailer)
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="chunked/ok")["Body"].read()
    assert e2e.sha256(got) == e2e.sha256(body)


@pytest.mark.strata_only
@pytest.mark.parametrize("corrupt", ["data", "signature"])
def test_signed_streaming_payload_tampered(gateway, s3, bucket, corrupt):
    body = os.urandom(300_000)
    r = _signed_chunked_put(gateway, bucket, f"chunked/{corrupt}", body, corrupt=corrupt)
    e2e.assert_s3_error(r, (400, 403), ("SignatureDoesNotMatch", "IncompleteBody", "BadDigest"))
    assert_absent(s3, bucket, f"chunked/{corrupt}")


# --------------------------------------------------------------------------
# authentication
# --------------------------------------------------------------------------


@pytest.mark.strata_only
def test_wrong_secret_key(gateway, s3, bucket):
    bad = gateway.client_with(gateway.access_key, gateway.secret_key + "x")
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as ei:
        bad.put_object(Bucket=bucket, Key="auth/wrong-secret", Body=b"x")
    assert err(ei) == ("SignatureDoesNotMatch", 403)
    assert_absent(s3, bucket, "auth/wrong-secret")


@pytest.mark.strata_only
def test_unknown_access_key(gateway, s3, bucket):
    bad = gateway.client_with("AKIAUNKNOWNUNKNOWN00", gateway.secret_key)
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("InvalidAccessKeyId", 403)
    s3.put_object(Bucket=bucket, Key="auth/existing", Body=b"secret")
    with pytest.raises(ClientError) as ei:
        bad.get_object(Bucket=bucket, Key="auth/existing")
    assert err(ei) == ("InvalidAccessKeyId", 403)


@pytest.mark.strata_only
def test_anonymous_requests_denied(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="auth/private", Body=b"private bytes")
    http = e2e.http_session()
    for method, path, data in [("GET", f"/{bucket}/auth/private", None),
                               ("HEAD", f"/{bucket}/auth/private", None),
                               ("GET", f"/{bucket}", None),
                               ("GET", "/", None),
                               ("PUT", f"/{bucket}/auth/anon", b"anonymous"),
                               ("DELETE", f"/{bucket}/auth/private", None),
                               ("PUT", f"/{e2e.unique_bucket('anon')}", None)]:
        r = http.request(method, gateway.url(path), data=data, timeout=30)
        e2e.assert_s3_error(r, 403, "AccessDenied")
        assert b"private bytes" not in r.content
    anon = gateway.client_with("x", "y", Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                                retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as ei:
        anon.get_object(Bucket=bucket, Key="auth/private")
    assert err(ei) == ("AccessDenied", 403)
    assert_absent(s3, bucket, "auth/anon")
    assert s3.get_object(Bucket=bucket, Key="auth/private")["Body"].read() == b"private bytes"


def test_sha256_helpers_agree():
    """Guards the suite's own helpers: the multipart ETag formula on a known case."""
    assert e2e.multipart_etag([b"a", b"b"]) == '"%s-2"' % hashlib.md5(
        hashlib.md5(b"a").digest() + hashlib.md5(b"b").digest()).hexdigest()
    assert e2e.crc32_b64(b"") == "AAAAAA=="


def test_concurrent_overwrites_and_reads_are_atomic(gateway, bucket):
    """Readers racing writers on one key always get one whole version, never a mix."""
    import threading

    versions = [os.urandom(MiB + 300_000) for _ in range(6)]
    digests = {e2e.sha256(v) for v in versions}
    s3 = gateway.client()
    s3.put_object(Bucket=bucket, Key="race", Body=versions[0])
    stop = threading.Event()
    bad, reads, failures = [], [0], []

    def writer(n):
        c = gateway.client()
        i = n
        while not stop.is_set():
            try:
                c.put_object(Bucket=bucket, Key="race", Body=versions[i % len(versions)])
            except Exception as e:  # noqa: BLE001
                failures.append(f"PUT: {e}")
            i += 1

    def reader():
        c = gateway.client()
        while not stop.is_set():
            try:
                r = c.get_object(Bucket=bucket, Key="race")
                data = r["Body"].read()
            except Exception as e:  # noqa: BLE001
                failures.append(f"GET: {e}")
                continue
            reads[0] += 1
            if e2e.sha256(data) not in digests or r["ETag"] != f'"{e2e.md5_hex(data)}"':
                bad.append((len(data), r["ETag"]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures[:5]
    assert reads[0] >= 5, "too few reads to mean anything"
    assert not bad, f"{len(bad)} of {reads[0]} reads returned a mixed or mislabelled version: {bad[:5]}"
