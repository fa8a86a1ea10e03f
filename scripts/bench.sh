#!/usr/bin/env bash
# Throughput and memory benchmark of a release build of strata, against the
# same operations on the local disk directly. Not part of scripts/test.sh.
#
#   bash scripts/bench.sh
#
# Prints a markdown table. Everything stays on 127.0.0.1 and in a temporary
# directory (removed at the end).
#
# Environment:
#   STRATA_BIN                 binary to run (default: cargo build --release, then
#                              $CARGO_TARGET_DIR/release/strata)
#   CARGO_TARGET_DIR           default $HOME/.cache/strata-target
#   STRATA_TOOLS               venv location, as in scripts/test.sh
#   STRATA_BENCH_DIR           where data goes (default: a new dir under ${TMPDIR:-/tmp})
#   STRATA_BENCH_SMALL_COUNT   4 KiB objects (default 2000)
#   STRATA_BENCH_MID_COUNT     64 MiB objects (default 8)
#   STRATA_BENCH_BIG_MIB       size of the big object, MiB (default 2048)
#   STRATA_BENCH_THREADS       client threads for small objects (default 8)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
VENV="$TOOLS/venv"
REQS="$ROOT/tests/e2e/requirements.txt"

echo "==== python tools ====" >&2
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$TOOLS"
  "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import boto3' >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS" </dev/null
fi

if [ -z "${STRATA_BIN:-}" ]; then
  echo "==== cargo build --release -p gateway --bin strata ====" >&2
  cargo build --release -p gateway --bin strata >&2
  STRATA_BIN="$CARGO_TARGET_DIR/release/strata"
fi
[ -x "$STRATA_BIN" ] || { echo "no strata binary at $STRATA_BIN" >&2; exit 1; }

if [ -n "${STRATA_BENCH_DIR:-}" ]; then
  WORK="$STRATA_BENCH_DIR"
  mkdir -p "$WORK"
  CLEAN_WORK=0
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")"
  CLEAN_WORK=1
fi
DRIVER="$WORK/bench_driver.py"
GW_PID=""
cleanup() {
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$GW_PID" 2>/dev/null || true
  fi
  if [ "$CLEAN_WORK" = 1 ]; then rm -rf "$WORK"; else rm -rf "$WORK/data" "$WORK/files"; fi
}
trap cleanup EXIT

read -r S3_PORT ADMIN_PORT < <("$VENV/bin/python" - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
EOF
)

export STRATA_ACCESS_KEY="BENCHACCESSKEY000001"
export STRATA_SECRET_KEY="bench-secret-key-0123456789abcdefghijklmn"
export STRATA_ADMIN_TOKEN="bench-admin-token-0123456789"
mkdir -p "$WORK/data"
echo "==== starting $STRATA_BIN (data in $WORK/data) ====" >&2
"$STRATA_BIN" serve --data-dir "$WORK/data" --s3-addr "127.0.0.1:$S3_PORT" \
  --admin-addr "127.0.0.1:$ADMIN_PORT" >"$WORK/gateway.log" 2>&1 </dev/null &
GW_PID=$!

cat >"$DRIVER" <<'PYEOF'
import concurrent.futures as cf
import os, statistics, subprocess, sys, threading, time
import boto3, requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MiB = 1 << 20
work, endpoint, admin, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
small_n = int(os.environ.get("STRATA_BENCH_SMALL_COUNT", "2000"))
mid_n = int(os.environ.get("STRATA_BENCH_MID_COUNT", "8"))
big_mib = int(os.environ.get("STRATA_BENCH_BIG_MIB", "2048"))
threads = int(os.environ.get("STRATA_BENCH_THREADS", "8"))
token = os.environ["STRATA_ADMIN_TOKEN"]
files = os.path.join(work, "files"); os.makedirs(files, exist_ok=True)
http = requests.Session(); http.trust_env = False

def log(*a): print(*a, file=sys.stderr, flush=True)

deadline = time.time() + 120
while True:
    try:
        if http.get(f"{admin}/admin/health", headers={"Authorization": f"Bearer {token}"}, timeout=2).status_code == 200:
            break
    except requests.RequestException:
        pass
    if time.time() > deadline:
        sys.exit("gateway did not become healthy")
    time.sleep(0.2)

s3 = boto3.session.Session().client(
    "s3", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id=os.environ["STRATA_ACCESS_KEY"], aws_secret_access_key=os.environ["STRATA_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}, max_pool_connections=64, retries={"max_attempts": 1},
                  read_timeout=600))
s3.create_bucket(Bucket="bench")

def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0

def reset_hwm():
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

def drop_caches():
    """Cold reads for both sides where we may (root); otherwise both read from the page cache."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False

cold = drop_caches()

def fsync_write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data); os.fsync(fd)
    finally:
        os.close(fd)

def timed_pool(fn, items):
    lat = []
    def one(x):
        t = time.perf_counter(); fn(x); lat.append(time.perf_counter() - t)
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, items))
    return time.perf_counter() - t0, sorted(lat)

def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000

rows = []
def row(name, strata, local, unit):
    ratio = f"{strata / local:.2f}x" if local else "n/a"
    rows.append((name, f"{strata:,.1f} {unit}", f"{local:,.1f} {unit}" if local else "n/a", ratio))

# ---- 4 KiB objects -------------------------------------------------------
log(f"4 KiB: {small_n} objects, {threads} threads")
bodies = [os.urandom(4096) for _ in range(small_n)]
el, lat = timed_pool(lambda i: s3.put_object(Bucket="bench", Key=f"small/{i:06d}", Body=bodies[i]), range(small_n))
put_ops, put_p50, put_p99 = small_n / el, pct(lat, .5), pct(lat, .99)
drop_caches()
el, lat = timed_pool(lambda i: s3.get_object(Bucket="bench", Key=f"small/{i:06d}")["Body"].read(), range(small_n))
get_ops, get_p50, get_p99 = small_n / el, pct(lat, .5), pct(lat, .99)
sd = os.path.join(files, "small"); os.makedirs(sd, exist_ok=True)
el, _ = timed_pool(lambda i: fsync_write(os.path.join(sd, f"{i:06d}"), bodies[i]), range(small_n))
lput = small_n / el
def rd(i):
    with open(os.path.join(sd, f"{i:06d}"), "rb") as f:
        f.read()
drop_caches()
el, _ = timed_pool(rd, range(small_n))
lget = small_n / el
row(f"PUT 4 KiB x{small_n} ({threads} threads)", put_ops, lput, "ops/s")
row(f"GET 4 KiB x{small_n} ({threads} threads)", get_ops, lget, "ops/s")
rows.append(("PUT 4 KiB latency p50 / p99", f"{put_p50:.1f} / {put_p99:.1f} ms", "", ""))
rows.append(("GET 4 KiB latency p50 / p99", f"{get_p50:.1f} / {get_p99:.1f} ms", "", ""))

# ---- files for the large objects ------------------------------------------
def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MiB)
            f.write(os.urandom(n))
            left -= n

def dd(src, dst, fsync):
    args = ["dd", f"if={src}", f"of={dst}", "bs=4M", "status=none"]
    if fsync:
        args.append("conv=fsync")
    t = time.perf_counter(); subprocess.run(args, check=True); return time.perf_counter() - t

xfer = TransferConfig()  # boto3's defaults: 8 MiB parts, 10 threads, like `aws s3 cp`

# ---- 64 MiB objects --------------------------------------------------------
log(f"64 MiB: {mid_n} objects")
mid = os.path.join(files, "mid.bin"); make_file(mid, 64 * MiB)
t = time.perf_counter()
for i in range(mid_n):
    s3.upload_file(mid, "bench", f"mid/{i}", Config=xfer)
put_mbps = mid_n * 64 / (time.perf_counter() - t)
drop_caches()
t = time.perf_counter()
for i in range(mid_n):
    s3.download_file("bench", f"mid/{i}", os.path.join(files, "mid.down"), Config=xfer)
get_mbps = mid_n * 64 / (time.perf_counter() - t)
lput = mid_n * 64 / sum(dd(mid, os.path.join(files, f"mid.copy{i}"), True) for i in range(mid_n))
drop_caches()
lget = mid_n * 64 / sum(dd(os.path.join(files, f"mid.copy{i}"), "/dev/null", False) for i in range(mid_n))
row(f"PUT 64 MiB x{mid_n} (multipart, 8 MiB parts)", put_mbps, lput, "MiB/s")
row(f"GET 64 MiB x{mid_n} (ranged, parallel)", get_mbps, lget, "MiB/s")
for i in range(mid_n):
    os.remove(os.path.join(files, f"mid.copy{i}"))
    s3.delete_object(Bucket="bench", Key=f"mid/{i}")

# ---- the big object and peak RSS ------------------------------------------
log(f"big: {big_mib} MiB")
big = os.path.join(files, "big.bin"); make_file(big, big_mib * MiB)
idle_rss = status("VmRSS")
hwm_reset = reset_hwm()
hwm_before = status("VmHWM")
peak = [0]; stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], status("VmRSS")); time.sleep(0.05)
sampler = threading.Thread(target=sample, daemon=True); sampler.start()

t = time.perf_counter(); s3.upload_file(big, "bench", "big/multipart", Config=xfer); el_mp = time.perf_counter() - t
t = time.perf_counter()
with open(big, "rb") as f:
    s3.put_object(Bucket="bench", Key="big/single", Body=f)
el_single = time.perf_counter() - t
drop_caches()
t = time.perf_counter(); s3.download_file("bench", "big/multipart", os.path.join(files, "big.down"), Config=xfer); el_get = time.perf_counter() - t
os.remove(os.path.join(files, "big.down"))
drop_caches()
t = time.perf_counter()
body = s3.get_object(Bucket="bench", Key="big/single")["Body"]
got = 0
for chunk in iter(lambda: body.read(4 * MiB), b""):
    got += len(chunk)
el_stream = time.perf_counter() - t
assert got == big_mib * MiB, got
stop.set(); sampler.join()
hwm = status("VmHWM")

lput = big_mib / dd(big, os.path.join(files, "big.copy"), True)
drop_caches()
lget = big_mib / dd(os.path.join(files, "big.copy"), "/dev/null", False)
row(f"PUT {big_mib} MiB (multipart)", big_mib / el_mp, lput, "MiB/s")
row(f"PUT {big_mib} MiB (one PUT)", big_mib / el_single, lput, "MiB/s")
row(f"GET {big_mib} MiB (ranged, parallel)", big_mib / el_get, lget, "MiB/s")
row(f"GET {big_mib} MiB (one streaming GET)", big_mib / el_stream, lget, "MiB/s")
rows.append((f"gateway RSS idle", f"{idle_rss / MiB:,.0f} MiB", "", ""))
rows.append((f"gateway peak RSS during {big_mib} MiB PUT+GET (VmHWM{'' if hwm_reset else ', since start'})",
             f"{max(hwm, peak[0]) / MiB:,.0f} MiB", "", ""))

print("| workload | strata | local disk | strata / local |")
print("|---|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(f"strata: {os.path.basename(sys.argv[5])} (release), {os.cpu_count()} cores, client on the same machine; "
      "local disk: dd bs=4M (writes with conv=fsync), 4 KiB files written with fsync; reads "
      + ("cold (page cache dropped before each read phase)." if cold else "possibly from the page cache (could not drop it)."))
PYEOF

"$VENV/bin/python" "$DRIVER" "$WORK" "http://127.0.0.1:$S3_PORT" "http://127.0.0.1:$ADMIN_PORT" "$GW_PID" "$STRATA_BIN" || {
  echo "benchmark failed; gateway log tail:" >&2
  tail -40 "$WORK/gateway.log" >&2
  exit 1
}
