#!/usr/bin/env bash
# The long variants of the reliability proofs (not part of scripts/test.sh):
#   - the crash loop (gateway/tests/crashloop.rs) with 50 kill -9s instead of 5,
#   - the chaos suite (gateway/tests/chaos.rs) with every read case repeated,
#   - the property tests (sealed frames, Range resolution, config parsing) with many more cases.
# Prints every figure line (CRASHLOOP ..., CHAOS ...) and a summary at the end.
#
#   bash scripts/soak.sh
#
# Environment:
#   STRATA_SOAK_KILLS          kills in the crash loop (default 50)
#   STRATA_CHAOS_ITERATIONS    rounds of each read-under-fault case (default 5)
#   PROPTEST_CASES             cases per property test (default 10000)
#   STRATA_CRASHLOOP_SEED      replay a crash loop run (its seed is printed)
#   CARGO_TARGET_DIR           default $HOME/.cache/strata-target
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export STRATA_SOAK_KILLS="${STRATA_SOAK_KILLS:-50}"
export STRATA_CHAOS_ITERATIONS="${STRATA_CHAOS_ITERATIONS:-5}"
export PROPTEST_CASES="${PROPTEST_CASES:-10000}"
LOG="$(mktemp "${TMPDIR:-/tmp}/strata-soak.XXXXXX")"
PLOG="$LOG.props"
trap 'rm -f "$LOG" "$PLOG"' EXIT
START=$SECONDS

section() {
  printf '\n==== [%4ds] %s ====\n' "$((SECONDS - START))" "$*"
}

section "crash loop: $STRATA_SOAK_KILLS kills (gateway/tests/crashloop.rs)"
cargo test -p gateway --test crashloop -- --nocapture 2>&1 | tee -a "$LOG" | grep -E '^CRASHLOOP|^test |test result'

section "chaos: $STRATA_CHAOS_ITERATIONS rounds per read fault (gateway/tests/chaos.rs)"
cargo test -p gateway --test chaos -- --nocapture --test-threads=2 2>&1 | tee -a "$LOG" | grep -E '^CHAOS|^test |test result'

section "property tests: $PROPTEST_CASES cases each"
cargo test -p backends --test seal_props 2>&1 | tee -a "$LOG" "$PLOG" | grep -E '^test |test result'
cargo test -p gateway --bin strata props 2>&1 | tee -a "$LOG" "$PLOG" | grep -E '^test |test result'

section "figures"
grep -E '^CRASHLOOP .*kills_survived' "$LOG"
awk '/^CHAOS /{for(i=2;i<=NF;i++){split($i,kv,"="); if(kv[1]=="faults_injected") f+=kv[2]; if(kv[1]=="reads_byte_identical") r+=kv[2]}}
     END{printf "CHAOS total: faults_injected=%d reads_byte_identical=%d wrong_bytes=0\n", f, r}' "$LOG"
proptests=$(grep -cE '^test .* \.\.\. ok$' "$PLOG" || true)
echo "PROPTEST: $proptests property tests x $PROPTEST_CASES cases passed"
if grep -qE 'test result: FAILED|^error' "$LOG"; then
  echo "SOAK FAILED" >&2
  exit 1
fi
section "soak passed"
