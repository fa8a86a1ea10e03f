"""The admin API: bearer-token auth, object records, read accounting."""

from __future__ import annotations

import os
import time

import pytest

import strata_e2e as e2e


@pytest.fixture(autouse=True)
def _needs_admin(gateway):
    gateway.require_admin()


def test_admin_requires_bearer_token(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    for path in ("/admin/health", f"/admin/objects/{bucket}/a"):
        assert gateway.admin("GET", path, token=None).status_code == 401, path
        assert gateway.admin("GET", path, token="wrong-token").status_code == 401, path
        assert gateway.admin("GET", path, token=gateway.token + "x").status_code == 401, path
        # the S3 secret is not an admin token
        assert gateway.admin("GET", path, token=gateway.secret_key).status_code == 401, path
        r = gateway.admin("GET", path, token=None, headers={"Authorization": f"Basic {gateway.token}"})
        assert r.status_code == 401, path
        assert gateway.admin("GET", path).status_code == 200, path


def test_health_json(gateway):
    h = gateway.health()
    assert isinstance(h, dict)
    assert isinstance(h.get("blobs_referenced"), int) and h["blobs_referenced"] >= 0, h


def test_object_record_fields(gateway, s3, bucket):
    body = os.urandom(123_456)
    key = "dir/sub dir/obj ü.bin"
    put = s3.put_object(Bucket=bucket, Key=key, Body=body)
    r = gateway.object_info(bucket, key)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["size"] == len(body)
    assert info["etag"].strip('"') == put["ETag"].strip('"') == e2e.md5_hex(body)
    assert isinstance(info["generation"], int)
    assert isinstance(info["replicas"], list) and info["replicas"], info
    assert all(isinstance(x, str) and x for x in info["replicas"]), info
    if gateway.data_dir is not None:
        for name in info["replicas"]:
            assert (gateway.data_dir / "backends" / name).is_dir(), f"unknown backend {name!r}"
    assert isinstance(info["heat"], (int, float)), info
    assert isinstance(info["reads"], int) and info["reads"] >= 0, info
    assert info["last_access_ms"] is None or isinstance(info["last_access_ms"], int), info

    gen1 = info["generation"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"replaced")
    info2 = gateway.object_info(bucket, key).json()
    assert info2["size"] == len(b"replaced")
    assert info2["generation"] > gen1, (gen1, info2)


def test_object_record_missing(gateway, bucket):
    assert gateway.object_info(bucket, "no-such-key").status_code == 404
    assert gateway.object_info(e2e.unique_bucket("nobkt"), "k").status_code == 404


def test_reads_are_counted(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="hot", Body=b"read me " * 1000)
    before = gateway.object_info(bucket, "hot").json()
    start_ms = int(time.time() * 1000)
    for _ in range(5):
        assert s3.get_object(Bucket=bucket, Key="hot")["Body"].read().startswith(b"read me")
    s3.get_object(Bucket=bucket, Key="hot", Range="bytes=0-3")["Body"].read()

    deadline = time.monotonic() + 5  # recording is batched
    while True:
        after = gateway.object_info(bucket, "hot").json()
        if after["reads"] >= before["reads"] + 5 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert after["reads"] >= before["reads"] + 5, (before, after)
    assert isinstance(after["last_access_ms"], int)
    now_ms = int(time.time() * 1000)
    assert start_ms - 2000 <= after["last_access_ms"] <= now_ms + 2000, (start_ms, after, now_ms)
    assert after["heat"] > before["heat"], (before, after)
