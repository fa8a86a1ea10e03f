"""The operator CLI (`strata status|objects|plan|keys|scrub|lifecycle ...`) against a running gateway's admin API.

Filters and pages of `strata objects ls`, the waiting commands (`plan --apply --wait`, `keys rotate --wait`,
`scrub`), which draw a progress bar only on a terminal, and the one-line errors for an unreachable gateway, a
wrong token and a missing token.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

import strata_e2e as e2e

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def gw(strata_bin, tmp_path_factory):
    if strata_bin is None:
        pytest.skip("external endpoint: the CLI tests start their own gateway")
    gw = e2e.managed_gateway(strata_bin, tmp_path_factory.mktemp("gw-cli"), {"STRATA_TEST_CLOCK": "1"})
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def objects(gw):
    """Bucket `cli`: cold-0..2 (8 MiB, never read) and hot-0..1 (read 5 times)."""
    s3 = gw.client()
    s3.create_bucket(Bucket="cli")
    for i in range(3):
        s3.put_object(Bucket="cli", Key=f"cold-{i}", Body=bytes([i + 1]) * (8 * MiB))
    for i in range(2):
        s3.put_object(Bucket="cli", Key=f"hot-{i}", Body=b"hot" * 100)
    assert gw.admin("POST", "/admin/test/clock", json={"advance_ms": 40 * 86_400_000}).status_code == 200
    for _ in range(5):
        for i in range(2):
            s3.get_object(Bucket="cli", Key=f"hot-{i}")["Body"].read()
    deadline = time.monotonic() + 10
    while not all(gw.object_info("cli", f"hot-{i}").json()["reads"] >= 5 for i in range(2)):
        assert time.monotonic() < deadline, "reads not recorded within 10 s"
        time.sleep(0.1)
    return ["cold-0", "cold-1", "cold-2", "hot-0", "hot-1"]


def strata(gw, *args: str, token: str | None = "default", admin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [str(gw.binary), *args, "--admin", admin or gw.admin_url]
    if token is not None:
        cmd += ["--token", gw.token if token == "default" else token]
    env = {"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"}  # no STRATA_ADMIN_TOKEN from outside
    # stdout is a pipe, not a terminal: no progress bar may be drawn.
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL, cwd=gw.workdir)


def ok(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "\x1b[" not in p.stdout and "\r" not in p.stdout, f"terminal control codes in piped output: {p.stdout!r}"
    return p.stdout


def keys_of(out: str) -> list[str]:
    return [o["key"] for o in json.loads(out)["objects"]]


def test_objects_ls_filters_and_pages(gw, objects):
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--json"))) == objects
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--min-heat", "1", "--json"))) == ["hot-0", "hot-1"]
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--max-heat", "1", "--json"))) == ["cold-0", "cold-1",
                                                                                               "cold-2"]
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--backend", "cold", "--json"))) == []
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--backend", "hot", "--prefix", "hot-",
                             "--json"))) == ["hot-0", "hot-1"]
    # Pages: the table says how to continue, and --after continues, filters and all.
    table = ok(strata(gw, "objects", "ls", "cli", "--max-heat", "1", "--limit", "2"))
    assert table.splitlines()[0].split() == ["KEY", "SIZE", "REPLICAS", "HEAT", "READS"]
    assert "(more: --after cold-1)" in table, table
    rest = ok(strata(gw, "objects", "ls", "cli", "--max-heat", "1", "--after", "cold-1", "--json"))
    assert keys_of(rest) == ["cold-2"] and json.loads(rest)["is_truncated"] is False
    bad = strata(gw, "objects", "ls", "cli", "--backend", "nope")
    assert bad.returncode == 1 and "UnknownBackend" in bad.stderr, bad.stderr
    # Tags: KEY or KEY=VALUE.
    s3 = gw.client()
    s3.put_object_tagging(Bucket="cli", Key="cold-1", Tagging={"TagSet": [{"Key": "keep", "Value": "yes"}]})
    s3.put_object_tagging(Bucket="cli", Key="hot-0", Tagging={"TagSet": [{"Key": "keep", "Value": "no"}]})
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--tag", "keep", "--json"))) == ["cold-1", "hot-0"]
    assert keys_of(ok(strata(gw, "objects", "ls", "cli", "--tag", "keep=yes", "--json"))) == ["cold-1"]
    for k in ("cold-1", "hot-0"):
        s3.delete_object_tagging(Bucket="cli", Key=k)


def test_plan_apply_wait_finishes_the_moves(gw, objects):
    out = ok(strata(gw, "plan", "--apply", "--wait"))
    assert "applied: 3 move task(s) created" in out, out
    assert "finished: 3 move(s) committed, 0 aborted" in out, out
    for i in range(3):
        info = gw.object_info("cli", f"cold-{i}").json()
        assert info["replicas"] != ["hot"], info  # moved down before the command returned
    assert gw.admin("GET", "/admin/moves?active=true").json()["moves"] == []
    # --wait needs --apply.
    p = strata(gw, "plan", "--wait")
    assert p.returncode != 0 and "--apply" in p.stderr, p.stderr


def test_keys_rotate_wait_and_scrub(gw, objects):
    out = ok(strata(gw, "keys", "rotate", "--backend", "hot", "--wait"))
    assert "now writes with key 2" in out and "re-sealed: every blob of hot" in out, out
    hot = gw.admin("GET", "/admin/keys").json()["reseal"]["backends"]["hot"]
    assert hot["complete"] is True and hot["active_key_id"] == 2, hot
    report = json.loads(ok(strata(gw, "scrub", "--json")))
    assert report["objects_checked"] == len(objects) and report["bad_found"] == 0, report
    out = ok(strata(gw, "scrub"))
    assert f"objects checked {len(objects)}" in out, out
    status = ok(strata(gw, "scrub", "--status"))
    assert "passes" in status and f"objects checked {len(objects)}" in status, status


def test_lifecycle_run_and_status(gw):
    s3 = gw.client()
    s3.create_bucket(Bucket="cli-lc")
    s3.put_bucket_lifecycle_configuration(Bucket="cli-lc", LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]})
    for key in ("tmp/a", "keep/a"):
        s3.put_object(Bucket="cli-lc", Key=key, Body=b"x")
    assert gw.admin("POST", "/admin/test/clock", json={"advance_ms": 2 * 86_400_000}).status_code == 200
    report = json.loads(ok(strata(gw, "lifecycle", "--run", "--json")))
    assert report["expired"] == 1 and report["errors"] == 0, report
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="cli-lc")["Contents"]] == ["keep/a"]
    out = ok(strata(gw, "lifecycle"))
    assert "passes 1" in out and "total: buckets 1  expired 1" in out, out
    out = ok(strata(gw, "lifecycle", "--run"))
    assert out.startswith("pass: buckets 1  expired 0"), out


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 1, f"exit {p.returncode}: {p.stdout} {p.stderr}"
    assert p.stdout == "", p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {p.stderr!r}"
    return lines[0]


def test_errors_are_one_clear_line(gw, tmp_path):
    dead = f"http://127.0.0.1:{e2e.free_port()}"
    line = one_line_error(strata(gw, "status", admin=dead, token="x"))
    assert line.startswith(f"strata: cannot reach the admin API at {dead}: "), line
    assert "refused" in line.lower(), line
    line = one_line_error(strata(gw, "objects", "ls", "cli", token="wrong-token"))
    assert line == "strata: the admin API refused the token (401): check --token / STRATA_ADMIN_TOKEN", line
    p = subprocess.run([str(gw.binary), "status", "--admin", gw.admin_url, "--data-dir", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
                       stdin=subprocess.DEVNULL)
    line = one_line_error(p)
    assert "no admin token given (--token or STRATA_ADMIN_TOKEN)" in line, line
    line = one_line_error(strata(gw, "objects", "show", "cli/nope"))
    assert "404" in line and "NoSuchKey" in line, line


def test_model_shows_the_model_in_use_and_retrains(gw, objects):
    shown = json.loads(ok(strata(gw, "model", "--json")))
    api = gw.admin("GET", "/admin/model").json()
    assert shown["in_use"] == api["in_use"] and shown["horizon_ms"] == api["horizon_ms"] == 86_400_000
    human = ok(strata(gw, "model"))
    assert f"model in use: {api['in_use']}" in human and "P(read within 24 h)" in human
    # Only one day of history: training refuses, the rule stays, and the CLI says why.
    retrained = json.loads(ok(strata(gw, "model", "--retrain", "--json")))
    assert retrained["last_attempt"]["outcome"] == "not_enough_data", retrained
    assert retrained["in_use"] == "rule"
    human = ok(strata(gw, "model", "--retrain"))
    assert "last training: not_enough_data" in human, human
    # The objects' p_hot is scored by then: read objects above never-read ones.
    hot = gw.object_info("cli", "hot-0").json()
    cold = gw.object_info("cli", "cold-0").json()
    assert hot["p_hot_model"] == "rule" and hot["p_hot_horizon_ms"] == 86_400_000
    assert hot["p_hot"] > cold["p_hot"], (hot, cold)
