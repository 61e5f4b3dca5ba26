#!/usr/bin/env bash
# A throwaway Redis for tests and benchmarks: one redis-server on a free port below 32768 (see
# pg-cluster.sh for why), without persistence, with its directory in a temporary folder.
#
#   source scripts/redis.sh && redis_start   # sets FATHOM_TEST_REDIS_URL
#   redis_stop                                # stops it and deletes its directory
#
# redis_install installs Debian's package when it is missing (as root). The tests of Redis
# going away mid-run start private instances of their own with the same recipe
# (crates/fathom/tests/it/postgres/shared_limits.rs).

redis_install() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing redis-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
}

redis_start() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis: redis-server is not installed (redis_install, as root)" >&2
    return 1
  fi
  REDIS_DIR="$(mktemp -d /tmp/fathom-redis.XXXXXX)"
  export REDIS_DIR
  local port i
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  done
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$REDIS_DIR" \
    >"$REDIS_DIR/redis.log" 2>&1 &
  echo $! >"$REDIS_DIR/redis.pid"
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export FATHOM_TEST_REDIS_URL="redis://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "redis: redis-server did not start; its log:" >&2
  cat "$REDIS_DIR/redis.log" >&2
  return 1
}

redis_stop() {
  if [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/redis.pid" ]; then
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
    rm -rf "$REDIS_DIR"
  fi
}
