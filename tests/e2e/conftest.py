"""Fixtures for Strata's end-to-end tests.

By default every test module gets its own ``strata serve`` process (module
scope), on free loopback ports, with a temporary data dir and fixed
credentials; durability tests ask for ``fresh_gateway`` (one per test).

Environment:
  STRATA_BIN               the gateway binary (default:
                           ${CARGO_TARGET_DIR:-~/.cache/strata-target}/debug/strata)
  STRATA_E2E_ENDPOINT      use an already running S3 endpoint instead of
                           starting the binary (e.g. a moto server while
                           debugging the suite). Tests that need the process
                           (restart, kill -9, data dir) or the admin API skip.
  STRATA_E2E_ADMIN_URL     admin API of that endpoint, if it has one
  STRATA_E2E_ADMIN_TOKEN   its bearer token
  STRATA_E2E_ACCESS_KEY / STRATA_E2E_SECRET_KEY   its credentials
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

import strata_e2e as e2e

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

EXTERNAL = os.environ.get("STRATA_E2E_ENDPOINT")


def pytest_report_header(config):
    if EXTERNAL:
        return f"strata e2e: external endpoint {EXTERNAL}"
    return f"strata e2e: binary {e2e.default_strata_bin()}"


def pytest_collection_modifyitems(config, items):
    if not EXTERNAL or os.environ.get("STRATA_E2E_STRICT"):
        return
    skip = pytest.mark.skip(reason="external endpoint: test needs Strata's own checks "
                            "(set STRATA_E2E_STRICT=1 to run anyway)")
    for item in items:
        if item.get_closest_marker("strata_only"):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of every gateway log a failing test used."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    for value in getattr(item, "funcargs", {}).values():
        gw = value if isinstance(value, e2e.Gateway) else getattr(value, "_strata_gateway", None)
        if isinstance(gw, e2e.Gateway) and id(gw) not in seen and gw.log_path:
            seen.add(id(gw))
            rep.sections.append((f"gateway log tail ({gw.log_path})", gw.log_tail(8000)))


@pytest.fixture(scope="session")
def strata_bin() -> Path | None:
    if EXTERNAL:
        return None
    path = e2e.default_strata_bin()
    if not path.exists():
        pytest.fail(f"strata binary not found at {path}: build it with "
                    "`cargo build -p gateway --bin strata`, set STRATA_BIN, or point "
                    "STRATA_E2E_ENDPOINT at a running endpoint", pytrace=False)
    return path


def _make_gateway(strata_bin: Path | None, workdir: Path,
                  config_toml: str | None = None) -> e2e.Gateway:
    workdir.mkdir(parents=True, exist_ok=True)
    if EXTERNAL:
        return e2e.Gateway(
            endpoint=EXTERNAL.rstrip("/"),
            admin_url=(os.environ.get("STRATA_E2E_ADMIN_URL") or "").rstrip("/") or None,
            token=os.environ.get("STRATA_E2E_ADMIN_TOKEN"),
            access_key=os.environ.get("STRATA_E2E_ACCESS_KEY", e2e.ACCESS_KEY),
            secret_key=os.environ.get("STRATA_E2E_SECRET_KEY", e2e.SECRET_KEY),
            data_dir=None, log_path=None, workdir=workdir)
    data_dir = workdir / "data"
    data_dir.mkdir()
    extra = []
    if config_toml is None and os.environ.get("STRATA_E2E_CONFIG"):
        # Run the module's gateway on another configuration (e.g. the multi-cloud one); ${VAR} from the env.
        import string
        config_toml = string.Template(Path(os.environ["STRATA_E2E_CONFIG"]).read_text()).substitute(os.environ)
    if config_toml is not None:
        config = workdir / "strata.toml"
        config.write_text(config_toml)
        extra = ["--config", str(config)]
    gw = e2e.Gateway(endpoint="", admin_url=None, token=e2e.ADMIN_TOKEN,
                     access_key=e2e.ACCESS_KEY, secret_key=e2e.SECRET_KEY,
                     data_dir=data_dir, log_path=workdir / "gateway.log",
                     workdir=workdir, binary=strata_bin, extra_args=extra)
    gw.start()
    return gw


@pytest.fixture(scope="module")
def gateway(strata_bin, tmp_path_factory, request):
    """One gateway for the whole test module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    gw = _make_gateway(strata_bin, tmp_path_factory.mktemp(f"gw-{name}"))
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def configured_gateway(strata_bin, tmp_path_factory, request):
    """One gateway for the whole test module, started on the module's `GATEWAY_CONFIG` (TOML: users, grants...)."""
    if strata_bin is None:
        pytest.skip("external endpoint: this module starts its own gateway with a configuration")
    name = request.module.__name__.rsplit(".", 1)[-1]
    gw = _make_gateway(strata_bin, tmp_path_factory.mktemp(f"gw-{name}"), request.module.GATEWAY_CONFIG)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def make_gateway(strata_bin, tmp_path):
    """Starts gateways with a given TOML config; all are stopped at teardown."""
    made = []

    def make(config_toml: str) -> e2e.Gateway:
        if EXTERNAL:
            pytest.skip("external endpoint: cannot start a gateway with a config")
        gw = _make_gateway(strata_bin, tmp_path / f"gw{len(made)}", config_toml)
        made.append(gw)
        return gw
    try:
        yield make
    finally:
        for gw in made:
            gw.stop()


@pytest.fixture
def fresh_gateway(strata_bin, tmp_path):
    """A gateway of its own, on an empty data dir, for one test."""
    gw = _make_gateway(strata_bin, tmp_path / "gw")
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def s3(gateway):
    """boto3 client with its defaults (flexible checksums on), path style, us-east-1."""
    c = gateway.client()
    c._strata_gateway = gateway
    return c


@pytest.fixture(scope="module")
def aws(gateway):
    """Runs the aws CLI against the gateway: aws("s3", "ls")."""
    def run(*args, **kw):
        return gateway.aws(*args, **kw)
    run._strata_gateway = gateway
    return run


@pytest.fixture(scope="module")
def rclone(gateway):
    """Runs rclone with remote ``s:`` configured for the gateway."""
    def run(*args, **kw):
        return gateway.rclone(*args, **kw)
    run._strata_gateway = gateway
    return run


@pytest.fixture
def bucket(gateway, s3):
    """A new empty bucket, emptied and removed after the test."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    e2e.empty_bucket(s3, name)
