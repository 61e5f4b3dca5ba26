#!/usr/bin/env bash
# The whole test suite, as a new user and CI run it: formatting, lints, then every test on SQLite,
# the OpenAPI conformance run (scripts/openapi-conformance.sh), then the integration suite and the
# store suites again on PostgreSQL (one suite, two databases).
#
# It installs what the tests need when missing (cargo-nextest; libssl-dev and pkg-config; PostgreSQL, nats-server,
# rabbitmq-server and redis-server, as root), starts a throwaway PostgreSQL cluster (initdb into
# a temporary directory, a free port below 32768, run as the postgres user), one nats-server and
# one RabbitMQ node (scripts/brokers.sh) and one redis-server (scripts/redis.sh), and stops them
# on exit. Without PostgreSQL (and no way to install it) the
# PostgreSQL half is skipped with a loud banner; in CI (CI=true) that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-cluster.sh

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# webauthn-rs (passkeys) links OpenSSL: its headers and pkg-config must be there to build.
if ! pkg-config --exists openssl 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing libssl-dev and pkg-config (OpenSSL for webauthn-rs)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config >/dev/null
fi

have_postgres() { [ -n "$(pg_bin_dir)" ]; }
if ! have_postgres && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing PostgreSQL"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The index advisor verifies candidates with hypothetical indexes (hypopg) where the server
# has the extension; the tests create it in their scratch databases (docs/ARCHITECT.md).
if have_postgres && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  pg_major="$(basename "$(dirname "$(pg_bin_dir)")")"
  if [ ! -f "/usr/share/postgresql/$pg_major/extension/hypopg.control" ]; then
    echo "==> installing postgresql-$pg_major-hypopg"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$pg_major-hypopg" >/dev/null || true
  fi
fi

postgres_ready=false
if have_postgres; then
  echo "==> starting a throwaway PostgreSQL cluster"
  trap pg_cluster_stop EXIT
  pg_cluster_start
  postgres_ready=true
fi

# The broker sinks' tests publish to a real nats-server (JetStream) and RabbitMQ: one of each,
# started once for the whole run (scripts/brokers.sh) and stopped on exit with the cluster.
source scripts/brokers.sh
brokers_install
echo "==> starting nats-server and RabbitMQ"
trap 'pg_cluster_stop; brokers_stop' EXIT
if ! brokers_start; then
  echo "brokers: could not start nats-server and RabbitMQ; the broker tests will fail" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi

# The shared rate limits' tests count in a real Redis (scripts/redis.sh), stopped on exit too.
source scripts/redis.sh
redis_install
echo "==> starting redis-server"
trap 'pg_cluster_stop; brokers_stop; redis_stop' EXIT
if ! redis_start; then
  echo "redis: could not start redis-server; the shared rate-limit tests will fail" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
fi

# Every cargo invocation below builds with the same features, so that clippy, the SQLite pass,
# the OpenAPI conformance build and the PostgreSQL pass reuse one build (features unify per
# invocation; a different set would compile the fathom crate and its tests again). The default
# features are on; `fathom/otel` adds OpenTelemetry traces, whose tests
# (tests/it/observability/traces.rs) exist only with it.
export FATHOM_CARGO_FEATURES="fathom/otel"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --features "$FATHOM_CARGO_FEATURES" -- -D warnings

# Tests under `postgres::` in the integration suite and `postgres::tests` in the store need
# PostgreSQL itself (several nodes, an outage, row-level security); they run in the PostgreSQL
# pass only.
echo "==> cargo nextest run (SQLite)"
sqlite_status=0
FATHOM_TEST_BACKEND=sqlite cargo nextest run --workspace --no-fail-fast --features "$FATHOM_CARGO_FEATURES" \
  -E 'not (binary(it) & test(/^postgres::/)) & not test(/^postgres::tests::/)' || sqlite_status=$?

# The served OpenAPI document against the server itself: Schemathesis (installed from PyPI into
# target/ when missing) generates requests from it, anonymous, as a user and as an administrator.
echo "==> OpenAPI conformance (schemathesis)"
if ! python3 -m venv --help >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
conformance_status=0
scripts/openapi-conformance.sh || conformance_status=$?

postgres_status=0
if $postgres_ready; then
  echo "==> cargo nextest run (PostgreSQL): the integration suite and the store suites"
  FATHOM_TEST_BACKEND=postgres cargo nextest run --no-fail-fast --features "$FATHOM_CARGO_FEATURES" \
    -p fathom --test it \
    -p fathom-store --test contract --test identity --test differential --test events --test audit --test cursors --test shapes --lib \
    -p fathom-engine --test hooks --test access \
    -p commerce --test end_to_end --test shop \
    || postgres_status=$?
else
  cat >&2 <<'BANNER'

################################################################################
##                                                                            ##
##   POSTGRESQL HALF SKIPPED: no PostgreSQL server binaries were found and    ##
##   they could not be installed. Only SQLite was tested. Install them        ##
##   (apt-get install postgresql) and run scripts/test.sh again; CI does.     ##
##                                                                            ##
################################################################################

BANNER
  if [ "${CI:-}" = true ]; then
    echo "CI must test both databases" >&2
    exit 1
  fi
fi

if [ "$sqlite_status" != 0 ] || [ "$postgres_status" != 0 ] || [ "$conformance_status" != 0 ]; then
  echo "==> FAILED: SQLite run exit $sqlite_status, OpenAPI conformance exit $conformance_status, PostgreSQL run exit $postgres_status" >&2
  exit 1
fi
echo "==> all tests passed on SQLite$($postgres_ready && echo " and PostgreSQL")"
