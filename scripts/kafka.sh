#!/usr/bin/env bash
# Tansu, an Apache Kafka API compatible broker written in Rust (crates.io), for the access-event tests
# (tests/e2e/test_events.py). Apache Kafka's own broker needs Maven Central, which these machines cannot reach.
#
#   bash scripts/kafka.sh install   # cargo install tansu into $STRATA_TOOLS/tansu (about 13 minutes on two cores, once)
#   bash scripts/kafka.sh bin       # print the path of the tansu binary
#
# The tests start and stop their own brokers on 127.0.0.1 (memory storage, or S3 storage in the moto emulator for
# the restart test: Tansu 0.6's PostgreSQL engine needs a schema its crate does not ship) with `tansu broker --listener-url tcp://127.0.0.1:PORT --advertised-listener-url tcp://127.0.0.1:PORT
# --storage-engine memory://tansu/`.
#
# Environment:
#   STRATA_TOOLS        tools directory (default $HOME/.cache/strata-tools)
#   STRATA_TANSU_TARGET cargo target directory for the build (default $HOME/.cache/tansu-target; keep it out of the
#                       project's target so the two builds never invalidate each other)
set -euo pipefail

TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
ROOT_DIR="$TOOLS/tansu"
BIN="$ROOT_DIR/bin/tansu"
VERSION="0.6.0"

log() { printf 'kafka: %s\n' "$*" >&2; }

install() {
  if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    log "tansu $VERSION present: $BIN"
    return
  fi
  log "building tansu $VERSION from crates.io (cached in $ROOT_DIR; takes a while the first time)"
  CARGO_TARGET_DIR="${STRATA_TANSU_TARGET:-$HOME/.cache/tansu-target}" CARGO_INCREMENTAL=0 \
    cargo install tansu --version "$VERSION" --locked --features dynostore,postgres --root "$ROOT_DIR" >&2
  [ -x "$BIN" ] || { log "ERROR: no tansu binary after the build"; exit 1; }
}

case "${1:-}" in
  install) install ;;
  bin) echo "$BIN" ;;
  *) echo "usage: $0 install|bin" >&2; exit 1 ;;
esac
