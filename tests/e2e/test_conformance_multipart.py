"""S3 conformance: multipart uploads beyond the basics of test_boto3.py.

Each case asserts what the AWS S3 API reference documents for CreateMultipartUpload, UploadPart, UploadPartCopy,
ListParts, ListMultipartUploads, CompleteMultipartUpload and AbortMultipartUpload, and GetObject/HeadObject with
`partNumber`:
- part numbers are 1 to 10,000 (else 400 InvalidArgument); an unknown upload id is 404 NoSuchUpload, for every call
  and for an id used with another key;
- uploading a part number again replaces it; ListParts pages with max-parts / part-number-marker;
- ListMultipartUploads orders by key then initiation, filters by prefix, rolls up by delimiter, pages with
  key-marker / upload-id-marker, and forgets completed and aborted uploads;
- the metadata, content type and tags given at creation are the object's; GET/HEAD with partNumber answer one part
  and `x-amz-mp-parts-count`;
- a wrong Content-MD5 on a part is 400 BadDigest and stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from strata_e2e import MiB, error_of

FIVE = 5 * MiB


def start(s3, bucket, key="mp", **kw):
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **kw)["UploadId"]


def part(s3, bucket, uid, n, body, key="mp"):
    return {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n,
                                                    Body=body)["ETag"]}


@pytest.mark.parametrize("number", [0, 10001])
def test_part_numbers_are_1_to_10000(s3, bucket, number):
    uid = start(s3, bucket)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=b"x")
    assert error_of(e.value) == (400, "InvalidArgument")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


def test_part_10000_is_accepted(s3, bucket):
    uid = start(s3, bucket)
    p = part(s3, bucket, uid, 10000, b"last")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [p]})
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"last"


@pytest.mark.parametrize("call", ["upload_part", "list_parts", "complete", "abort"])
def test_an_unknown_upload_is_no_such_upload(s3, bucket, call):
    uid = "0" * 32
    calls = {
        "upload_part": lambda: s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x"),
        "list_parts": lambda: s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid),
        "complete": lambda: s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]}),
        "abort": lambda: s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid),
    }
    with pytest.raises(ClientError) as e:
        calls[call]()
    assert error_of(e.value) == (404, "NoSuchUpload")


def test_an_upload_id_belongs_to_its_key(s3, bucket):
    uid = start(s3, bucket, key="mine")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="someone-else", UploadId=uid, PartNumber=1, Body=b"x")
    assert error_of(e.value) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=bucket, Key="mine", UploadId=uid)


def test_aborting_twice_is_no_such_upload(s3, bucket):
    uid = start(s3, bucket)
    part(s3, bucket, uid, 1, b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)
    assert error_of(e.value) == (404, "NoSuchUpload")


def test_a_part_uploaded_again_replaces_the_first(s3, bucket):
    uid = start(s3, bucket)
    part(s3, bucket, uid, 1, b"first version")
    second = part(s3, bucket, uid, 1, b"second")
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, second["ETag"], 6)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [second]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"second"


def test_list_parts_pages(s3, bucket):
    uid = start(s3, bucket)
    etags = {n: part(s3, bucket, uid, n, f"part {n}".encode())["ETag"] for n in (1, 2, 3, 5, 8)}
    r = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in r["Parts"]] == [1, 2]
    assert r["IsTruncated"] is True and r["NextPartNumberMarker"] == 2 and r["MaxParts"] == 2
    r = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in r["Parts"]] == [3, 5, 8]
    assert r["IsTruncated"] is False
    assert {p["PartNumber"]: p["ETag"] for p in r["Parts"]} == {n: etags[n] for n in (3, 5, 8)}
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


def test_list_uploads_orders_filters_and_forgets(s3, bucket):
    ids = {}
    for key in ("b/2", "a", "b/1", "c"):
        ids[key] = start(s3, bucket, key=key)
    again = start(s3, bucket, key="a")
    r = s3.list_multipart_uploads(Bucket=bucket)
    got = [(u["Key"], u["UploadId"]) for u in r["Uploads"]]
    assert [k for k, _ in got] == ["a", "a", "b/1", "b/2", "c"]
    assert [u for k, u in got if k == "a"] == [ids["a"], again]  # by initiation within a key
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="b/")
    assert [u["Key"] for u in r["Uploads"]] == ["b/1", "b/2"]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["a", "a", "c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert r["IsTruncated"] is True and (r["NextKeyMarker"], r["NextUploadIdMarker"]) == ("a", again)
    r = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a", UploadIdMarker=again)
    assert [u["Key"] for u in r["Uploads"]] == ["b/1", "b/2", "c"]
    # Completed and aborted uploads are gone from the list.
    p = part(s3, bucket, ids["c"], 1, b"x", key="c")
    s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=ids["c"], MultipartUpload={"Parts": [p]})
    s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=again)
    keys = [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    assert ("c", ids["c"]) not in keys and ("a", again) not in keys and len(keys) == 3


def test_creation_metadata_becomes_the_objects(s3, bucket):
    uid = start(s3, bucket, ContentType="text/csv", Metadata={"origin": "multipart"}, Tagging="kind=report",
                CacheControl="max-age=60", ContentDisposition="attachment")
    p = part(s3, bucket, uid, 1, b"a,b\n1,2\n")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [p]})
    h = s3.head_object(Bucket=bucket, Key="mp")
    assert h["ContentType"] == "text/csv" and h["Metadata"] == {"origin": "multipart"}
    assert h["CacheControl"] == "max-age=60" and h["ContentDisposition"] == "attachment"
    assert s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"] == [{"Key": "kind", "Value": "report"}]


def test_part_number_reads_one_part(s3, bucket):
    uid = start(s3, bucket)
    first, second = os.urandom(FIVE), b"the tail part"
    parts = [part(s3, bucket, uid, 1, first), part(s3, bucket, uid, 2, second)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    r = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["Body"].read() == second and r["PartsCount"] == 2
    assert r["ContentRange"] == f"bytes {FIVE}-{FIVE + len(second) - 1}/{FIVE + len(second)}"
    h = s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert h["ContentLength"] == FIVE and h["PartsCount"] == 2


def test_a_part_number_past_the_last_is_refused(s3, bucket):
    uid = start(s3, bucket)
    p = part(s3, bucket, uid, 1, b"only")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [p]})
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert error_of(e.value) == (416, "InvalidPartNumber")


def test_a_wrong_part_md5_is_bad_digest(s3, bucket):
    uid = start(s3, bucket)
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"payload", ContentMD5=wrong)
    assert error_of(e.value) == (400, "BadDigest")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


def test_upload_part_copy_of_a_range(s3, bucket):
    src = os.urandom(FIVE + 1000)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = start(s3, bucket)
    r = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{FIVE - 1}")
    p1 = {"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}
    r = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={FIVE}-{FIVE + 999}")
    p2 = {"PartNumber": 2, "ETag": r["CopyPartResult"]["ETag"]}
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [p1, p2]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == src


def test_upload_part_copy_range_outside_the_source_is_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = start(s3, bucket)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=5-20")
    assert error_of(e.value)[0] in (400, 416)
    assert error_of(e.value)[1] in ("InvalidArgument", "InvalidRange")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


def test_an_upload_survives_an_overwrite_of_its_key(s3, bucket):
    uid = start(s3, bucket)
    p = part(s3, bucket, uid, 1, b"from the upload")
    s3.put_object(Bucket=bucket, Key="mp", Body=b"written meanwhile")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": [p]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"from the upload"


def test_completing_a_completed_upload_again_answers_the_same(s3, bucket):
    # A client whose CompleteMultipartUpload answer was lost retries it: S3 answers 200 again with the object it
    # made (the outside suite's test_multipart_upload checks this), and nothing changes. Once the key holds another
    # version, the old upload id is NoSuchUpload again.
    uid = start(s3, bucket)
    parts = [part(s3, bucket, uid, 1, b"a" * FIVE), part(s3, bucket, uid, 2, b"tail")]
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"]
    assert (again["Bucket"], again["Key"]) == (bucket, "mp")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * FIVE + b"tail"
    s3.put_object(Bucket=bucket, Key="mp", Body=b"new")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    assert error_of(e.value) == (404, "NoSuchUpload")
    # A copy of a completed object is not that upload's completion.
    uid2 = start(s3, bucket, key="src")
    p2 = [part(s3, bucket, uid2, 1, b"x", key="src")]
    s3.complete_multipart_upload(Bucket=bucket, Key="src", UploadId=uid2, MultipartUpload={"Parts": p2})
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="copy", UploadId=uid2, MultipartUpload={"Parts": p2})
    assert error_of(e.value) == (404, "NoSuchUpload")
