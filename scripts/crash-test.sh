#!/usr/bin/env bash
# Crash durability, at length: the release `fathom serve` under concurrent creates, conditional
# updates and batches, killed with SIGKILL at random moments and restarted on the same data,
# CYCLES times (default 300); every acknowledged write must survive intact, and the database must
# pass its integrity check. The test suite runs the same harness for 3 cycles
# (crates/fathom/tests/it/safe_writes/crash.rs); figures go into docs/RELIABILITY.md.
#
#   scripts/crash-test.sh [CYCLES]            # SQLite (the default backend)
#   FATHOM_TEST_BACKEND=postgres FATHOM_TEST_PG_URL=... scripts/crash-test.sh 100
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-300}"
echo "==> crash test: $cycles SIGKILL cycles against the release build (${FATHOM_TEST_BACKEND:-sqlite})"
started=$(date +%s)
FATHOM_CRASH_CYCLES="$cycles" nice -n 19 cargo nextest run --release -p fathom --test it \
  --no-capture -E 'test(acknowledged_writes_survive_sigkill)'
echo "==> $cycles cycles passed in $(( $(date +%s) - started )) s: no acknowledged write lost, integrity_check ok"
