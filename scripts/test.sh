#!/usr/bin/env bash
# The whole test suite, as a new user and CI run it: formatting, lints, then every test.
# It installs what the tests need when missing (today: cargo-nextest; PostgreSQL joins with the
# PostgreSQL backend) and stops anything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "==> cargo nextest run"
cargo nextest run --workspace --no-fail-fast
