"""strata-loadtest run against the gateway: a few seconds of real load.

The load driver is the `strata-loadtest` binary of the loadtest crate
(`cargo build -p loadtest --bin strata-loadtest`; `cargo test --workspace`
builds it too). Override its path with STRATA_LOADTEST_BIN.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

import strata_e2e as e2e

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "loadtest" / "profiles"
RUN_TIMEOUT_S = 180

OP_FIELDS = {"count", "errors", "bytes", "ops_per_sec", "mib_per_sec",
             "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "mean_ms", "max_ms"}
TOP_FIELDS = {"endpoint", "bucket", "source", "concurrency", "stopped_by", "elapsed_s",
              "ops", "errors", "bytes", "ops_per_sec", "mib_per_sec", "operations",
              "error_samples", "setup", "trace"}


def loadtest_bin() -> Path:
    if os.environ.get("STRATA_LOADTEST_BIN"):
        return Path(os.environ["STRATA_LOADTEST_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "strata-target")
    return Path(target) / "debug" / "strata-loadtest"


@pytest.fixture(scope="module")
def loadtest():
    path = loadtest_bin()
    if not path.exists():
        pytest.fail(f"strata-loadtest not found at {path}: build it with "
                    "`cargo build -p loadtest --bin strata-loadtest` or set STRATA_LOADTEST_BIN",
                    pytrace=False)
    return path


def run_json(loadtest: Path, gateway, *args: str) -> dict:
    """Runs `strata-loadtest run ... --json` against the gateway; returns the report."""
    bucket = f"lt-{uuid.uuid4().hex[:12]}"
    cmd = [str(loadtest), "run", "--endpoint", gateway.endpoint,
           "--access-key", gateway.access_key, "--secret-key", gateway.secret_key,
           "--bucket", bucket, "--json", *args]
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode == 0, f"{cmd}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}"
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"stdout is not JSON: {proc.stdout[-2000:]!r}\nstderr: {proc.stderr[-2000:]}")
    report["_bucket"] = bucket
    return report


def check_report(report: dict, *, expect_ops: set[str]):
    assert TOP_FIELDS <= report.keys(), sorted(TOP_FIELDS - report.keys())
    assert report["ops"] > 0
    assert report["errors"] == 0, report["error_samples"]
    assert report["setup"]["errors"] == 0, report["setup"]["error_samples"]
    assert report["ops_per_sec"] > 0 and report["mib_per_sec"] > 0
    ops = report["operations"]
    assert expect_ops <= ops.keys(), sorted(ops)
    for name, op in ops.items():
        assert OP_FIELDS <= op.keys(), (name, sorted(OP_FIELDS - op.keys()))
        assert op["errors"] == 0
        assert 0 < op["p50_ms"] <= op["p90_ms"] <= op["p99_ms"] <= op["p99_9_ms"] <= op["max_ms"], (name, op)
    assert sum(op["count"] for op in ops.values()) == report["ops"]


def test_web_workload_for_a_few_seconds(loadtest, gateway, s3):
    report = run_json(loadtest, gateway, "--workload", str(PROFILES / "web.toml"),
                      "--duration", "3", "--concurrency", "8")
    check_report(report, expect_ops={"GET", "HEAD", "PUT"})
    assert report["stopped_by"] in ("duration", "end_of_input")
    assert report["setup"]["objects"] == 2000
    # The objects are really there, with the sizes the driver wrote.
    listed = s3.list_objects_v2(Bucket=report["_bucket"], MaxKeys=5)
    assert listed.get("KeyCount", 0) > 0
    e2e.empty_bucket(s3, report["_bucket"])


def test_archive_workload_with_multipart_and_ranges(loadtest, gateway, s3):
    report = run_json(loadtest, gateway, "--workload", str(PROFILES / "archive.toml"),
                      "--requests", "300", "--duration", "60", "--concurrency", "4",
                      "--multipart-threshold", "6MiB", "--part-size", "5MiB")
    check_report(report, expect_ops={"GET", "GET_RANGE", "HEAD"})
    assert report["stopped_by"] in ("requests", "end_of_input")
    e2e.empty_bucket(s3, report["_bucket"])


def test_trace_replay_creates_preexisting_objects(loadtest, gateway, s3, tmp_path):
    trace = tmp_path / "ibm.trace"
    trace.write_text(
        "1219008 REST.PUT.OBJECT 8d4fcda3d675bac9 1056\n"
        "1221974 REST.HEAD.OBJECT 39d177fb735ac5df 528\n"
        "1232437 REST.GET.OBJECT 39d177fb735ac5df 528 100 227\n"
        "1232524 REST.GET.OBJECT 8d4fcda3d675bac9 1056 0 1055\n"
        "this line is not a request\n"
        "1306315 REST.DELETE.OBJECT 8d4fcda3d675bac9\n"
        "1306316 REST.GET.BUCKET 3\n"
        "1306317 REST.GET.OBJECT 39d177fb735ac5df 528\n")
    report = run_json(loadtest, gateway, "--trace", str(trace), "--duration", "30")
    check_report(report, expect_ops={"PUT", "GET", "GET_RANGE", "HEAD", "DELETE", "LIST"})
    assert report["ops"] == 7
    assert report["stopped_by"] == "end_of_input"
    assert report["setup"]["objects"] == 1
    assert report["trace"]["bad"] == 1
    assert report["operations"]["GET"]["bytes"] == 528
    assert report["operations"]["GET_RANGE"]["bytes"] == 128 + 1056
    e2e.empty_bucket(s3, report["_bucket"])
