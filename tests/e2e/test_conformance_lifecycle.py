"""S3 conformance: bucket lifecycle (AWS S3 API reference: PutBucketLifecycleConfiguration,
GetBucketLifecycleConfiguration, DeleteBucketLifecycle; user guide "Managing your storage lifecycle").

- configurations are stored as given (filters by prefix, tag, size or several under And; the older rule-level
  Prefix) and answered back the same way; GetBucketLifecycleConfiguration on a bucket without one is 404
  NoSuchLifecycleConfiguration; DeleteBucketLifecycle removes it;
- they are checked as S3 checks them: days must be positive, a date must be at midnight UTC, a rule needs an
  action, Prefix and Filter are not both given, IDs are unique; transitions are refused with 501 NotImplemented
  (where an object lives is the planner's decision);
- rules are carried out: on a gateway on its test clock, a pass after the rule's days has expired the objects
  under the rule's prefix (boto3 and the aws CLI see them gone) and aborted the old uploads.
"""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import error_of

DAY_MS = 86_400_000

RULES = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    {"ID": "tmp-tagged", "Status": "Enabled", "Filter": {"Tag": {"Key": "tmp", "Value": "yes"}},
     "Expiration": {"Days": 1}},
    {"ID": "big-old", "Status": "Disabled",
     "Filter": {"And": {"Prefix": "data/", "Tags": [{"Key": "class", "Value": "scratch"}],
                        "ObjectSizeGreaterThan": 1048576}},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}},
    {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 1024},
     "Expiration": {"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}},
    {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
     "Expiration": {"ExpiredObjectDeleteMarker": True}},
]


def test_get_without_a_configuration_is_no_such_lifecycle_configuration(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchLifecycleConfiguration")


def test_a_configuration_is_answered_back_as_given_and_deleted(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got == RULES
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchLifecycleConfiguration")


def test_the_older_rule_level_prefix_is_answered_back_as_given(s3, bucket):
    rule = {"ID": "old-style", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 3}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [rule]


@pytest.mark.parametrize("rule,status,code", [
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}, 400, "InvalidArgument"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""},
      "Expiration": {"Date": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc)}},
     400, "InvalidArgument"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}}, 400, "InvalidRequest"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}, "Prefix": "x", "Expiration": {"Days": 1}},
     400, "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""},
      "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, 501, "NotImplemented"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, 400, "InvalidRequest"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""},
      "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 101}},
     400, "InvalidArgument"),
])
def test_bad_rules_are_refused_with_s3_codes(s3, bucket, rule, status, code):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert error_of(e.value) == (status, code)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_of(e.value) == (404, "NoSuchLifecycleConfiguration"), "nothing was stored"


def test_duplicate_ids_are_refused(s3, bucket):
    rule = {"ID": "same", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule, rule]})
    assert error_of(e.value) == (400, "InvalidArgument")


def test_the_aws_cli_puts_and_gets_a_configuration(aws, bucket, tmp_path):
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps({"Rules": RULES[:2]}))
    aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
        "--lifecycle-configuration", f"file://{path}")
    out = json.loads(aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout)
    assert out["Rules"] == RULES[:2]
    aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    p = aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert p.returncode != 0 and "NoSuchLifecycleConfiguration" in p.stderr


def test_rules_are_carried_out_on_the_test_clock(strata_bin, tmp_path):
    if strata_bin is None:
        pytest.skip("external endpoint: this test runs its own gateway on the test clock")
    gw = e2e.managed_gateway(strata_bin, tmp_path / "gw", {"STRATA_TEST_CLOCK": "1"})
    try:
        s3 = gw.client()
        s3.create_bucket(Bucket="expiring")
        s3.put_bucket_lifecycle_configuration(Bucket="expiring", LifecycleConfiguration={"Rules": RULES[:1]})
        for key in ("logs/1", "logs/2", "keep/1"):
            s3.put_object(Bucket="expiring", Key=key, Body=b"x" * 100)
        upload = s3.create_multipart_upload(Bucket="expiring", Key="logs/big")["UploadId"]

        def run() -> dict:
            r = gw.admin("POST", "/admin/lifecycle/run")
            assert r.status_code == 200, r.text
            return r.json()

        assert run()["expired"] == 0
        # Eight days on: the upload is older than its 7 days; the objects are not yet 30 days old.
        r = gw.admin("POST", "/admin/test/clock", json={"advance_ms": 8 * DAY_MS})
        assert r.status_code == 200, r.text
        report = run()
        assert (report["expired"], report["uploads_aborted"]) == (0, 1), report
        assert s3.list_multipart_uploads(Bucket="expiring").get("Uploads", []) == []
        with pytest.raises(ClientError) as e:
            s3.upload_part(Bucket="expiring", Key="logs/big", UploadId=upload, PartNumber=1, Body=b"x")
        assert error_of(e.value) == (404, "NoSuchUpload")
        # Thirty days on: the logs go, the rest stays.
        gw.admin("POST", "/admin/test/clock", json={"advance_ms": 23 * DAY_MS})
        assert run()["expired"] == 2
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="expiring").get("Contents", [])]
        assert keys == ["keep/1"]
        out = gw.aws("s3", "ls", "s3://expiring/logs/", check=False)
        assert out.stdout.strip() == ""
        status = gw.admin("GET", "/admin/lifecycle").json()
        assert status["passes"] == 3 and status["total"]["expired"] == 2, status
    finally:
        gw.stop()
