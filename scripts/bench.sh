#!/usr/bin/env bash
# The benchmark suite (fathom-bench): builds the release binaries, checks the bench schema, runs
# every workload against Fathom and the bare axum + rusqlite baseline, writes
# target/bench/results.json (and results.md), then redraws docs/bench-chart.svg and the
# generated figures in docs/BENCHMARKS.md (between its fathom-bench markers).
#
# Extra arguments go to `fathom-bench suite`: --large seeds 1 000 000 records instead of
# 100 000, --duration N sets the seconds per workload and server (default 10), --w5-only runs
# the realtime workload alone, --subscribers 0,100,1000 and the --w5-* flags shape it, --only W7
# runs webhook and broker delivery alone (--w7-rate, --w7-endpoints; the broker phases need
# --w7-nats-url / --w7-amqp-url, or `source scripts/brokers.sh && brokers_start` first); see
# `target/release/fathom-bench suite --help`. A full run takes about ten minutes after the
# builds. It is never part of the test suite.
#
# The outbox's write cost: W1 also runs against a `fathom` built from `main` as it was before the
# outbox (the newest commit on main's first-parent line without crates/fathom-store/src/events.rs;
# FATHOM_BENCH_BEFORE=<commit> picks another), built once into target/bench/fathom-main (rebuilt
# when that commit changes; it is kept in target/bench/fathom-main.commit). It shares this
# checkout's target directory, so only the workspace's own crates are compiled again.
# FATHOM_BENCH_NO_MAIN=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

# W5 holds 10 000 realtime connections: one descriptor each in fathom-bench and in the server
# (which inherits this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "==> open files limit: $(ulimit -n)"

main_args=()
if [[ -z "${FATHOM_BENCH_NO_MAIN:-}" ]]; then
  main_bin=target/bench/fathom-main
  main_commit=${FATHOM_BENCH_BEFORE:-}
  if [[ -z $main_commit ]]; then
    for commit in $(git rev-list --first-parent main); do
      if ! git cat-file -e "$commit:crates/fathom-store/src/events.rs" 2>/dev/null; then
        main_commit=$commit
        break
      fi
    done
  fi
  main_commit=$(git rev-parse "$main_commit")
  if [[ ! -x $main_bin || "$(cat "$main_bin.commit" 2>/dev/null)" != "$main_commit" ]]; then
    echo "==> cargo build --release -p fathom from $main_commit (main before the outbox) into $main_bin"
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    git archive "$main_commit" | tar -x -C "$src"
    # Cargo names a workspace crate's artifacts and records its sources relative to the
    # workspace root, so the two checkouts' crates share file names in one target directory:
    # sources touched now are newer than any artifact, so each build compiles its own crates.
    find "$src/crates" -name '*.rs' -exec touch {} +
    CARGO_TARGET_DIR="$PWD/target" cargo build --release -p fathom --manifest-path "$src/Cargo.toml"
    mkdir -p target/bench
    cp target/release/fathom "$main_bin"
    echo "$main_commit" > "$main_bin.commit"
    find crates -name '*.rs' -exec touch {} +
  fi
  main_args=(--fathom-main-bin "$main_bin")
fi

# After main's build, so that target/release/fathom is this checkout's.
echo "==> cargo build --release -p fathom -p fathom-bench"
cargo build --release -p fathom -p fathom-bench

echo "==> fathom schema check (the bench schema)"
target/release/fathom schema check --schema crates/fathom-bench/schema.toml

echo "==> fathom-bench suite $*"
target/release/fathom-bench suite --fathom-bin target/release/fathom \
  --out target/bench/results.json "${main_args[@]}" "$@"

echo "==> chart and figures"
target/release/fathom-bench chart --results target/bench/results.json --out docs/bench-chart.svg
target/release/fathom-bench docs --results target/bench/results.json --doc docs/BENCHMARKS.md
