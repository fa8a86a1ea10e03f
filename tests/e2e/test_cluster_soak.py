"""Three gateway nodes on one PostgreSQL catalog under mixed load, with nodes (the leader included) killed with
SIGKILL at random and restarted, while moves run between two shared backends. Afterwards:

- every acknowledged PUT reads back byte-identical from every node (or a later acknowledged overwrite or delete
  does), acknowledged DELETEs stay deleted, and every node lists exactly the live keys;
- no move was committed twice (each task id appears in at most one node's "move committed" log line);
- no orphan blob: once a new leader has taken over, the blob files on the shared disks are exactly the blobs the
  catalog references.

The seed is printed; STRATA_SOAK_SEED replays one, STRATA_SOAK_KILLS changes the number of kills (default 6).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time

import pytest

import strata_e2e as e2e
from test_cluster import Cluster, catalog_url, cluster_status, wait_for  # noqa: F401 (fixture)

KILLS = int(os.environ.get("STRATA_SOAK_KILLS", "6"))


class SoakCluster(Cluster):
    def __init__(self, binary, workdir, url):
        super().__init__(binary, workdir, url)
        self.cold = workdir / "shared-cold"
        self.cold.mkdir()

    def config(self) -> str:
        return super().config().replace("[placement]", f"""
[[backends]]
name = "cold"
kind = "local"
path = "{self.cold}"
tier = "aws-s3-glacier-ir"

[cluster]
orphan_min_age_secs = 3
garbage_grace_secs = 1

[placement]""")

    def blob_files(self) -> list[str]:
        out = []
        for root in (self.shared, self.cold):
            for dirpath, _, files in os.walk(root):
                out += [os.path.join(dirpath, f) for f in files if "#" not in f]
        return out


def digest(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class Model:
    """Per key: the acknowledged value (a digest, or None for absent) and values an unacknowledged request may
    have left (a request cut by a kill may or may not have committed)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict[str, str | None] = {}
        self.maybe: dict[str, set] = {}

    def allowed(self, key):
        with self.lock:
            return {self.acked.get(key)} | self.maybe.get(key, set())

    def ack(self, key, value):
        with self.lock:
            self.acked[key] = value
            self.maybe.pop(key, None)

    def uncertain(self, key, value):
        with self.lock:
            self.maybe.setdefault(key, set()).add(value)


def test_random_kill9_of_three_nodes_loses_nothing(strata_bin, tmp_path, catalog_url):  # noqa: F811
    seed = int(os.environ.get("STRATA_SOAK_SEED", random.randrange(1 << 30)))
    print(f"soak seed {seed}")
    rng = random.Random(seed)
    cluster = SoakCluster(strata_bin, tmp_path, catalog_url)
    try:
        nodes = [cluster.add() for _ in range(3)]
        bucket = e2e.unique_bucket("soak")
        nodes[0].client().create_bucket(Bucket=bucket)
        model = Model()
        stop = threading.Event()
        wrong: list[str] = []
        counts = {"puts": 0, "deletes": 0, "gets": 0, "cut": 0, "moves": 0}

        def alive():
            return [n for n in nodes if n.proc is not None and n.proc.poll() is None]

        def writer(w: int):
            r = random.Random(seed * 31 + w)
            clients = {}
            while not stop.is_set():
                up = alive()
                if not up:
                    time.sleep(0.05)
                    continue
                node = r.choice(up)
                key = f"w{w}/k{r.randrange(40)}"
                op = r.random()
                if node.endpoint not in clients:
                    clients[node.endpoint] = node.client(retries={"max_attempts": 1}, connect_timeout=2,
                                                         read_timeout=10)
                s3 = clients[node.endpoint]
                if op < 0.6:
                    body = r.randbytes(r.choice([100, 5000, 70_000]))
                    try:
                        s3.put_object(Bucket=bucket, Key=key, Body=body)
                        model.ack(key, digest(body))
                        counts["puts"] += 1
                    except Exception:
                        model.uncertain(key, digest(body))
                        counts["cut"] += 1
                elif op < 0.75:
                    try:
                        s3.delete_object(Bucket=bucket, Key=key)
                        model.ack(key, None)
                        counts["deletes"] += 1
                    except Exception:
                        model.uncertain(key, None)
                        counts["cut"] += 1
                else:
                    allowed = model.allowed(key)
                    try:
                        got = digest(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                    except Exception as e:
                        status = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
                        if status == 404:
                            got = None
                        else:
                            continue  # the node died under the read
                    counts["gets"] += 1
                    if got not in allowed and model.allowed(key) == allowed:
                        wrong.append(f"{key}: read {got}, allowed {allowed}")

        def mover():
            r = random.Random(seed * 7)
            while not stop.is_set():
                time.sleep(0.5)
                up = alive()
                with model.lock:
                    live = [k for k, v in model.acked.items() if v is not None]
                if not up or not live:
                    continue
                try:
                    resp = r.choice(up).admin("POST", "/admin/moves", json={
                        "bucket": bucket, "key": r.choice(live), "to": [r.choice(["cold", "disk"])]}, timeout=5)
                    if resp.status_code == 202:
                        counts["moves"] += 1
                except Exception:
                    pass

        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
        threads.append(threading.Thread(target=mover, daemon=True))
        for t in threads:
            t.start()
        kills = []
        for i in range(KILLS):
            time.sleep(rng.uniform(1.5, 3.5))
            leader = None
            try:
                leader = cluster_status(alive()[0])["leader"]
            except Exception:
                pass
            by_id = {}
            for n in alive():
                try:
                    by_id[cluster_status(n)["node"]] = n
                except Exception:
                    pass
            # Every other kill is the leader's (the first one included); the rest hit a random node.
            victim = by_id[leader] if leader in by_id and i % 2 == 0 else rng.choice(alive())
            kills.append("leader" if victim is by_id.get(leader) else "follower")
            victim.kill9()
            time.sleep(rng.uniform(0.2, 1.5))
            victim.start()
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        print(f"soak: kills {kills}, {counts}")
        assert not wrong, wrong[:10]
        assert counts["puts"] > 50, counts
        assert "leader" in kills, kills

        # Settle: no move in flight.
        wait_for("moves finish", lambda: not nodes[0].admin("GET", "/admin/moves?active=true").json()["moves"], 90)

        # Every node serves exactly the model: acknowledged values, or for a cut request one of its outcomes.
        keys_by_node = []
        for n in nodes:
            s3 = n.client()
            listed = {o["Key"]: o for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                      for o in p.get("Contents", [])}
            keys_by_node.append(set(listed))
            for key in set(model.acked) | set(model.maybe):
                allowed = model.allowed(key)
                try:
                    got = digest(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                except Exception as e:
                    assert e2e.error_of(e) == (404, "NoSuchKey"), e
                    got = None
                assert got in allowed, f"{key}: {got} not in {allowed}"
                assert (key in listed) == (got is not None), key
        assert keys_by_node[0] == keys_by_node[1] == keys_by_node[2]

        # No move committed twice.
        committed = []
        for n in nodes:
            for line in n.log_path.read_text(errors="replace").splitlines():
                if "move committed" in line and (m := re.search(r"task=(\d+)", line)):
                    committed.append(int(m.group(1)))
        assert len(committed) == len(set(committed)), sorted(committed)
        print(f"soak: {len(committed)} moves committed, each once")

        # No orphan: wait past the orphan age, make a new leader take over (it collects), then files == refs.
        time.sleep(4)
        leader = cluster_status(nodes[0])["leader"]
        by_id = {cluster_status(n)["node"]: n for n in nodes}
        by_id[leader].kill9()
        others = [n for n in nodes if n is not by_id[leader]]
        wait_for("a new leader", lambda: cluster_status(others[0])["leader"] not in (None, leader), 30)

        def settled():
            h = others[0].admin("GET", "/admin/health?deep=true").json()
            files = len(cluster.blob_files())
            return h["garbage_pending"] == 0 and files == h["blobs_referenced"] and (files, h)
        files, health = wait_for("no orphan blob files", settled, 60)
        print(f"soak: {files} blob files = {health['blobs_referenced']} referenced")
    finally:
        cluster.stop()
