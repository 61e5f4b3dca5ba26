#!/usr/bin/env bash
# OpenAPI conformance: Schemathesis (a property-based tester, from PyPI) generates requests from
# the document a `fathom serve --demo` server publishes and holds every answer to it, three
# times: anonymous, as an ordinary user and as an administrator. Any failure fails the script.
#
# Checks: all of Schemathesis's (`--checks all`): not_a_server_error, status_code_conformance,
# content_type_conformance, response_headers_conformance, response_schema_conformance,
# positive_data_acceptance, negative_data_rejection, missing_required_header,
# unsupported_method, ignored_auth and the rest; scripts/schemathesis.toml lists the few
# requests the document calls valid that the server may refuse for reasons JSON Schema cannot
# state, each with why.
#
# Usage: scripts/openapi-conformance.sh [path/to/fathom]   (default: builds target/debug/fathom)
# Environment: CONFORMANCE_EXAMPLES (cases per operation and phase, default 8),
#              CONFORMANCE_SEED (reproduce a run; the seed is printed either way).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=target/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

fathom=${1:-}
if [ -z "$fathom" ]; then
  # The features of scripts/test.sh's other cargo runs, so this build reuses theirs.
  cargo build --quiet -p fathom --bin fathom ${FATHOM_CARGO_FEATURES:+--features "$FATHOM_CARGO_FEATURES"}
  fathom=target/debug/fathom
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# The auth endpoints' per-address limits would answer most generated requests with a
# (documented) 429 and test nothing else; each family's limit is switched off (0). The data
# API's limits stay on, so that their fields are checked against the document, with quotas no
# generated run can reach.
python3 - "$work/fathom.toml" <<'TOML'
import sys
tables = ["anonymous", "default", "api_keys", "roles.admin"]
classes = ["read", "write", "auth", "admin", "realtime"]
with open(sys.argv[1], "w") as out:
    for table in tables:
        out.write(f"[rate_limits.{table}]\n")
        out.writelines(f'{c} = "1000000/min"\n' for c in classes)
    # Passkeys on, so that their routes answer as they do when configured (not 404).
    out.write('[auth.passkeys]\nrp_id = "localhost"\norigins = ["http://localhost:8090"]\n')
TOML
FATHOM_AUTH__RATE_LIMITS__LOGIN=0 FATHOM_AUTH__RATE_LIMITS__REGISTER=0 \
FATHOM_AUTH__RATE_LIMITS__VERIFY=0 FATHOM_AUTH__RATE_LIMITS__REFRESH=0 \
FATHOM_AUTH__RATE_LIMITS__PASSWORD_RESET=0 FATHOM_LOG__LEVEL=warn \
  "$fathom" serve --config "$work/fathom.toml" --demo --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

# POSTs a JSON body and prints `data.access_token` of the answer.
access_token() {
  curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' -d "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["access_token"])'
}
user_password="conformance user passphrase"
curl -fsS -o /dev/null -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"member@example.com\",\"password\":\"$user_password\"}"
user_token=$(access_token "{\"email\":\"member@example.com\",\"password\":\"$user_password\"}")
# The demo's administrator (demo data only; the password is in the demo schema's comment).
admin_token=$(access_token '{"email":"admin@example.com","password":"demo administrator passphrase"}')

seed=${CONFORMANCE_SEED:-$(python3 -c 'import random; print(random.getrandbits(64))')}
examples=${CONFORMANCE_EXAMPLES:-8}
status=0
# One worker: Hypothesis describes strategies with Python's `ast`, which fails at random when
# threads parse at once ("AST constructor recursion depth mismatch").
run() {
  local who=$1
  shift
  echo "==> schemathesis as $who (seed $seed)"
  "$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
    --checks all --phases examples,coverage,fuzzing --max-examples "$examples" --workers 1 \
    --seed "$seed" --no-shrink --warnings off "$@" || status=1
}
# The SSE stream never ends by itself, so no generated request to it could be answered in
# full; and the WebSocket endpoint switches protocols (101) or refuses plain HTTP (426), which no
# generated HTTP request can exercise. The integration suite (tests/it/realtime, and
# tests/it/openapi.rs for the documented answers) drives both instead.
streams=(--exclude-operation-id realtimeStream --exclude-operation-id realtimeWebSocket)
run anonymous "${streams[@]}"
# Signing out would end the very session the rest of the run uses; `ignored_auth` and the
# anonymous run still cover these operations.
signed_in=(--exclude-operation-id authLogout "${streams[@]}")
run "an ordinary user" -H "Authorization: Bearer $user_token" "${signed_in[@]}"
run "an administrator" -H "Authorization: Bearer $admin_token" "${signed_in[@]}"

if [ "$status" != 0 ]; then
  echo "==> OpenAPI conformance FAILED (reproduce with CONFORMANCE_SEED=$seed)" >&2
  exit 1
fi
echo "==> OpenAPI conformance: no failures (seed $seed)"
