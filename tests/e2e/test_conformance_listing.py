"""S3 conformance: ListObjects (v1) and ListObjectsV2 details beyond test_boto3.py.

Each case asserts what the AWS S3 API reference documents for ListObjectsV2 and ListObjects: max-keys bounds
(0 answers nothing, more than 1,000 is 1,000, negative is 400), continuation tokens (opaque, echoed, a bad one is
400 InvalidArgument), start-after, key order (UTF-8 binary), delimiters of more than one character, common prefixes
counted in KeyCount, and v1's NextMarker (returned only with a delimiter).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from strata_e2e import error_of

KEYS = ["B", "a", "a/1", "a/2", "a/b/3", "ab", "z", "é", "x//y", "x//z"]


@pytest.fixture
def keys(s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    return bucket


def contents(r):
    return [o["Key"] for o in r.get("Contents", [])]


def test_keys_come_in_utf8_byte_order(s3, keys):
    assert contents(s3.list_objects_v2(Bucket=keys)) == sorted(KEYS, key=lambda k: k.encode())


def test_max_keys_zero_answers_nothing(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, MaxKeys=0)
    assert contents(r) == [] and r["KeyCount"] == 0 and r["IsTruncated"] is False


def test_max_keys_above_1000_is_1000(gateway, keys):
    r = gateway.signed("GET", f"/{keys}?list-type=2&max-keys=5000")
    assert r.status_code == 200 and b"<MaxKeys>1000</MaxKeys>" in r.content


def test_negative_max_keys_is_invalid(gateway, keys):
    r = gateway.signed("GET", f"/{keys}?list-type=2&max-keys=-1")
    assert r.status_code == 400 and b"InvalidArgument" in r.content


def test_a_bad_continuation_token_is_invalid(s3, keys):
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=keys, ContinuationToken="@@not-a-token@@")
    assert error_of(e.value) == (400, "InvalidArgument")


def test_continuation_tokens_page_and_are_echoed(s3, keys):
    first = s3.list_objects_v2(Bucket=keys, MaxKeys=4)
    assert first["IsTruncated"] is True and first["KeyCount"] == 4
    token = first["NextContinuationToken"]
    rest = s3.list_objects_v2(Bucket=keys, ContinuationToken=token)
    assert rest["ContinuationToken"] == token
    assert contents(first) + contents(rest) == sorted(KEYS, key=lambda k: k.encode())


def test_start_after_skips_and_past_the_end_is_empty(s3, keys):
    assert contents(s3.list_objects_v2(Bucket=keys, StartAfter="ab")) == ["x//y", "x//z", "z", "é"]
    r = s3.list_objects_v2(Bucket=keys, StartAfter="\U0010ffff")
    assert contents(r) == [] and r["IsTruncated"] is False


def test_common_prefixes_count_in_key_count(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "x/"]
    assert r["KeyCount"] == len(contents(r)) + 2


def test_a_multi_character_delimiter(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, Delimiter="//")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["x//"]
    assert "a/1" in contents(r)


def test_prefix_ending_in_the_delimiter_lists_one_level(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, Prefix="a/", Delimiter="/")
    assert contents(r) == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]


def test_a_prefix_matching_nothing(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, Prefix="nothing-here")
    assert contents(r) == [] and r["KeyCount"] == 0 and "CommonPrefixes" not in r


def test_v1_next_marker_only_with_a_delimiter(s3, keys):
    r = s3.list_objects(Bucket=keys, MaxKeys=2)
    assert r["IsTruncated"] is True and "NextMarker" not in r
    r = s3.list_objects(Bucket=keys, MaxKeys=2, Delimiter="/")
    assert r["IsTruncated"] is True and r["NextMarker"]


def test_v1_echoes_its_marker_and_resumes_after_it(s3, keys):
    r = s3.list_objects(Bucket=keys, Marker="a/2")
    assert r["Marker"] == "a/2"
    assert contents(r)[0] == "a/b/3"


def test_a_rolled_up_marker_skips_its_prefix(s3, keys):
    r = s3.list_objects_v2(Bucket=keys, Delimiter="/", StartAfter="a/1")
    assert "a/" not in [p["Prefix"] for p in r.get("CommonPrefixes", [])]
    assert contents(r)[0] == "ab"


@pytest.mark.parametrize("version", [1, 2])
def test_an_empty_delimiter_is_no_delimiter(s3, keys, version):
    # S3 treats `delimiter=` as no delimiter: every key, no common prefixes, and no Delimiter element in the answer.
    r = (s3.list_objects if version == 1 else s3.list_objects_v2)(Bucket=keys, Delimiter="")
    assert "Delimiter" not in r and "CommonPrefixes" not in r
    assert contents(r) == sorted(contents(r)) and "a/b/3" in contents(r)


def test_owners_come_with_v1_and_with_fetch_owner(s3, keys):
    # ListObjects reports each object's Owner; ListObjectsV2 only when asked (fetch-owner=true). Under
    # BucketOwnerEnforced the bucket owner owns every object: the caller here, as ListBuckets reports it.
    me = s3.list_buckets()["Owner"]["ID"]
    assert {o["Owner"]["ID"] for o in s3.list_objects(Bucket=keys)["Contents"]} == {me}
    assert all("Owner" not in o for o in s3.list_objects_v2(Bucket=keys)["Contents"])
    assert {o["Owner"]["ID"] for o in s3.list_objects_v2(Bucket=keys, FetchOwner=True)["Contents"]} == {me}
