"""Durability: nothing is stored in plaintext, acknowledged writes survive kill -9,
and no blob is leaked or lost across a crash. Each test starts its own gateway."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import strata_e2e as e2e
from strata_e2e import MiB

MARKER = b"STRATA-PLAINTEXT-MARKER"


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    overlap = len(needle) - 1
    for path in all_files(root):
        with open(path, "rb") as f:
            tail = b""
            for chunk in iter(lambda: f.read(4 * MiB), b""):
                if needle in tail + chunk:
                    hits.append(str(path.relative_to(root)))
                    break
                tail = chunk[-overlap:]
    return hits


def blob_files(gw: e2e.Gateway) -> list[Path]:
    return all_files(gw.data_dir / "backends")


def marked(size: int, seed: int) -> bytes:
    """Random bytes with the marker at the start, the end, every 4 KiB and across 1 MiB frames."""
    rng = random.Random(seed)
    buf = bytearray(rng.randbytes(size))
    spots = {0, max(0, size - len(MARKER))} | set(range(0, size - len(MARKER), 4096))
    spots |= {f - 7 for f in range(MiB, size, MiB) if f - 7 + len(MARKER) <= size}
    for s in spots:
        buf[s:s + len(MARKER)] = MARKER
    return bytes(buf)


def test_no_plaintext_at_rest(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed("reads the data dir")
    s3 = gw.client()
    s3.create_bucket(Bucket="plain")
    objects = {
        "tiny": MARKER,
        "small": marked(5000, 1),
        "frames": marked(3 * MiB + 11, 2),
        "compressible": MARKER * 200_000,               # 4.6 MB of one repeated line
    }
    for key, data in objects.items():
        s3.put_object(Bucket="plain", Key=key, Body=data)
    # multipart, part copy and copy paths write blobs too
    parts = [marked(5 * MiB, 3), marked(1 * MiB, 4)]
    uid = s3.create_multipart_upload(Bucket="plain", Key="multipart")["UploadId"]
    etags = [s3.upload_part(Bucket="plain", Key="multipart", UploadId=uid, PartNumber=n, Body=d)["ETag"]
             for n, d in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket="plain", Key="multipart", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]})
    objects["multipart"] = b"".join(parts)
    s3.copy_object(Bucket="plain", Key="copied", CopySource={"Bucket": "plain", "Key": "frames"})
    objects["copied"] = objects["frames"]
    # an upload left open: its parts are on disk too
    open_uid = s3.create_multipart_upload(Bucket="plain", Key="open")["UploadId"]
    s3.upload_part(Bucket="plain", Key="open", UploadId=open_uid, PartNumber=1, Body=marked(5 * MiB, 5))

    for key, data in objects.items():
        assert s3.get_object(Bucket="plain", Key=key)["Body"].read() == data, key

    blobs = blob_files(gw)
    assert blobs, f"no files under {gw.data_dir / 'backends'}: where is the data?"
    stored = sum(p.stat().st_size for p in blobs)
    # (a copy may share its source's blob, so it is not counted)
    incompressible = sum(len(v) for k, v in objects.items() if k not in ("compressible", "copied"))
    assert stored >= incompressible, f"only {stored} bytes under backends/ for {incompressible} of random data"

    hits = files_containing(gw.data_dir, MARKER)
    assert not hits, f"plaintext marker found at rest in: {hits}"

    gw.restart()  # a clean shutdown may flush more
    hits = files_containing(gw.data_dir, MARKER)
    assert not hits, f"plaintext marker found at rest after restart in: {hits}"
    s3 = gw.client()
    for key, data in objects.items():
        assert e2e.sha256(s3.get_object(Bucket="plain", Key=key)["Body"].read()) == e2e.sha256(data), key


SIZES = [0, 1, 1000, 65_536, 300_000, MiB + 1, 2 * MiB + 500_000]


def test_kill9_keeps_acknowledged_writes(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed("kill -9")
    s3 = gw.client()
    s3.create_bucket(Bucket="crash")

    lock = threading.Lock()
    acked: dict[str, str] = {}                      # key -> sha256, unique keys
    deleted: set[str] = set()                       # acknowledged deletes
    delete_sent: set[str] = set()                   # deletes sent (maybe not acknowledged)
    attempted: dict[str, list[str]] = {}            # key -> every sha256 ever sent
    overwrite_acked: dict[str, list[str]] = {}      # per-thread key -> acked versions, in order
    errors_before_kill: list[str] = []
    kill_at = [float("inf")]
    stop = threading.Event()

    def worker(t: int):
        c = gw.client(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=20)
        rng = random.Random(t)
        i = 0
        ow_key = f"ow/{t}"
        while not stop.is_set():
            i += 1
            op_start = time.monotonic()
            try:
                if i % 7 == 0 and acked:
                    with lock:
                        mine = [k for k in acked if k.startswith(f"u/{t}/") and k not in delete_sent]
                    if mine:
                        victim = rng.choice(mine)
                        with lock:
                            delete_sent.add(victim)
                        c.delete_object(Bucket="crash", Key=victim)
                        with lock:
                            deleted.add(victim)
                        continue
                key = ow_key if i % 4 == 0 else f"u/{t}/{i:06d}"
                body = os.urandom(rng.choice(SIZES))
                digest = e2e.sha256(body)
                with lock:
                    attempted.setdefault(key, []).append(digest)
                r = c.put_object(Bucket="crash", Key=key, Body=body)
                assert r["ETag"] == f'"{e2e.md5_hex(body)}"'
                with lock:
                    if key == ow_key:
                        overwrite_acked.setdefault(key, []).append(digest)
                    else:
                        acked[key] = digest
            except Exception as exc:  # noqa: BLE001 - the kill makes requests fail
                if op_start < kill_at[0] and time.monotonic() < kill_at[0]:
                    with lock:
                        errors_before_kill.append(f"{type(exc).__name__}: {exc}")
                if stop.is_set() or time.monotonic() >= kill_at[0]:
                    return

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(8)]
    for th in threads:
        th.start()
    time.sleep(3.0)
    kill_at[0] = time.monotonic()
    kill_wall = time.time()
    gw.kill9()
    stop.set()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "client threads hung after the kill"
    assert not errors_before_kill, f"requests failed before the kill: {errors_before_kill[:5]}"
    assert len(acked) >= 20, f"only {len(acked)} PUTs acknowledged in 3 s: too few to mean anything"

    gw.start()
    s3 = gw.client()
    lost, wrong = [], []
    for key, digest in acked.items():
        if key in delete_sent:
            continue
        try:
            data = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        except ClientError as e:
            lost.append(f"{key}: {e2e.client_error_code(e)}")
            continue
        if e2e.sha256(data) != digest:
            wrong.append(key)
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged objects lost, e.g. {lost[:5]}"
    assert not wrong, f"{len(wrong)} acknowledged objects read back different, e.g. {wrong[:5]}"

    for key in deleted:
        with pytest.raises(ClientError) as ei:
            s3.head_object(Bucket="crash", Key=key)
        assert e2e.client_error_status(ei.value) == 404, f"acknowledged delete of {key} undone"

    for key, versions in overwrite_acked.items():
        data = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        sent = attempted[key]
        allowed = set(sent[sent.index(versions[-1]):])  # the last acked one, or one sent after it
        assert e2e.sha256(data) in allowed, f"{key}: neither its last acknowledged version nor a later one"

    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["Size"]
    for key in acked:
        if key not in delete_sent:
            assert key in listed, f"{key} readable but not listed"
    torn = []
    for key in listed:
        assert key in attempted, f"listing shows a key never written: {key}"
        if key not in acked or key in delete_sent:  # in flight at the kill: all or nothing
            data = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            if e2e.sha256(data) not in attempted[key]:
                torn.append(key)
    assert not torn, f"objects in flight at the kill came back torn: {torn}"

    sample = sorted(k for k in acked if k not in delete_sent)[0]
    info = gw.object_info("crash", sample)
    assert info.status_code == 200, info.text
    info = info.json()
    assert info["size"] == listed[sample]
    assert isinstance(info["replicas"], list) and info["replicas"], info
    for name in info["replicas"]:
        assert (gw.data_dir / "backends" / name).is_dir(), f"replica on unknown backend {name!r}"

    # every blob on disk is referenced by the catalog, and every reference has its blob
    deadline = time.monotonic() + 20
    while True:
        referenced = gw.health().get("blobs_referenced")
        assert isinstance(referenced, int), "health JSON lacks blobs_referenced"
        on_disk = blob_files(gw)
        if len(on_disk) == referenced or time.monotonic() > deadline:
            break
        time.sleep(1)
    if len(on_disk) != referenced:
        newest = sorted(on_disk, key=lambda p: p.stat().st_mtime)[-5:]
        pytest.fail(
            f"{len(on_disk)} blob files under backends/ but the catalog references {referenced}: "
            f"{'leaked blobs (orphans of the crash)' if len(on_disk) > referenced else 'missing blobs'}.\n"
            f"files with '#' (object_store staging files?): "
            f"{[str(p.relative_to(gw.data_dir)) for p in on_disk if '#' in p.name][:10]}\n"
            f"health: {gw.health()}\n"
            f"newest files (mtime relative to the kill): "
            f"{[(str(p.relative_to(gw.data_dir)), round(p.stat().st_mtime - kill_wall, 3), p.stat().st_size) for p in newest]}")


def test_graceful_restart_keeps_everything(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed("restart")
    s3 = gw.client()
    s3.create_bucket(Bucket="restart")
    data = {f"k/{i}": os.urandom(i * 40_000) for i in range(30)}
    for k, v in data.items():
        s3.put_object(Bucket="restart", Key=k, Body=v, Metadata={"i": k})
    uid = s3.create_multipart_upload(Bucket="restart", Key="pending")["UploadId"]
    part = os.urandom(5 * MiB)
    e1 = s3.upload_part(Bucket="restart", Key="pending", UploadId=uid, PartNumber=1, Body=part)["ETag"]

    gw.restart()
    s3 = gw.client()
    for k, v in data.items():
        r = s3.get_object(Bucket="restart", Key=k)
        assert r["Body"].read() == v and r["Metadata"] == {"i": k}, k
    # an open multipart upload survives a restart and can be finished
    ups = s3.list_multipart_uploads(Bucket="restart").get("Uploads", [])
    assert [u["UploadId"] for u in ups] == [uid]
    e2 = s3.upload_part(Bucket="restart", Key="pending", UploadId=uid, PartNumber=2, Body=b"end")["ETag"]
    s3.complete_multipart_upload(Bucket="restart", Key="pending", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.get_object(Bucket="restart", Key="pending")["Body"].read() == part + b"end"
    # deleting everything leaves no blob behind
    for k in data:
        s3.delete_object(Bucket="restart", Key=k)
    s3.delete_object(Bucket="restart", Key="pending")
    deadline = time.monotonic() + 40  # deletion is deferred by a grace period (10 s today)
    while blob_files(gw) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert gw.health()["blobs_referenced"] == 0
    assert not blob_files(gw), f"blobs left after deleting every object: {blob_files(gw)[:10]}"
