"""The operator dashboard (GET / on the admin port) in headless Chromium.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`, installed by scripts/test.sh); selenium
is pointed at them so that selenium-manager never downloads anything. Without them the browser test fails with a
clear message, unless STRATA_SKIP_BROWSER=1. The screenshot goes to $STRATA_ARTIFACTS (default <repo>/artifacts/)
as dashboard.png.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import pytest

import strata_e2e as e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The network is closed here: without the background-networking flags Chromium stalls on its own calls home.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,2600"]
WAIT_S = 30
MiB = 1024 * 1024


def artifacts_dir() -> Path:
    d = Path(os.environ.get("STRATA_ARTIFACTS") or ROOT / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def gw(strata_bin, tmp_path_factory):
    """A gateway of this module's own, with the test clock (objects are aged without sleeping)."""
    if strata_bin is None:
        pytest.skip("external endpoint: the dashboard test starts its own gateway")
    gw = e2e.managed_gateway(strata_bin, tmp_path_factory.mktemp("gw-dashboard"), {"STRATA_TEST_CLOCK": "1"})
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("STRATA_SKIP_BROWSER") == "1":
        pytest.skip("STRATA_SKIP_BROWSER=1: browser test skipped")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"headless Chromium is needed for the dashboard test but {', '.join(missing)} is missing: "
                    "install the Debian packages chromium and chromium-driver (scripts/test.sh does, as root), "
                    "or set STRATA_SKIP_BROWSER=1 to skip this test", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        pytest.fail(f"selenium is not installed ({e}): run scripts/test.sh, which installs "
                    "tests/e2e/requirements.txt", pytrace=False)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not look anything up
    profile = tempfile.mkdtemp(prefix="strata-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(what: str, fn, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the element is not there yet, or stale after a re-render
            last = e
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})", pytrace=False)


def value(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).get_attribute("data-value")


def api(gw, method: str, path: str):
    r = gw.admin(method, path)
    assert r.status_code in (200, 202), f"{method} {path}: {r.status_code} {r.text[:300]}"
    return r.json()


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def test_dashboard_files_need_no_token_and_data_does(gw):
    r = gw.admin("GET", "/", token=None)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text[:300]
    for element_id in ("login-form", "cost-now", "cost-all-hot", "plan-preview", "plan-moves", "chart-heat"):
        assert f'id="{element_id}"' in r.text, element_id
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = gw.admin("GET", "/dashboard.js", token=None)
    assert js.status_code == 200 and "Authorization" in js.text
    assert gw.admin("GET", "/dashboard.css", token=None).status_code == 200
    for path in ("/admin/heat", "/admin/cost/history", "/admin/backends"):
        assert gw.admin("GET", path, token=None).status_code == 401, path


def test_dashboard_in_chromium(gw, browser):
    s3 = gw.client()
    bucket = "dashboard"
    s3.create_bucket(Bucket=bucket)
    for i in range(3):  # large enough that the planner moves them down once they are cold
        s3.put_object(Bucket=bucket, Key=f"cold-{i}", Body=bytes([i]) * (8 * MiB))
    for i in range(2):
        s3.put_object(Bucket=bucket, Key=f"hot-{i}", Body=b"hot" * 1000)
    api(gw, "GET", "/admin/backends?refresh=true")  # a cost sample before the clock jumps
    # Forty days pass; then the hot objects are read again and again.
    r = gw.admin("POST", "/admin/test/clock", json={"advance_ms": 40 * 86_400_000})
    assert r.status_code == 200, r.text
    for _ in range(5):
        for i in range(2):
            s3.get_object(Bucket=bucket, Key=f"hot-{i}")["Body"].read()
    wait_until("the reads to be recorded", lambda: all(
        gw.object_info(bucket, f"hot-{i}").json()["reads"] >= 5 for i in range(2)))
    assert gw.admin("PUT", "/admin/chaos", json={"rules": [
        {"id": "never", "backend": "cold", "ops": ["get"], "fault": {"type": "error", "status": 503},
         "probability": 0.0}]}).status_code == 200
    plan = api(gw, "GET", "/admin/plan")
    assert len(plan["moves"]) >= 1, f"the planner should move cold objects down: {plan}"

    driver = browser
    try:
        driver.get(f"{gw.admin_url}/")
        # A wrong token is refused with a clear message and shows no data.
        wait_until("the login form", lambda: driver.find_element("id", "token-input").is_displayed())
        driver.find_element("id", "token-input").send_keys("not-the-token")
        driver.find_element("id", "login-button").click()
        error = wait_until("the wrong-token message",
                           lambda: driver.find_element("id", "login-error").is_displayed()
                           and driver.find_element("id", "login-error").text)
        assert "Wrong admin token" in error, error
        assert not driver.find_element("id", "dashboard").is_displayed()
        assert driver.execute_script("return sessionStorage.getItem('strata-admin-token')") is None

        # The right token shows the dashboard, and keeps the token for this tab only.
        field = driver.find_element("id", "token-input")
        field.clear()
        field.send_keys(gw.token)
        driver.find_element("id", "login-button").click()
        wait_until("the dashboard to load", lambda: driver.find_element("id", "dashboard").is_displayed()
                   and driver.find_element("tag name", "body").get_attribute("data-loaded"))
        assert not driver.find_element("id", "login-error").is_displayed()
        assert driver.execute_script("return sessionStorage.getItem('strata-admin-token')") == gw.token

        # The numbers on the page are the admin API's.
        backends = api(gw, "GET", "/admin/backends")
        assert backends["objects"] == 5
        assert int(value(driver, "object-count")) == backends["objects"]
        assert driver.find_element("id", "object-count").text == "5"
        assert int(value(driver, "backend-count")) == len(backends["backends"]) == 3
        assert value(driver, "model-in-use") == gw.admin("GET", "/admin/model").json()["in_use"]
        assert int(value(driver, "logical-bytes")) == backends["logical_bytes"]
        assert close(float(value(driver, "cost-now")), backends["monthly_cost"])
        assert close(float(value(driver, "cost-all-hot")), backends["all_hot_monthly_cost"])
        assert driver.find_element("id", "cost-now").text == f"${backends['monthly_cost']:.6f}"
        assert driver.find_element("id", "cost-all-hot").text == f"${backends['all_hot_monthly_cost']:.6f}"
        rows = driver.find_elements("css selector", "#backends-table tbody tr")
        assert [r.get_attribute("data-key") for r in rows] == [b["name"] for b in backends["backends"]]
        for row, b in zip(rows, backends["backends"]):
            cells = row.find_elements("tag name", "td")
            assert int(cells[3].get_attribute("data-value")) == b["objects"], b["name"]
            assert int(cells[4].get_attribute("data-value")) == b["bytes"], b["name"]
            assert cells[9].text == ("healthy" if b["healthy"] else "errors (last 30 s)")
        tier_bars = driver.find_elements("css selector", "#chart-tiers rect")
        assert sorted(r.get_attribute("data-label") for r in tier_bars) == sorted(
            {b["storage_class"] for b in backends["backends"]})
        heat = api(gw, "GET", "/admin/heat")
        bars = driver.find_elements("css selector", "#chart-heat rect")
        assert [int(b.get_attribute("data-value")) for b in bars] == [b["count"] for b in heat["buckets"]]
        assert sum(b["count"] for b in heat["buckets"]) == 5
        assert heat["buckets"][0]["count"] == 3, heat  # the cold ones, never read
        history = api(gw, "GET", "/admin/cost/history")
        assert len(history["samples"]) >= 2, history
        assert driver.find_elements("css selector", "#chart-cost polyline"), "no cost line drawn"

        # Chaos rules are listed and cleared with the button.
        assert [r.get_attribute("data-key") for r in
                driver.find_elements("css selector", "#chaos-table tbody tr")] == ["never"]
        driver.find_element("id", "chaos-clear").click()
        wait_until("the chaos rules to be cleared", lambda: driver.find_element("id", "chaos-empty").is_displayed())
        assert api(gw, "GET", "/admin/chaos")["rules"] == []

        # The plan preview shows what GET /admin/plan computes.
        driver.find_element("id", "plan-preview-button").click()
        wait_until("the plan preview", lambda: driver.find_element("id", "plan-preview").is_displayed()
                   and value(driver, "plan-moves") is not None)
        plan = api(gw, "GET", "/admin/plan")
        assert int(value(driver, "plan-moves")) == len(plan["moves"]) >= 1
        assert driver.find_element("id", "plan-moves").text == str(len(plan["moves"]))
        for element_id, field in (("plan-cost-before", "cost_before"), ("plan-cost-after", "cost_after"),
                                  ("plan-lower-bound", "lower_bound")):
            assert close(float(value(driver, element_id)), plan[field], rel=1e-3), (element_id, plan[field])
        assert abs(float(value(driver, "plan-gap")) - plan["gap"]) < 1e-3
        assert float(value(driver, "plan-cost-after")) < float(value(driver, "plan-cost-before"))
        shown = {r.get_attribute("data-key") for r in
                 driver.find_elements("css selector", "#plan-moves-table tbody tr")}
        assert shown == {f"{m['bucket']}/{m['key']}" for m in plan["moves"]}
        assert all(k.startswith(f"{bucket}/cold-") for k in shown), shown

        # Applying it creates the move tasks, which the moves table then lists.
        driver.find_element("id", "plan-apply-button").click()
        result = wait_until("the apply result", lambda: driver.find_element("id", "plan-apply-result").is_displayed()
                            and driver.find_element("id", "plan-apply-result"))
        created = int(result.get_attribute("data-value"))
        assert created == len(plan["moves"]), result.text
        tasks = [m for m in api(gw, "GET", "/admin/moves")["moves"] if (m["plan_id"] or "").startswith("plan-")]
        assert len(tasks) == created
        wait_until("the moves table", lambda: len(driver.find_elements(
            "css selector", "#moves-table tbody tr")) == created)
        assert driver.find_element("id", "plan-apply-button").get_attribute("disabled") is not None
    finally:
        shot = artifacts_dir() / "dashboard.png"
        driver.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{shot}: {len(data)} bytes"
