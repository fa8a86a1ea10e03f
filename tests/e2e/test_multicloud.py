"""A gateway whose backends span three emulated clouds (moto, Azurite, fake-gcs-server) and local disk.

RF=2 with provider diversity: every object is written to an S3 backend (a moto server of this test's own, so it
can be stopped mid-test) and to Azurite. The test proves round trips, sealed bytes under each backend's own key,
failover when the S3 emulator dies, and that a write which cannot reach RF fails cleanly.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import boto3
import pytest
import requests

import strata_e2e as e2e

MARKER = b"STRATA-MULTICLOUD-PLAINTEXT-MARKER"


def _require_emulators():
    missing = [v for v in ("STRATA_EMU_AZURE", "STRATA_EMU_GCS", "STRATA_EMU_AZURE_KEY") if not os.environ.get(v)]
    if missing:
        if os.environ.get("STRATA_EMU_REQUIRED") == "1":
            pytest.fail(f"emulators required but {missing} unset (scripts/emulators.sh)")
        pytest.skip(f"no cloud emulators ({', '.join(missing)} unset): run scripts/emulators.sh start")


@pytest.fixture
def own_moto(tmp_path):
    """A moto server only this test uses (so it can be killed)."""
    _require_emulators()
    port = e2e.free_port()
    exe = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    log = open(tmp_path / "moto.log", "wb")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="moto",
                          aws_secret_access_key="moto")
    client.create_bucket(Bucket="strata-mc-hot")
    try:
        yield url, client, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        log.close()


def _config(moto_url: str) -> str:
    azure = os.environ["STRATA_EMU_AZURE"]
    gcs = os.environ["STRATA_EMU_GCS"]
    return f"""
[[backends]]
name = "aws-hot"
kind = "s3"
endpoint = "{moto_url}"
bucket = "strata-mc-hot"
access_key_env = "STRATA_EMU_S3_KEY"
secret_key_env = "STRATA_EMU_S3_SECRET"
allow_http = true
tier = "aws-s3-standard"

[[backends]]
name = "azure-cool"
kind = "azure"
endpoint = "{azure}"
account = "devstoreaccount1"
container = "strata-cool"
access_key_env = "STRATA_EMU_AZURE_KEY"
allow_http = true
tier = "azure-cool"

[[backends]]
name = "gcs-cold"
kind = "gcs"
endpoint = "{gcs}"
bucket = "strata-cold"
anonymous = true
allow_http = true
tier = "gcs-coldline"

[[backends]]
name = "disk"
kind = "local"
path = "backends/disk"
tier = "aws-s3-standard-ia"

[placement]
replication_factor = 2
provider_diversity = true
initial = ["aws-hot", "azure-cool"]

[retry]
max_attempts = 2
base_ms = 50
max_delay_ms = 200
max_elapsed_ms = 2000
attempt_timeout_ms = 5000
"""


def _azure_blobs():
    from azure.storage.blob import BlobServiceClient
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={os.environ['STRATA_EMU_AZURE_KEY']};BlobEndpoint={os.environ['STRATA_EMU_AZURE']};")
    return BlobServiceClient.from_connection_string(conn).get_container_client("strata-cool")


def test_rf2_across_clouds_sealed_failover_and_clean_failure(make_gateway, own_moto):
    moto_url, moto, moto_proc = own_moto
    os.environ.setdefault("STRATA_EMU_S3_KEY", "moto")
    os.environ.setdefault("STRATA_EMU_S3_SECRET", "moto")
    gw = make_gateway(_config(moto_url))
    s3 = gw.client()
    s3.create_bucket(Bucket="multicloud")
    bodies = {
        "small": MARKER + b" small",
        "frames": (MARKER + os.urandom(1000)) * 3000,  # ~3 MiB, several frames
    }
    for k, v in bodies.items():
        s3.put_object(Bucket="multicloud", Key=k, Body=v)
    for k, v in bodies.items():
        assert s3.get_object(Bucket="multicloud", Key=k)["Body"].read() == v
        meta = gw.admin("GET", f"/admin/objects/multicloud/{k}").json()
        assert meta["replicas"] == ["aws-hot", "azure-cool"], meta
    rng = s3.get_object(Bucket="multicloud", Key="frames", Range="bytes=1048570-1048600")["Body"].read()
    assert rng == bodies["frames"][1048570:1048601]

    # Each cloud holds only sealed blobs: the header magic, never the plaintext marker.
    s3_blobs = [o["Key"] for o in moto.list_objects_v2(Bucket="strata-mc-hot").get("Contents", [])]
    assert len(s3_blobs) == 2, s3_blobs
    for key in s3_blobs:
        raw = moto.get_object(Bucket="strata-mc-hot", Key=key)["Body"].read()
        assert raw[:4] == b"STRS" and MARKER not in raw
    container = _azure_blobs()
    az_blobs = [b.name for b in container.list_blobs() if b.name in set(s3_blobs)]
    assert sorted(az_blobs) == sorted(s3_blobs), "the same blobs exist on both replicas"
    for name in az_blobs:
        raw = container.download_blob(name).readall()
        assert raw[:4] == b"STRS" and MARKER not in raw
        # Same plaintext, different keys: the sealed bytes differ between the clouds.
        assert raw != moto.get_object(Bucket="strata-mc-hot", Key=name)["Body"].read()

    # Move one object onto the other two clouds' tiers (GCS and local disk): sealed there too, under their keys.
    r = gw.admin("POST", "/admin/moves", json={"bucket": "multicloud", "key": "small", "to": ["gcs-cold", "disk"]})
    assert r.status_code == 202, r.text
    task_id = r.json()["moves"][0]["id"]
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        tasks = gw.admin("GET", "/admin/moves?limit=100").json()["moves"]
        state = next(t for t in tasks if t["id"] == task_id)["state"]
        if state in ("Committed", "SourceReleased", "Aborted"):
            break
        time.sleep(0.2)
    assert state in ("Committed", "SourceReleased"), state
    meta = gw.admin("GET", "/admin/objects/multicloud/small").json()
    assert meta["replicas"] == ["gcs-cold", "disk"], meta
    gcs = os.environ["STRATA_EMU_GCS"]
    listing = requests.get(f"{gcs}/storage/v1/b/strata-cold/o", timeout=10).json().get("items", [])
    names = [o["name"] for o in listing]
    moved_blob = next(n for n in names if n in set(s3_blobs))
    raw_gcs = requests.get(f"{gcs}/download/storage/v1/b/strata-cold/o/{requests.utils.quote(moved_blob, safe='')}",
                           params={"alt": "media"}, timeout=10).content
    assert raw_gcs[:4] == b"STRS" and MARKER not in raw_gcs
    raw_disk = (gw.data_dir / "backends" / "disk" / moved_blob).read_bytes()
    assert raw_disk[:4] == b"STRS" and MARKER not in raw_disk
    assert raw_disk != raw_gcs, "each backend seals with its own key"
    assert s3.get_object(Bucket="multicloud", Key="small")["Body"].read() == bodies["small"]

    # The S3 emulator dies mid-test: reads fail over to Azure, byte-identical.
    moto_proc.send_signal(signal.SIGKILL)
    moto_proc.wait()
    for k, v in bodies.items():
        got = s3.get_object(Bucket="multicloud", Key=k)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(v).digest(), k

    # A write that cannot reach RF fails with a clean S3 error and leaves nothing.
    r = gw.signed("PUT", "/multicloud/unreachable", body=b"x" * 1000)
    e2e.assert_s3_error(r, (500, 503), None)
    r = gw.signed("HEAD", "/multicloud/unreachable")
    assert r.status_code == 404
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="multicloud").get("Contents", [])]
    assert sorted(listed) == sorted(bodies)
