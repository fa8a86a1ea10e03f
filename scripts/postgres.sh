#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for Strata's shared-catalog tests (PgCatalog) and for trying a
# cluster by hand: Debian's packages, a fresh cluster (initdb) in a temporary directory, run as the
# unprivileged `postgres` user (the server refuses to run as root), trust authentication on loopback only.
#
#   bash scripts/postgres.sh start   # install if missing, initdb, start, create the database, write the env file
#   bash scripts/postgres.sh env     # print the env file (export lines): eval "$(... env)"
#   bash scripts/postgres.sh stop    # stop the server, remove its data directory
#
# The env file ($STATE/env) holds:
#   STRATA_PG_URL=postgres://strata@127.0.0.1:P/strata   a database owned by the role `strata`
#   STRATA_PG_DATA, STRATA_PG_BIN                        for `stop`
#
# Environment:
#   STRATA_PG_STATE  where the env file and the server log live (default ${STRATA_TOOLS:-$HOME/.cache/strata-tools}/postgres)
#   STRATA_PG_PORT   fixed port (default: a free port picked at start)
set -euo pipefail

TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
STATE="${STRATA_PG_STATE:-$TOOLS/postgres}"
ENV_FILE="$STATE/env"

log() { printf 'postgres: %s\n' "$*" >&2; }
die() {
  printf 'postgres: ERROR: %s\n' "$*" >&2
  exit 1
}

# The newest server binaries Debian installed (/usr/lib/postgresql/N/bin).
pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_server() {
  if [ -n "$(pg_bin)" ]; then
    return
  fi
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    || die "no PostgreSQL server binaries: apt-get install postgresql (as root)"
  log "installing Debian's postgresql"
  apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql </dev/null
  [ -n "$(pg_bin)" ] || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
}

# Runs a command as the server's user (the postgres account Debian's package creates) when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  install_server
  local bin port data
  bin="$(pg_bin)"
  if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    if as_pg "$STRATA_PG_BIN/pg_ctl" -D "$STRATA_PG_DATA" status >/dev/null 2>&1; then
      log "already running: $STRATA_PG_URL"
      return
    fi
  fi
  mkdir -p "$STATE"
  port="${STRATA_PG_PORT:-$(free_port)}"
  data="$(mktemp -d "${TMPDIR:-/tmp}/strata-pg.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  chmod 700 "$data"
  as_pg "$bin/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 >"$STATE/initdb.log" 2>&1 \
    || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
  # Loopback only; the socket lives in the data directory so no system directory is needed.
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" start >/dev/null \
    || { cat "$data/server.log" >&2; die "the server did not start"; }
  as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE strata LOGIN CREATEDB" -c "CREATE DATABASE strata OWNER strata" >/dev/null
  cat >"$ENV_FILE" <<EOF
export STRATA_PG_URL=postgres://strata@127.0.0.1:$port/strata
export STRATA_PG_DATA=$data
export STRATA_PG_BIN=$bin
EOF
  log "running: postgres://strata@127.0.0.1:$port/strata"
}

stop() {
  [ -f "$ENV_FILE" ] || return 0
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  as_pg "$STRATA_PG_BIN/pg_ctl" -D "$STRATA_PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$STRATA_PG_DATA" "$ENV_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) [ -f "$ENV_FILE" ] && cat "$ENV_FILE" || die "not started (bash scripts/postgres.sh start)" ;;
  *) die "usage: $0 start|env|stop" ;;
esac
