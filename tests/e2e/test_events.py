"""Access events to Kafka (`[events]`), checked with an independent client (kafka-python) against a real
Kafka-API broker on 127.0.0.1: Tansu, built from crates.io by scripts/kafka.sh (Apache Kafka's own broker needs
Maven Central, which these machines cannot reach).

- every S3 access, write and delete arrives as one JSON event, keyed by bucket/key, in per-object order;
- a broker that is down never fails a request (events beyond the buffer are dropped and counted);
- a broker restart loses nothing it acknowledged, and what the gateway buffered meanwhile arrives after the
  restart. The broker keeps its data in S3 (moto, the emulator scripts/test.sh starts): Tansu 0.6's PostgreSQL
  engine needs a schema that its crate does not ship (it lives in Tansu's repository), its S3 engine needs none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import strata_e2e as e2e

TANSU = Path(os.environ.get("STRATA_TANSU_BIN")
             or Path.home() / ".cache/strata-tools/tansu/bin/tansu")
EMU_S3 = os.environ.get("STRATA_EMU_S3", "")


def _require_tansu():
    if not TANSU.exists():
        if os.environ.get("STRATA_KAFKA_REQUIRED") == "1":
            pytest.fail(f"STRATA_KAFKA_REQUIRED=1 but no tansu at {TANSU}")
        pytest.skip(f"no Kafka-API broker: bash scripts/kafka.sh install (tansu at {TANSU})")
    if os.environ.get("STRATA_E2E_ENDPOINT"):
        pytest.skip("external endpoint: the event tests start their own gateways")


class Broker:
    def __init__(self, workdir: Path, storage: str, env: dict | None = None):
        self.port = e2e.free_port()
        self.storage = storage
        self.env = {**os.environ, **(env or {})}
        self.log = workdir / f"tansu-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", self.storage],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=e2e._pdeathsig,
                env=self.env)
        deadline = time.monotonic() + 60
        import socket
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"tansu exited: {self.log.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        pytest.fail(f"tansu did not listen within 60s: {self.log.read_text()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def broker(tmp_path):
    _require_tansu()
    b = Broker(tmp_path, "memory://tansu/")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def events_gateway(strata_bin, workdir: Path, brokers: list[str], topic: str, **extra) -> e2e.Gateway:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir()
    lines = [f"kafka_brokers = {json.dumps(brokers)}", f'topic = "{topic}"', "linger_ms = 20"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    (workdir / "strata.toml").write_text("[events]\n" + "\n".join(lines) + "\n")
    gw = e2e.Gateway(endpoint="", admin_url=None, token=e2e.ADMIN_TOKEN, access_key=e2e.ACCESS_KEY,
                     secret_key=e2e.SECRET_KEY, data_dir=workdir / "data", log_path=workdir / "gateway.log",
                     workdir=workdir, binary=strata_bin, extra_args=["--config", str(workdir / "strata.toml")])
    gw.start()
    return gw


def consume(brokers: str, topic: str, want: int, timeout: float = 60) -> list:
    """Every record of `topic` from the beginning, until `want` arrived (or the timeout)."""
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest",
                             group_id=f"test-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
                             consumer_timeout_ms=2000)
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < want and time.monotonic() < deadline:
            for msg in consumer:
                got.append(msg)
                if len(got) >= want:
                    break
    finally:
        consumer.close()
    return got


def metric(gw: e2e.Gateway, name: str) -> float:
    """The value of the sample `name` (with its labels, as /metrics writes them), 0 when absent."""
    for line in gw.admin("GET", "/metrics").text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == name:
            return float(value)
    return 0.0


def test_every_access_arrives_once_keyed_and_in_order_per_object(strata_bin, tmp_path, broker):
    topic = f"strata.events.{uuid.uuid4().hex[:8]}"
    gw = events_gateway(strata_bin, tmp_path / "gw", [broker.address], topic)
    try:
        s3 = gw.client()
        bucket = e2e.unique_bucket("ev")
        s3.create_bucket(Bucket=bucket)
        keys = [f"obj-{i}" for i in range(6)]
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x" * 1000)
            s3.get_object(Bucket=bucket, Key=k)["Body"].read()
            s3.head_object(Bucket=bucket, Key=k)
            s3.put_object(Bucket=bucket, Key=k, Body=b"y" * 2000)
            s3.delete_object(Bucket=bucket, Key=k)
        with pytest.raises(Exception):
            s3.get_object(Bucket=bucket, Key="missing")
        node = gw.admin("GET", "/admin/cluster").json()["node"]

        want = 1 + 5 * len(keys) + 1  # CreateBucket, five per key, the failed GET
        got = consume(broker.address, topic, want)
        events = [(m.key.decode(), json.loads(m.value)) for m in got]
        assert len(events) >= want, f"{len(events)} of {want} events arrived"
        for k in keys:
            mine = [e for key, e in events if key == f"{bucket}/{k}"]
            assert [e["op"] for e in mine] == ["PutObject", "GetObject", "HeadObject", "PutObject",
                                                "DeleteObject"], mine
            assert [e["status"] for e in mine] == [200, 200, 200, 200, 204]
            assert mine[0]["size"] == 1000 and mine[1]["size"] == 1000 and mine[3]["size"] == 2000
            assert all(e["bucket"] == bucket and e["key"] == k and e["node"] == node for e in mine)
            assert all(e["latency_ms"] >= 0 for e in mine)
            times = [e["time_ms"] for e in mine]
            assert times == sorted(times)
        missing = [e for key, e in events if key == f"{bucket}/missing"]
        assert [(e["op"], e["status"]) for e in missing] == [("GetObject", 404)]
        assert any(e["op"] == "CreateBucket" and e["bucket"] == bucket for _, e in events)
        # One object's events share a partition.
        parts = {}
        for m in got:
            parts.setdefault(m.key, set()).add(m.partition)
        assert all(len(p) == 1 for p in parts.values())
        assert metric(gw, 'strata_kafka_events_total{fate="published"}') >= want
        assert metric(gw, 'strata_kafka_events_total{fate="dropped"}') == 0

        # What a lifecycle pass deletes is an event too (a rule whose date has passed expires at once).
        s3.put_object(Bucket=bucket, Key="lc/old", Body=b"z" * 300)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "past", "Status": "Enabled", "Filter": {"Prefix": "lc/"},
             "Expiration": {"Date": "2020-01-01T00:00:00Z"}}]})
        assert gw.admin("POST", "/admin/lifecycle/run").json()["expired"] == 1
        got = consume(broker.address, topic, want + 3)
        lc = [json.loads(m.value) for m in got if m.key.decode() == f"{bucket}/lc/old"]
        assert [(e["op"], e["status"], e.get("detail")) for e in lc] == [
            ("PutObject", 200, None), ("LifecycleExpiration", 200, "deleted")], lc
        assert lc[1]["size"] == 300 and lc[1]["node"] == node
    finally:
        gw.stop()


def _p99(samples: list[float]) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def test_a_broker_that_is_down_never_fails_or_stalls_requests(strata_bin, tmp_path):
    _require_tansu()
    dead = f"127.0.0.1:{e2e.free_port()}"  # nothing listens there
    with_dead = events_gateway(strata_bin, tmp_path / "dead", [dead], "strata.events", buffer_events=20)
    plain = e2e.Gateway(endpoint="", admin_url=None, token=e2e.ADMIN_TOKEN, access_key=e2e.ACCESS_KEY,
                        secret_key=e2e.SECRET_KEY, data_dir=tmp_path / "plain-data",
                        log_path=tmp_path / "plain.log", workdir=tmp_path, binary=strata_bin)
    (tmp_path / "plain-data").mkdir()
    plain.start()
    try:
        p99 = {}
        for name, gw in (("with a dead broker", with_dead), ("without events", plain)):
            s3 = gw.client()
            bucket = e2e.unique_bucket("ev")
            s3.create_bucket(Bucket=bucket)
            lat = []
            for i in range(100):
                t = time.monotonic()
                s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"z" * 4096)
                assert s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == b"z" * 4096
                lat.append(time.monotonic() - t)
            p99[name] = _p99(lat)
        print(f"PUT+GET p99: {p99}")
        # Blocking on the broker would cost seconds (connect timeouts, backoff); sharing the machine costs less.
        assert p99["with a dead broker"] < 1.0, p99
        assert metric(with_dead, 'strata_kafka_events_total{fate="dropped"}') > 100
        # The publisher keeps trying (each connection attempt gives up after 5 s, then backs off).
        deadline = time.monotonic() + 30
        while metric(with_dead, "strata_kafka_send_failures_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(with_dead, "strata_kafka_send_failures_total") >= 1
        assert with_dead.admin("GET", "/admin/health").status_code == 200
    finally:
        with_dead.stop()
        plain.stop()


def test_a_broker_restart_loses_nothing_acknowledged(strata_bin, tmp_path):
    _require_tansu()
    if not EMU_S3:
        if os.environ.get("STRATA_EMU_REQUIRED") == "1":
            pytest.fail("STRATA_EMU_REQUIRED=1 but STRATA_EMU_S3 is not set")
        pytest.skip("the restart test keeps the broker's data in S3 (moto): no STRATA_EMU_S3")
    import urllib.request
    bucket_name = "tansu-" + uuid.uuid4().hex[:10]
    urllib.request.urlopen(urllib.request.Request(f"{EMU_S3}/{bucket_name}", method="PUT"), timeout=30).read()
    env = {"AWS_ENDPOINT": EMU_S3, "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "moto",
           "AWS_SECRET_ACCESS_KEY": "moto", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    broker = Broker(tmp_path, f"s3://{bucket_name}/", env)
    broker.start()
    gw = None
    try:
        topic = f"strata.events.{uuid.uuid4().hex[:8]}"
        gw = events_gateway(strata_bin, tmp_path / "gw", [broker.address], topic)
        s3 = gw.client()
        bucket = e2e.unique_bucket("ev")
        s3.create_bucket(Bucket=bucket)
        for i in range(20):
            s3.put_object(Bucket=bucket, Key=f"before-{i}", Body=b"a")
        deadline = time.monotonic() + 30
        while metric(gw, 'strata_kafka_events_total{fate="published"}') < 21 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metric(gw, 'strata_kafka_events_total{fate="published"}') >= 21

        broker.stop()
        for i in range(20):  # the broker is down: requests still succeed, events wait in the buffer
            s3.put_object(Bucket=bucket, Key=f"during-{i}", Body=b"b")
        broker.start()  # same port, same storage

        got = consume(broker.address, topic, 41, timeout=90)
        keys = {m.key.decode() for m in got}
        for i in range(20):
            assert f"{bucket}/before-{i}" in keys, f"acknowledged event before-{i} lost"
            assert f"{bucket}/during-{i}" in keys, f"buffered event during-{i} never delivered"
        assert metric(gw, 'strata_kafka_events_total{fate="dropped"}') == 0
    finally:
        if gw:
            gw.stop()
        broker.stop()
