#!/usr/bin/env bash
# Throwaway message brokers for tests and benchmarks: one nats-server with JetStream and one
# RabbitMQ node, each on free ports below 32768 (see pg-cluster.sh for why), with their data in
# a temporary directory.
#
#   source scripts/brokers.sh && brokers_start   # sets FATHOM_TEST_NATS_URL, FATHOM_TEST_AMQP_URL
#   brokers_stop                                  # stops both and deletes their directory
#
# brokers_install installs the Debian packages when they are missing (as root). The broker
# tests also start private instances of their own (to stop and restart them mid-stream) with
# the same recipe: crates/fathom/tests/it/brokers/support.rs.

brokers_free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

brokers_install() {
  if command -v nats-server >/dev/null 2>&1 && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing nats-server and rabbitmq-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server rabbitmq-server >/dev/null
  fi
}

# Waits until something accepts connections on 127.0.0.1:$1, for at most $2 seconds.
brokers_wait_port() {
  local i
  for i in $(seq 1 $(($2 * 5))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

brokers_start() {
  if ! command -v nats-server >/dev/null 2>&1 || [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    echo "brokers: nats-server or rabbitmq-server is not installed (brokers_install, as root)" >&2
    return 1
  fi
  BROKERS_DIR="$(mktemp -d /tmp/fathom-brokers.XXXXXX)"
  export BROKERS_DIR

  local nats_port
  nats_port="$(brokers_free_port)"
  nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$BROKERS_DIR/nats" \
    >"$BROKERS_DIR/nats.log" 2>&1 &
  echo $! >"$BROKERS_DIR/nats.pid"

  # RabbitMQ runs as ourselves with everything it writes (the Erlang cookie in HOME, mnesia,
  # logs) in the temporary directory, no plugins and no configuration file.
  local amqp_port dist_port
  amqp_port="$(brokers_free_port)"
  dist_port="$(brokers_free_port)"
  mkdir -p "$BROKERS_DIR/rabbitmq"
  echo '[].' >"$BROKERS_DIR/rabbitmq/plugins"
  (
    cd "$BROKERS_DIR/rabbitmq" || exit 1
    export HOME="$BROKERS_DIR/rabbitmq" \
      RABBITMQ_NODENAME="fathom-test-$amqp_port@localhost" \
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" \
      RABBITMQ_DIST_PORT="$dist_port" \
      RABBITMQ_MNESIA_BASE="$BROKERS_DIR/rabbitmq/mnesia" \
      RABBITMQ_LOG_BASE="$BROKERS_DIR/rabbitmq/log" \
      RABBITMQ_PID_FILE="$BROKERS_DIR/rabbitmq/pid" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$BROKERS_DIR/rabbitmq/plugins" \
      RABBITMQ_CONFIG_FILES="$BROKERS_DIR/rabbitmq/none"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server >"$BROKERS_DIR/rabbitmq.log" 2>&1
  ) &
  echo $! >"$BROKERS_DIR/rabbitmq.pid"

  if ! brokers_wait_port "$nats_port" 20; then
    cat "$BROKERS_DIR/nats.log" >&2
    return 1
  fi
  # RabbitMQ takes seconds (tens on a loaded machine): it listens once the broker has booted.
  if ! brokers_wait_port "$amqp_port" 120; then
    cat "$BROKERS_DIR/rabbitmq.log" >&2
    return 1
  fi
  export FATHOM_TEST_NATS_URL="nats://127.0.0.1:$nats_port"
  export FATHOM_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$amqp_port/%2f"
  echo "brokers: nats-server ($(nats-server --version)) on 127.0.0.1:$nats_port, RabbitMQ on 127.0.0.1:$amqp_port, data in $BROKERS_DIR"
}

brokers_stop() {
  if [ -n "${BROKERS_DIR:-}" ] && [ -d "$BROKERS_DIR" ]; then
    local name pid
    for name in nats rabbitmq; do
      if [ -f "$BROKERS_DIR/$name.pid" ]; then
        pid="$(cat "$BROKERS_DIR/$name.pid")"
        # The RabbitMQ wrapper script's child is the Erlang VM: stop it first.
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
      fi
    done
    sleep 1
    rm -rf "$BROKERS_DIR"
  fi
}
