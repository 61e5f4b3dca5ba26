#!/usr/bin/env bash
# CPU instructions a get by id costs the server, counted by valgrind (callgrind), with and
# without a feature: a figure that does not move with whatever else the machine runs, unlike
# the throughput of fathom-bench's side-by-side runs (run both: instructions are not time).
#
#   scripts/instructions-per-read.sh [READS] [VARIANT...]
#
# VARIANT is one of: off (the bench's settings: metrics and rate limits off), metrics,
# shapes-off (the same with the architect's query-shape recording off: `off` records them),
# rate-limits, encrypted (the bench schema with `title` and `team` encrypted, `team`
# blind-indexed, under an AES-256-GCM-SIV key), encrypted-xchacha (the same under an
# XChaCha20-Poly1305 key), traces (OpenTelemetry spans of every request exported over OTLP to
# a local sink; the binary must be built with `--features otel`). Default: all four, 2000 reads each. For each variant it starts the release
# `fathom` under callgrind on a fresh data directory, creates one record, reads it once to warm
# up, counts, reads it READS times over one keep-alive connection, counts again, and prints the
# difference divided by READS. With READ=list each read is W3's page instead (a filtered page of
# 20 sorted by -created_at) over 20 records; with READ=create each is W1's create (a POST of one
# item); with READ=get-many each is a get by id of a random one of MANY records (default 5,000),
# as W2 reads. BIN=path counts another binary (default
# target/release/fathom). Needs the binary, valgrind and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

reads=${1:-2000}
shift || true
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(off metrics rate-limits encrypted)
sink_pid=
bin=$(realpath "${BIN:-target/release/fathom}")
schema_src=crates/fathom-bench/schema.toml

free_port() {
  local port
  for port in $(shuf -i 20000-32000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

# Callgrind's running total of instructions, dumped on request (`callgrind_control -d`).
total_instructions() {
  local dir=$1 pid=$2
  callgrind_control -d "$pid" >/dev/null 2>&1
  sleep 1
  # The newest dump's `summary:` (or `totals:`) line holds the instructions since the last dump.
  local file
  file=$(ls -t "$dir"/callgrind.out.* | head -n 1)
  awk '/^(summary|totals):/ {print $2; exit}' "$file"
}

measure() {
  local variant=$1
  local dir env=() schema
  dir=$(mktemp -d /tmp/fathom-ipr.XXXXXX)
  schema="$dir/schema.toml"
  cp "$schema_src" "$schema"
  env=(FATHOM_RATE_LIMITS__ENABLED=false FATHOM_LOG__FORMAT=json FATHOM_DATABASE__DURABILITY=full)
  case $variant in
    off) ;;
    metrics) env+=(FATHOM_METRICS__LISTEN=127.0.0.1:0) ;;
    shapes-off) env+=(FATHOM_ARCHITECT__RECORD_SHAPES=false) ;;
    rate-limits) env+=(FATHOM_RATE_LIMITS__ENABLED=true FATHOM_RATE_LIMITS__ROLES__ADMIN__READ=1000000000/hour) ;;
    encrypted | encrypted-xchacha)
      sed -i -e 's/\(fields.title *= {.*max_length = 200\) }/\1, encrypted = true }/' \
        -e 's/\(fields.team *= {.*max_length = 40\) }/\1, encrypted = true, blind_index = true }/' "$schema"
      grep -q 'blind_index = true' "$schema" || { echo "could not encrypt the bench schema" >&2; exit 1; }
      (cd "$dir" && "$bin" keys new-data-key --file "$dir/keys" --id ipr >/dev/null)
      # A key line that names no AEAD is an XChaCha20-Poly1305 key (key files from before).
      [[ $variant == encrypted ]] || sed -i 's/ aes-256-gcm-siv$//' "$dir/keys"
      env+=(FATHOM_ENCRYPTION__KEY_FILE="$dir/keys")
      ;;
    traces)
      # A sink that accepts every OTLP export (the binary must be built with --features otel).
      local sink_port
      sink_port=$(free_port)
      python3 -c '
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
' "$sink_port" &
      sink_pid=$!
      env+=(FATHOM_OTEL__ENDPOINT="http://127.0.0.1:$sink_port/v1/traces" FATHOM_OTEL__SAMPLING_RATIO=1.0)
      ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  (cd "$dir" && env "${env[@]}" FATHOM_ADMIN_PASSWORD='instructions per read' \
    "$bin" users create-admin --email admin@ipr.local --schema "$schema" --data-dir "$dir/data" >/dev/null)
  local port
  port=$(free_port)
  (cd "$dir" && exec env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out.%p" \
    "$bin" serve --schema "$schema" --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1) &
  local launcher=$!
  local base="http://127.0.0.1:$port" i
  for i in $(seq 1 600); do
    curl -sf "$base/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  local pid
  pid=$(pgrep -f "callgrind-out-file=$dir/" | head -n 1)
  local token id
  token=$(curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"admin@ipr.local","password":"instructions per read"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])')
  id=$(curl -sf "$base/api/v1/items" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"title":"a title of about thirty chars","status":"open","team":"platform","priority":3,"owner":"00000000-0000-7000-8000-000000000001"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
  local config="$dir/reads.curl" url="$base/api/v1/items/$id"
  if [[ ${READ:-get} == list ]]; then
    for i in $(seq 2 20); do
      curl -sf "$base/api/v1/items" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        -d "{\"title\":\"title $i\",\"status\":\"open\",\"team\":\"platform\",\"priority\":$((i % 5 + 1)),\"owner\":\"00000000-0000-7000-8000-000000000001\"}" >/dev/null
    done
    url="$base/api/v1/items?filter=status+%3D+%22open%22+%26%26+priority+%3E%3D+3&sort=-created_at&limit=20"
  fi
  local write=()
  if [[ ${READ:-get} == create ]]; then
    url="$base/api/v1/items"
    write=(-H 'content-type: application/json'
      -d '{"title":"a title of about thirty chars","status":"open","team":"platform","priority":3,"owner":"00000000-0000-7000-8000-000000000001"}')
  fi
  if [[ ${READ:-get} == get-many ]]; then
    # W2 as the bench reads: random records of MANY (default 5,000), seeded 100 a batch.
    python3 - "$base" "$token" "${MANY:-5000}" "$reads" "$config" <<'PY'
import json, random, sys, urllib.request
base, token, many, reads, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
statuses = ["open", "triaged", "in_progress", "blocked", "done"]
ids = []
for start in range(0, many, 100):
    ops = [{"op": "create", "collection": "items", "body": {"title": f"item {n}", "status": statuses[n % 5],
            "team": f"team-{n % 40}", "priority": n % 10, "owner": "00000000-0000-7000-8000-000000000001"}}
           for n in range(start, min(many, start + 100))]
    request = urllib.request.Request(f"{base}/api/v1/batch", data=json.dumps({"operations": ops}).encode(),
        headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    ids += [d["id"] for d in json.load(urllib.request.urlopen(request, timeout=600))["data"]]
random.seed(7)
with open(config, "w") as f:
    for _ in range(reads):
        f.write(f'url = "{base}/api/v1/items/{random.choice(ids)}"\noutput = "/dev/null"\n')
PY
  else
    for i in $(seq 1 "$reads"); do
      printf 'url = "%s"\noutput = "/dev/null"\n' "$url"
    done >"$config"
  fi
  curl -sf -H "authorization: Bearer $token" "${write[@]}" "$url" >/dev/null
  local before after
  before=$(total_instructions "$dir" "$pid")
  curl -sf -H "authorization: Bearer $token" "${write[@]}" -K "$config"
  after=$(total_instructions "$dir" "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
  if [[ -n ${sink_pid:-} ]]; then kill "$sink_pid" 2>/dev/null || true; sink_pid=; fi
  # Each dump restarts the count: `after` is the reads' own total.
  echo "$variant (${READ:-get}): $((after / reads)) instructions per read ($reads reads, $after in all; warm-up dump $before)"
  if [[ -n ${KEEP:-} ]]; then echo "  kept $dir"; else rm -rf "$dir"; fi
}

for variant in "${variants[@]}"; do
  measure "$variant"
done
