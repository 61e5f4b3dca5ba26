#!/usr/bin/env bash
# The benchmark suite (fathom-bench): builds the release binaries, checks the bench schema, runs
# every workload against Fathom and the bare axum + rusqlite baseline, writes
# target/bench/results.json (and results.md), then redraws docs/bench-chart.svg and the
# generated figures in docs/BENCHMARKS.md (between its fathom-bench markers).
#
# Extra arguments go to `fathom-bench suite`: --large seeds 1 000 000 records instead of
# 100 000, --duration N sets the seconds per workload and server (default 10); see
# `target/release/fathom-bench suite --help`. A full run takes about five minutes after the
# build. It is never part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo build --release -p fathom -p fathom-bench"
cargo build --release -p fathom -p fathom-bench

echo "==> fathom schema check (the bench schema)"
target/release/fathom schema check --schema crates/fathom-bench/schema.toml

echo "==> fathom-bench suite $*"
target/release/fathom-bench suite --fathom-bin target/release/fathom \
  --out target/bench/results.json "$@"

echo "==> chart and figures"
target/release/fathom-bench chart --results target/bench/results.json --out docs/bench-chart.svg
target/release/fathom-bench docs --results target/bench/results.json --doc docs/BENCHMARKS.md
