#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks.
#
#   source scripts/pg-cluster.sh && pg_cluster_start   # sets FATHOM_TEST_PG_URL, PG_CLUSTER_DIR
#   pg_cluster_stop                                     # stops it and deletes its directory
#
# The cluster lives in a temporary directory owned by the `postgres` user (PostgreSQL refuses to
# run as root), listens on 127.0.0.1 on a free port below 32768 (the kernel's ephemeral range
# starts there, and a TIME-WAIT socket can hold a port in it), trusts local connections and
# trades durability for speed (fsync off): it holds nothing worth keeping.

pg_bin_dir() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then echo "$dir"; fi
  done | sort -V | tail -n 1
}

# Runs a command as the postgres user when we are root, as ourselves otherwise.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

pg_cluster_start() {
  local bin
  bin="$(pg_bin_dir)"
  if [ -z "$bin" ]; then
    echo "pg-cluster: no PostgreSQL server binaries found (install the postgresql package)" >&2
    return 1
  fi
  PG_CLUSTER_DIR="$(mktemp -d /tmp/fathom-pg.XXXXXX)"
  chmod 755 "$PG_CLUSTER_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_CLUSTER_DIR"; fi
  PG_CLUSTER_PORT="$(pg_free_port)"
  pg_as_owner "$bin/initdb" -D "$PG_CLUSTER_DIR/data" -A trust -U postgres --no-sync \
    -E UTF8 --locale=C >"$PG_CLUSTER_DIR/initdb.log" 2>&1 || {
    cat "$PG_CLUSTER_DIR/initdb.log" >&2
    return 1
  }
  pg_as_owner "$bin/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/server.log" -w start \
    -o "-p $PG_CLUSTER_PORT -k $PG_CLUSTER_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    >/dev/null || {
    cat "$PG_CLUSTER_DIR/server.log" >&2
    return 1
  }
  PG_CLUSTER_BIN="$bin"
  export PG_CLUSTER_DIR PG_CLUSTER_PORT PG_CLUSTER_BIN
  export FATHOM_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_CLUSTER_PORT/postgres"
  echo "pg-cluster: PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$PG_CLUSTER_PORT, data in $PG_CLUSTER_DIR"
}

pg_cluster_stop() {
  if [ -n "${PG_CLUSTER_DIR:-}" ] && [ -d "$PG_CLUSTER_DIR/data" ]; then
    pg_as_owner "$PG_CLUSTER_BIN/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_CLUSTER_DIR"
  fi
}
