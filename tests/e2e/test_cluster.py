"""Several gateway nodes on one shared catalog in PostgreSQL (`strata serve --catalog-url`).

Each test gets a database of its own on the server that scripts/test.sh starts (scripts/postgres.sh, whose
env file sets STRATA_PG_URL), and nodes with their own data directories over one shared local-disk backend.
What a node writes is visible on every other node at once; one node leads (runs the mover, planner, reaper)
and another takes over within 30 s when the leader is killed with SIGKILL.

Every node is given the cluster's master key (STRATA_MASTER_KEY); the backend keyrings and the root credentials
live in the catalog, sealed with it.
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
import re
import subprocess
import time
import uuid

import pytest

import strata_e2e as e2e

PG_URL = os.environ.get("STRATA_PG_URL", "")
TAKEOVER_S = 30


def _psql(*sql: str):
    cmd = ["psql", PG_URL, "-q", "-v", "ON_ERROR_STOP=1"]
    for s in sql:
        cmd += ["-c", s]
    subprocess.run(cmd, check=True, timeout=60, capture_output=True)


@pytest.fixture
def catalog_url():
    if not PG_URL:
        if os.environ.get("STRATA_PG_REQUIRED") == "1":
            pytest.fail("STRATA_PG_REQUIRED=1 but STRATA_PG_URL is not set")
        pytest.skip("no PostgreSQL: bash scripts/postgres.sh start; eval \"$(bash scripts/postgres.sh env)\"")
    if os.environ.get("STRATA_E2E_ENDPOINT"):
        pytest.skip("external endpoint: the cluster tests start their own nodes")
    name = "strata_" + uuid.uuid4().hex[:12]
    _psql(f"CREATE DATABASE {name}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        subprocess.run(["psql", PG_URL, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       timeout=60, capture_output=True)


class Cluster:
    def __init__(self, binary, workdir, url):
        self.binary, self.workdir, self.url = binary, workdir, url
        self.shared = workdir / "shared-disk"
        self.shared.mkdir(parents=True)
        self.master_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.nodes: list[e2e.Gateway] = []
        # More backends (TOML) and environment for every node a test adds.
        self.extra_backends = ""
        self.extra_env: dict[str, str] = {}

    def config(self) -> str:
        return f"""
catalog_url = "{self.url}"

[[backends]]
name = "disk"
kind = "local"
path = "{self.shared}"
tier = "aws-s3-standard"
{self.extra_backends}
[placement]
initial = ["disk"]
"""

    def add(self) -> e2e.Gateway:
        i = len(self.nodes)
        wd = self.workdir / f"node{i}"
        data = wd / "data"
        data.mkdir(parents=True)
        (wd / "strata.toml").write_text(self.config())
        gw = e2e.Gateway(endpoint="", admin_url=None, token=e2e.ADMIN_TOKEN, access_key=e2e.ACCESS_KEY,
                         secret_key=e2e.SECRET_KEY, data_dir=data, log_path=wd / "gateway.log", workdir=wd,
                         binary=self.binary, extra_args=["--config", str(wd / "strata.toml")],
                         extra_env={"STRATA_MASTER_KEY": self.master_key, **self.extra_env})
        gw.start()
        self.nodes.append(gw)
        return gw

    def stop(self):
        for gw in self.nodes:
            gw.stop()


@pytest.fixture
def cluster(strata_bin, tmp_path, catalog_url):
    c = Cluster(strata_bin, tmp_path, catalog_url)
    try:
        yield c
    finally:
        c.stop()


def cluster_status(gw: e2e.Gateway) -> dict:
    r = gw.admin("GET", "/admin/cluster")
    assert r.status_code == 200, r.text
    return r.json()


def node_metrics(gw: e2e.Gateway) -> tuple[str, int]:
    """The node id and the leader flag (0 or 1) a node's /metrics reports."""
    r = gw.admin("GET", "/metrics")
    assert r.status_code == 200, r.text
    node = re.search(r'^strata_node_info\{node="([^"]+)",version="[^"]+"\} 1$', r.text, re.M)
    leader = re.search(r"^strata_leader ([01])$", r.text, re.M)
    assert node and leader, r.text[:2000]
    return node.group(1), int(leader.group(1))


def wait_for(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f}s (last: {last!r})")


def test_what_one_node_acknowledges_every_node_serves_at_once(cluster):
    a, b = cluster.add(), cluster.add()
    sa, sb = a.client(), b.client()
    bucket = e2e.unique_bucket("cl")
    sa.create_bucket(Bucket=bucket)
    sb.head_bucket(Bucket=bucket)
    assert bucket in [x["Name"] for x in sb.list_buckets()["Buckets"]]

    # PUT on A: GET, HEAD and LIST on B see it immediately.
    body = os.urandom(300_000)
    etag = sa.put_object(Bucket=bucket, Key="dir/one", Body=body)["ETag"]
    got = sb.get_object(Bucket=bucket, Key="dir/one")
    assert got["Body"].read() == body and got["ETag"] == etag
    assert sb.head_object(Bucket=bucket, Key="dir/one")["ContentLength"] == len(body)
    listing = sb.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listing["Contents"]] == ["dir/one"]

    # Overwrite on B: A reads the new version.
    sb.put_object(Bucket=bucket, Key="dir/one", Body=b"second")
    assert sa.get_object(Bucket=bucket, Key="dir/one")["Body"].read() == b"second"

    # A multipart upload spread over both nodes.
    up = sa.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    p1, p2 = os.urandom(5 * 1024 * 1024), os.urandom(1024)
    e1 = sb.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    assert [u["UploadId"] for u in sa.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [up]
    e2 = sa.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    assert len(sb.list_parts(Bucket=bucket, Key="big", UploadId=up)["Parts"]) == 2
    sb.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert sa.get_object(Bucket=bucket, Key="big")["Body"].read() == p1 + p2

    # Tags set on one node are read on the other.
    sa.put_object_tagging(Bucket=bucket, Key="big", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert sb.get_object_tagging(Bucket=bucket, Key="big")["TagSet"] == [{"Key": "k", "Value": "v"}]

    # DELETE on A: B answers NoSuchKey.
    sa.delete_object(Bucket=bucket, Key="dir/one")
    with pytest.raises(Exception) as exc:
        sb.get_object(Bucket=bucket, Key="dir/one")
    assert e2e.error_of(exc.value) == (404, "NoSuchKey")


def test_an_overwritten_blob_outlives_another_nodes_read_and_then_goes_within_a_minute(cluster):
    """The leader's reaper sees the other nodes' reads through their heartbeats: a download that started on a
    follower before an overwrite gets the old bytes whole however long it takes to open, and once it is done the
    old blob is deleted within the local grace and a few heartbeats, not `garbage_grace_secs` (10 minutes)."""
    a, b = cluster.add(), cluster.add()
    s = wait_for("both nodes alive with one leader", lambda: (
        (st := cluster_status(a)) and st["leader"] and len(st["nodes"]) == 2 and all(n["alive"] for n in st["nodes"])
        and st), 30)
    leader, follower = (a, b) if cluster_status(a)["node"] == s["leader"] else (b, a)
    bucket = e2e.unique_bucket("gc")
    sl, sf = leader.client(), follower.client()
    sl.create_bucket(Bucket=bucket)
    old = os.urandom(1024 * 1024)
    sl.put_object(Bucket=bucket, Key="doc", Body=old)
    old_blobs = {p for p in cluster.shared.rglob("*") if p.is_file()}
    assert old_blobs, "the object's blob is on the shared disk"
    # The follower's next backend read waits 20 s before it opens the blob: longer than the local grace (10 s).
    r = follower.admin("PUT", "/admin/chaos", json={"rules": [
        {"id": "slow-open", "backend": "disk", "ops": ["get"], "max_count": 1,
         "fault": {"type": "latency", "fixed_ms": 20_000}}]})
    assert r.status_code == 200, r.text
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        download = pool.submit(lambda: sf.get_object(Bucket=bucket, Key="doc")["Body"].read())
        wait_for("the follower's read to start", lambda: follower.admin("GET", "/admin/health").json()
                 ["active_reads"] > 0, 10)
        sl.put_object(Bucket=bucket, Key="doc", Body=b"new")
        overwritten = time.monotonic()
        got = download.result(timeout=120)
    assert got == old, "the follower's read streamed the old bytes whole"
    assert time.monotonic() - overwritten >= 15, "the read was still waiting well past the local grace"
    assert sf.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"new"
    wait_for("the old blob to be deleted", lambda: not any(p.exists() for p in old_blobs), 60)
    assert time.monotonic() - overwritten < 120


def test_concurrent_writers_on_both_nodes_lose_nothing(cluster):
    a, b = cluster.add(), cluster.add()
    clients = [a.client(), b.client()]
    bucket = e2e.unique_bucket("cl")
    clients[0].create_bucket(Bucket=bucket)
    bodies = {f"k{i:03d}": os.urandom(1000 + i) for i in range(80)}

    def put(item):
        i, (key, body) = item
        # Every key is written twice, once through each node, racing: the last write wins, nothing is lost.
        clients[i % 2].put_object(Bucket=bucket, Key=key, Body=b"first")
        clients[(i + 1) % 2].put_object(Bucket=bucket, Key=key, Body=body)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, enumerate(bodies.items())))
    for c in clients:
        keys = [o["Key"] for p in c.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in p.get("Contents", [])]
        assert keys == sorted(bodies)
    for i, (key, body) in enumerate(bodies.items()):
        assert clients[i % 2].get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_one_leader_and_a_takeover_within_30s_after_kill9(cluster, strata_bin):
    a, b = cluster.add(), cluster.add()
    s = wait_for("both nodes alive with one leader", lambda: (
        (st := cluster_status(b)) and st["leader"] and len(st["nodes"]) == 2
        and all(n["alive"] for n in st["nodes"]) and st), 20)
    assert s["catalog"] == "postgres"
    ids = {n["node"] for n in s["nodes"]}
    assert len(ids) == 2 and s["leader"] in ids
    assert [n["node"] for n in s["nodes"] if n["leader"]] == [s["leader"]]
    assert cluster_status(a)["leader"] == s["leader"]
    # Each node's /metrics names it and says whether it leads: one leader, the lease's holder.
    wait_for("/metrics agrees with /admin/cluster", lambda: (
        (m := {node_metrics(g) for g in (a, b)}) and {i for i, _ in m} == ids
        and {i for i, lead in m if lead} == {s["leader"]} and m), 10)

    # The CLI shows the same.
    out = subprocess.run([str(strata_bin), "cluster", "status", "--admin", b.admin_url,
                          "--token", b.token], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert all(i in out.stdout for i in ids) and "leader" in out.stdout

    client = b.client()
    bucket = e2e.unique_bucket("cl")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="before", Body=b"kept")

    leader, follower = (a, b) if cluster_status(a)["node"] == s["leader"] else (b, a)
    old = s["leader"]
    leader.kill9()
    started = time.monotonic()
    st = wait_for("the survivor takes over", lambda: (
        (x := cluster_status(follower))["leader"] not in (None, old) and x), TAKEOVER_S)
    took = time.monotonic() - started
    assert st["leader"] == st["node"], st
    dead = [n for n in st["nodes"] if n["node"] == old]
    assert dead and not dead[0]["leader"]
    wait_for("the survivor's /metrics says it leads", lambda: node_metrics(follower) == (st["node"], 1), 10)
    print(f"takeover after kill -9: {took:.1f}s")

    survivor = follower.client()
    assert survivor.get_object(Bucket=bucket, Key="before")["Body"].read() == b"kept"
    survivor.put_object(Bucket=bucket, Key="after", Body=b"new")

    # The killed node comes back as a follower and serves what was written while it was down.
    leader.start()
    assert leader.client().get_object(Bucket=bucket, Key="after")["Body"].read() == b"new"
    assert cluster_status(leader)["leader"] == st["leader"]


def test_keys_and_credentials_live_sealed_in_the_catalog_and_rotation_reaches_every_node(cluster):
    a, b = cluster.add(), cluster.add()
    sa, sb = a.client(), b.client()
    bucket = e2e.unique_bucket("cl")
    sa.create_bucket(Bucket=bucket)
    sa.put_object(Bucket=bucket, Key="old-key", Body=b"sealed with key 1")
    assert sb.get_object(Bucket=bucket, Key="old-key")["Body"].read() == b"sealed with key 1"

    # Rotate on A: B reads what A seals with the new key at once (it reloads the keyring on an unknown key id),
    # and adopts the new active key within a heartbeat.
    r = a.admin("POST", "/admin/keys/rotate", json={"backend": "disk"})
    assert r.status_code in (200, 202), r.text
    sa.put_object(Bucket=bucket, Key="new-key", Body=b"sealed with key 2")
    assert sb.get_object(Bucket=bucket, Key="new-key")["Body"].read() == b"sealed with key 2"

    def b_active():
        keys = b.admin("GET", "/admin/keys").json()
        disk = [k for k in keys["backends"] if k["name"] == "disk"][0]
        return disk["active_key_id"] == 2 and disk
    wait_for("B adopts the rotated keyring", b_active, 15)
    sb.put_object(Bucket=bucket, Key="from-b", Body=b"sealed by B with key 2")
    assert sa.get_object(Bucket=bucket, Key="from-b")["Body"].read() == b"sealed by B with key 2"

    # Nothing in the database is in the clear: the keyring and the credentials are Fernet tokens.
    out = subprocess.run(["psql", cluster.url, "-At", "-c", "SELECT name, encode(value, 'escape') FROM secrets"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    names = [line.split("|", 1)[0] for line in out.splitlines()]
    assert sorted(names) == ["credentials", "keyring/disk"], out
    for line in out.splitlines():
        value = line.split("|", 1)[1]
        assert value.startswith("gAAAAA"), line  # a Fernet token
        assert '"keys"' not in value and "secret_key" not in value
    # No node wrote a keyring file.
    assert not (a.data_dir / "keys" / "disk.json").exists()


def test_a_node_without_the_master_key_refuses_to_start(strata_bin, tmp_path, catalog_url):
    (tmp_path / "data").mkdir()
    out = subprocess.run([str(strata_bin), "serve", "--data-dir", str(tmp_path / "data"),
                          "--catalog-url", catalog_url, "--s3-addr", f"127.0.0.1:{e2e.free_port()}",
                          "--admin-addr", f"127.0.0.1:{e2e.free_port()}"],
                         capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != "STRATA_MASTER_KEY"})
    assert out.returncode != 0
    assert "STRATA_MASTER_KEY" in out.stderr and "panicked" not in out.stderr, out.stderr


def test_cluster_init_creates_the_schema_credentials_and_a_master_key(strata_bin, catalog_url):
    env = {k: v for k, v in os.environ.items() if k != "STRATA_MASTER_KEY"}
    out = subprocess.run([str(strata_bin), "cluster", "init", "--catalog-url", catalog_url],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert re.search(r"version \d+", out.stdout), out.stdout
    master = re.search(r"STRATA_MASTER_KEY=(\S+)", out.stdout).group(1)
    access = re.search(r"access key:\s+(\S+)", out.stdout).group(1)
    assert access.startswith("STRATA")
    # Again with that key (from the environment): idempotent, the credentials are kept.
    again = subprocess.run([str(strata_bin), "cluster", "init"], capture_output=True, text=True, timeout=60,
                           env={**env, "STRATA_CATALOG_URL": catalog_url, "STRATA_MASTER_KEY": master})
    assert again.returncode == 0, again.stderr
    assert "already exist" in again.stdout and "STRATA_MASTER_KEY=" not in again.stdout
    # Another master key cannot open them: a clear error.
    wrong = subprocess.run([str(strata_bin), "cluster", "init", "--catalog-url", catalog_url],
                           capture_output=True, text=True, timeout=60,
                           env={**env, "STRATA_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()})
    assert wrong.returncode != 0 and "master key" in wrong.stderr, wrong.stderr

    bad = subprocess.run([str(strata_bin), "cluster", "init", "--catalog-url", "postgres://nobody@127.0.0.1:1/x"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode != 0
    assert "cannot connect" in bad.stderr and "panicked" not in bad.stderr, bad.stderr


def test_a_user_created_on_one_node_signs_on_every_node_sealed(cluster):
    a, b = cluster.add(), cluster.add()
    r = a.admin("POST", "/admin/users", json={"access_key": "cluster-user", "access": "read-only"})
    assert r.status_code == 201, r.text
    secret = r.json()["secret_key"]

    wait_for("B accepts the user created on A", lambda: _accepts(b, "cluster-user", secret), 15)
    # Stored sealed with the master key: the secret is nowhere in the clear.
    out = subprocess.run(["psql", cluster.url, "-At", "-c",
                          "SELECT encode(value, 'escape') FROM secrets WHERE name = 'users'"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out.startswith("gAAAAA") and secret not in out and "cluster-user" not in out, out
    assert b.admin("DELETE", "/admin/users/cluster-user").status_code == 204
    wait_for("A refuses the user removed on B", lambda: not _accepts(a, "cluster-user", secret), 15)


def _accepts(gw, key, secret) -> bool:
    try:
        gw.client_with(key, secret).list_buckets()
        return True
    except Exception:
        return False


def test_followers_write_new_objects_where_the_leaders_plan_advised(cluster):
    """Only the leader plans; its advice on where new objects go (`/admin/health`: `new_objects_min_bytes`)
    reaches the followers through its heartbeat, so a new object lands on the same backend whichever node
    takes the PUT."""
    it = cluster.workdir / "shared-it"
    it.mkdir()
    cluster.extra_backends = f"""
[[backends]]
name = "it"
kind = "local"
path = "{it}"
tier = "aws-s3-intelligent-tiering"
"""
    cluster.extra_env = {"STRATA_TEST_CLOCK": "1"}
    a, b = cluster.add(), cluster.add()
    s = wait_for("both nodes alive with one leader", lambda: (
        (st := cluster_status(b)) and st["leader"] and len(st["nodes"]) == 2 and st), 20)
    leader, follower = (a, b) if cluster_status(a)["node"] == s["leader"] else (b, a)
    prior = 8 << 20
    for gw in (leader, follower):
        h = gw.admin("GET", "/admin/health").json()
        assert (h["new_objects_self_tiering"], h["new_objects_min_bytes"]) == ("it", prior), h

    # 24 objects of 1 MiB, never read: on the leader's clock 40 days later, a measured size class whose idle
    # months pay the class's monitoring fee, so the plan advises writing new objects of 1 MiB and more into "it".
    bucket = e2e.unique_bucket("adv")
    sl = leader.client()
    sl.create_bucket(Bucket=bucket)
    for i in range(24):
        sl.put_object(Bucket=bucket, Key=f"old/{i:02d}", Body=os.urandom(1 << 20))
    r = leader.admin("POST", "/admin/test/clock", json={"advance_ms": 40 * 86_400_000})
    assert r.status_code == 200, r.text
    r = leader.admin("POST", "/admin/plan/apply")
    assert r.status_code == 202, r.text
    h = leader.admin("GET", "/admin/health").json()
    assert h["new_objects_min_bytes"] == 1 << 20, h

    # The follower adopts it within a few heartbeats, and the leader's record in /admin/cluster shows it.
    wait_for("the follower adopts the leader's advice", lambda: (
        follower.admin("GET", "/admin/health").json()["new_objects_min_bytes"] == 1 << 20), 20)
    nodes = {n["node"]: n for n in cluster_status(follower)["nodes"]}
    assert nodes[s["leader"]]["new_objects"] == {"backend": "it", "min_bytes": 1 << 20}, nodes

    # A new 2 MiB object PUT through the follower goes to "it"; a 4 KiB one to the initial backend.
    sf = follower.client()
    sf.put_object(Bucket=bucket, Key="new/large", Body=os.urandom(2 << 20))
    sf.put_object(Bucket=bucket, Key="new/small", Body=b"x" * 4096)
    for key, want in (("new/large", ["it"]), ("new/small", ["disk"])):
        r = follower.object_info(bucket, key)
        assert r.status_code == 200, r.text
        assert r.json()["replicas"] == want, r.json()
