"""One code path, end to end: the gateway's own cost accounting lands within 10 % of the simulator's prediction.

A small trace (loadtest/profiles/replay-check.toml) is simulated (`strata-loadtest simulate`, default prices:
S3 Standard, Standard-IA, Glacier IR, and Intelligent-Tiering among strata's choices) and replayed through S3
into a gateway on its test clock (`strata-loadtest replay`): four local backends priced as those classes, one
replica, new objects on Standard or, from the size the last plan advised, on Intelligent-Tiering (as in the
simulator), the simulator's planner settings. The replay runs the simulator's daily
schedule (model training when due, one planning cycle applied, its moves finished) and ends with the
gateway's bill (`GET /admin/cost`), which is set beside the simulator's `strata` policy.

The bills differ by design in one place: the simulator bills LIST requests (at the PUT price) as S3 would,
while the gateway answers LIST from its catalog and pays no backend for it. The comparison is on the total
(within 10 %), with storage, the largest part, held to 5 %.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import strata_e2e as e2e
from test_loadtest import loadtest_bin

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "loadtest" / "profiles" / "replay-check.toml"
DAY_MS = 86_400_000

CONFIG = """
[[backends]]
name = "standard"
kind = "local"
path = "backends/standard"
tier = "aws-s3-standard"

[[backends]]
name = "standard-ia"
kind = "local"
path = "backends/standard-ia"
tier = "aws-s3-standard-ia"

[[backends]]
name = "glacier-ir"
kind = "local"
path = "backends/glacier-ir"
tier = "aws-s3-glacier-ir"

[[backends]]
name = "intelligent-tiering"
kind = "local"
path = "backends/intelligent-tiering"
tier = "aws-s3-intelligent-tiering"

[placement]
initial = ["standard"]
replication_factor = 1
provider_diversity = false
latency_sla_ms = 100.0

# The simulator's strata policy: 30-day horizon, p_hot over 24 h, a training every 7 days, read-risk limit 0.2.
# No background cycle: the replay runs one per simulated day.
[planner]
enabled = false
horizon_days = 30.0
model_horizon_hours = 24.0
retrain_interval_secs = 604800
max_read_risk = 0.2
"""


def _run(cmd: list[str], env: dict | None = None, timeout: float = 600) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)
    assert p.returncode == 0, f"{cmd}\nstdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"
    return p.stdout


@pytest.fixture(scope="module")
def loadtest():
    path = loadtest_bin()
    if not path.exists():
        pytest.fail(f"strata-loadtest not found at {path}: build it with "
                    "`cargo build -p loadtest --bin strata-loadtest` or set STRATA_LOADTEST_BIN", pytrace=False)
    return path


def test_the_gateways_bill_lands_within_10_percent_of_the_simulators(loadtest, strata_bin, tmp_path):
    if os.environ.get("STRATA_E2E_ENDPOINT"):
        pytest.skip("external endpoint: needs a gateway of its own on the test clock")
    trace = tmp_path / "replay-check.trace"
    _run([str(loadtest), "generate", "--profile", str(PROFILE), "--out", str(trace)])
    sim = json.loads(_run([str(loadtest), "simulate", "--trace", str(trace), "--json"]))
    strata = next(p for p in sim["policies"] if p["name"] == "strata")
    assert strata["move_cost"] > 0, "the trace should make the simulated planner move objects"

    wd = tmp_path / "gw"
    wd.mkdir()
    (wd / "data").mkdir()
    (wd / "strata.toml").write_text(CONFIG)
    gw = e2e.Gateway(endpoint="", admin_url=None, token=e2e.ADMIN_TOKEN, access_key=e2e.ACCESS_KEY,
                     secret_key=e2e.SECRET_KEY, data_dir=wd / "data", log_path=wd / "gateway.log", workdir=wd,
                     binary=strata_bin, extra_args=["--config", str(wd / "strata.toml")],
                     extra_env={"STRATA_TEST_CLOCK": "1"})
    gw.start()
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "STRATA_ADMIN_TOKEN")}
        report = json.loads(_run([
            str(loadtest), "replay", "--trace", str(trace), "--endpoint", gw.endpoint,
            "--admin-url", gw.admin_url, "--admin-token", gw.token,
            "--access-key", gw.access_key, "--secret-key", gw.secret_key, "--json"], env=env, timeout=900))
        bill = gw.admin("GET", "/admin/cost").json()
        health = gw.admin("GET", "/admin/health").json()
    finally:
        gw.stop()

    # The replay did what the simulator did: every record, one tick per simulated day, moves finished.
    assert report["records"] == sim["simulation"]["records"]
    assert report["failed"] == 0, report
    assert report["ticks"] == int(sim["simulation"]["span_days"])
    assert report["moves"] > 0 and report["moves_unfinished"] == 0, report
    assert report["trainings"] >= report["ticks"] // 7
    assert bill["total"] == pytest.approx(report["bill"]["total"], rel=1e-6)
    assert bill["now_ms"] - bill["since_ms"] >= report["span_ms"]

    got, want = report["bill"], strata
    summary = (f"gateway {got['total']:.6f} (storage {got['storage']:.6f}, requests {got['requests']:.6f}, "
               f"retrieval {got['retrieval']:.6f}, moves {got['moves']:.6f}) vs simulator {want['total_cost']:.6f} "
               f"(storage {want['storage_cost']:.6f}, requests {want['request_cost']:.6f}, "
               f"retrieval {want['retrieval_cost']:.6f}, moves {want['move_cost']:.6f})")
    print(summary)
    assert got["total"] == pytest.approx(want["total_cost"], rel=0.10), summary
    assert got["storage"] == pytest.approx(want["storage_cost"], rel=0.05), summary
    assert got["total"] == pytest.approx(got["storage"] + got["requests"] + got["retrieval"] + got["moves"])
    # Both paid to move objects down, and the placement saved storage against keeping everything hot.
    assert got["moves"] > 0
    all_hot = next(p for p in sim["policies"] if p["name"] == "all-hot")
    assert got["storage"] < all_hot["storage_cost"], summary
    # The plans measured that these mostly idle objects pay for Intelligent-Tiering from their write, and the
    # gateway took the advice for new objects, as the simulator's strata policy does.
    assert health["new_objects_self_tiering"] == "intelligent-tiering", health
    assert health["new_objects_min_bytes"] is not None, health
