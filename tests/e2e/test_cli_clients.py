"""The aws CLI and rclone, unmodified, against the gateway."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

import strata_e2e as e2e
from strata_e2e import MiB

AWS_CLI_CHUNK = 8 * MiB  # the aws CLI's default multipart_chunksize


def write_random_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MiB))
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def local_multipart_etag(path: Path, part_size: int) -> str:
    parts = []
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(part_size), b""):
            parts.append(hashlib.md5(chunk).digest())
    return f'"{hashlib.md5(b"".join(parts)).hexdigest()}-{len(parts)}"'


def test_aws_cli_100mib_roundtrip(aws, s3, tmp_path):
    bucket = e2e.unique_bucket("awscli")
    aws("s3", "mb", f"s3://{bucket}")
    try:
        assert bucket in aws("s3", "ls").stdout
        src = tmp_path / "big.bin"
        size = 100 * MiB
        want = write_random_file(src, size)
        aws("s3", "cp", str(src), f"s3://{bucket}/dir/big.bin")
        small = tmp_path / "small.txt"
        small.write_bytes(b"hello from the aws cli\n")
        aws("s3", "cp", str(small), f"s3://{bucket}/dir/small.txt")

        listing = aws("s3", "ls", f"s3://{bucket}/dir/").stdout
        sizes = {line.split()[-1]: int(line.split()[-2]) for line in listing.splitlines() if line.strip()}
        assert sizes == {"big.bin": size, "small.txt": small.stat().st_size}, listing

        head = s3.head_object(Bucket=bucket, Key="dir/big.bin")
        assert head["ContentLength"] == size
        assert head["ETag"] == local_multipart_etag(src, AWS_CLI_CHUNK), "multipart ETag is not md5-of-md5s"

        dst = tmp_path / "big.down"
        aws("s3", "cp", f"s3://{bucket}/dir/big.bin", str(dst))
        assert dst.stat().st_size == size
        assert e2e.file_sha256(dst) == want

        aws("s3", "rm", f"s3://{bucket}/dir/big.bin")
        listing = aws("s3", "ls", f"s3://{bucket}/dir/", check=False).stdout
        assert "big.bin" not in listing and "small.txt" in listing
        aws("s3", "rm", "--recursive", f"s3://{bucket}/")
        p = aws("s3", "ls", f"s3://{bucket}/", check=False)
        assert p.stdout.strip() == ""
    finally:
        aws("s3", "rb", "--force", f"s3://{bucket}", check=False)
    assert bucket not in aws("s3", "ls").stdout


def make_tree(root: Path, count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {}
    for i in range(count):
        depth = i % 4
        parts = [f"d{rng.randrange(6)}" for _ in range(depth)]
        name = f"file-{i:04d}" + rng.choice(["", ".txt", ".bin", " with space.dat", "-ü.json"])
        rel = "/".join(parts + [name])
        size = 0 if i % 97 == 0 else rng.randint(0, 8 * 1024)
        data = rng.randbytes(size)
        files[rel] = data
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_rclone_sync_1000_files(rclone, s3, tmp_path):
    bucket = e2e.unique_bucket("rclone")
    rclone("mkdir", f"s:{bucket}")
    try:
        src = tmp_path / "src"
        files = make_tree(src, 1000, seed=20240601)
        assert len(read_tree(src)) == 1000
        remote = f"s:{bucket}/tree"
        rclone("sync", str(src), remote, "--transfers", "8", "--checkers", "8")

        lsf = rclone("lsf", "-R", "--files-only", remote).stdout.splitlines()
        assert len(lsf) == 1000
        assert sorted(lsf) == sorted(files)

        # rclone compares sizes and MD5s (from the ETags) of both sides
        rclone("check", str(src), remote, "--checkers", "8")
        # and the ETags really are the MD5s of the content
        seen = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="tree/"):
            for o in page.get("Contents", []):
                data = files[o["Key"][len("tree/"):]]
                assert o["Size"] == len(data), o["Key"]
                assert o["ETag"] == f'"{hashlib.md5(data).hexdigest()}"', o["Key"]
                seen += 1
        assert seen == 1000

        dst = tmp_path / "dst"
        rclone("sync", remote, str(dst), "--transfers", "8", "--checkers", "8")
        got = read_tree(dst)
        assert sorted(got) == sorted(files)
        bad = [k for k in files if got[k] != files[k]]
        assert not bad, f"{len(bad)} files differ, e.g. {bad[:5]}"

        # change the source: delete, modify, add; sync must converge again
        names = sorted(files)
        for rel in names[:10]:
            (src / rel).unlink()
            del files[rel]
        for rel in names[10:20]:
            files[rel] = os.urandom(1234)
            (src / rel).write_bytes(files[rel])
        for i in range(5):
            rel = f"new/added-{i}.bin"
            files[rel] = os.urandom(i * 1000)
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(files[rel])
        rclone("sync", str(src), remote, "--transfers", "8", "--checkers", "8")
        lsf = rclone("lsf", "-R", "--files-only", remote).stdout.splitlines()
        assert sorted(lsf) == sorted(files)
        rclone("check", str(src), remote, "--checkers", "8")
        rclone("sync", remote, str(dst), "--transfers", "8")
        got = read_tree(dst)
        assert got == files
    finally:
        rclone("purge", f"s:{bucket}", check=False)


def test_rclone_check_detects_difference(rclone, s3, tmp_path):
    """Guards the previous test: rclone check does fail when content differs."""
    bucket = e2e.unique_bucket("rcdiff")
    s3.create_bucket(Bucket=bucket)
    try:
        src = tmp_path / "one"
        src.mkdir()
        (src / "a.txt").write_bytes(b"original")
        rclone("copy", str(src), f"s:{bucket}")
        s3.put_object(Bucket=bucket, Key="a.txt", Body=b"modified")  # same size, other md5
        p = rclone("check", str(src), f"s:{bucket}", check=False)
        assert p.returncode != 0, p.stderr
        assert "differ" in p.stderr.lower() or "not equal" in p.stderr.lower(), p.stderr
    finally:
        e2e.empty_bucket(s3, bucket)
