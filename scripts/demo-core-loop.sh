#!/usr/bin/env bash
# `npm run demo:core-loop`: the operator's core loop, at curl level, against a
# freshly started `plfm server` (issue 3's acceptance). Bootstrap a token with
# `plfm server mint-token`, enroll a node, create org/app/env, release, deploy,
# scale, route (replaying Idempotency-Keys), list instances, print projection
# checkpoints. Every step prints one line; any unexpected status stops the
# script with the response body and a non-zero exit.
#
# Database: if PLFM_TEST_DATABASE_URL or DATABASE_URL names a Postgres server,
# a fresh database is created on it (and dropped at exit); otherwise the server
# runs its embedded Postgres in a temporary working directory.
# Needs: bash, curl, jq, node; psql only in the DATABASE_URL case.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Resolved from the repo, so the CLI runs from any working directory (the embedded Postgres lives under the cwd).
TSX="$(cd "$ROOT" && node --input-type=module -e 'console.log(import.meta.resolve("tsx"))')"
PLFM=(node --import "$TSX" "$ROOT/packages/cli/src/main.ts")

ok() { printf '\xe2\x9c\x94 %s\n' "$*"; }
die() {
  printf '\xe2\x9c\x98 %s\n' "$*" >&2
  exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/plfm-demo-XXXXXX")"
# As root, the embedded Postgres runs as `postgres`, which must be able to enter the directory.
chmod 755 "$WORK"
SERVER_PID=""
DB_ADMIN_URL=""
DB_NAME=""

cleanup() {
  local code=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # The server stops its embedded Postgres on SIGTERM; give it time before forcing.
    for _ in $(seq 1 150); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "$DB_NAME" ]]; then
    psql "$DB_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" \
      >/dev/null 2>&1 || echo "warning: could not drop database $DB_NAME" >&2
  fi
  if [[ $code -ne 0 && -f "$WORK/server.log" ]]; then
    echo "--- last server log lines ---" >&2
    tail -n 20 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v jq >/dev/null || die "jq is required"
command -v curl >/dev/null || die "curl is required"

# --- a fresh server -------------------------------------------------------
export PLFM_OPERATOR_EMAILS=ops@example.com
PLFM_SECRETS_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
export PLFM_SECRETS_MASTER_KEY
unset PLFM_DEV

ADMIN_URL="${PLFM_TEST_DATABASE_URL:-${DATABASE_URL:-}}"
if [[ -n "$ADMIN_URL" ]]; then
  command -v psql >/dev/null || die "psql is required when DATABASE_URL is set"
  DB_ADMIN_URL="$ADMIN_URL"
  DB_NAME="plfm_demo_$(date +%s)_$$"
  psql "$DB_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
  # Same server and credentials, another database name.
  DATABASE_URL="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' \
    "$DB_ADMIN_URL" "$DB_NAME")"
  export DATABASE_URL
  ok "created database $DB_NAME"
else
  unset DATABASE_URL
  ok "no DATABASE_URL: using an embedded Postgres in $WORK/.plfm/pg"
fi

PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
BASE="http://127.0.0.1:$PORT"
(cd "$WORK" && PLFM_LISTEN_ADDR="127.0.0.1:$PORT" PLFM_LOG_LEVEL=warn exec "${PLFM[@]}" server) \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
  kill -0 "$SERVER_PID" 2>/dev/null || die "plfm server exited before it was ready: $(cat "$WORK/server.log")"
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]] && break
  sleep 0.1
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]] || die "server not ready within 60 s"
ok "plfm server ready at $BASE (pid $SERVER_PID)"

# --- helpers --------------------------------------------------------------
TOKEN=""
# api METHOD PATH [BODY] [IDEMPOTENCY_KEY] [EXPECTED_STATUS…]: sets STATUS, BODY, REPLAYED; fails
# unless the status is one of the expected ones (default: any 2xx).
STATUS=""
BODY=""
REPLAYED=""
api() {
  local method=$1 path=$2 body=${3:-} key=${4:-}
  shift $(($# < 4 ? $# : 4))
  local args=(-sS -X "$method" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}')
  [[ -n "$TOKEN" ]] && args+=(-H "Authorization: Bearer $TOKEN")
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  [[ -n "$key" ]] && args+=(-H "Idempotency-Key: $key")
  STATUS="$(curl "${args[@]}" "$BASE$path")"
  BODY="$(cat "$WORK/body")"
  REPLAYED="$(tr -d '\r' <"$WORK/headers" | awk -F': *' 'tolower($1) == "idempotency-replayed" { print $2 }')"
  local want
  if [[ $# -eq 0 ]]; then
    [[ "$STATUS" == 2?? ]] && return 0
  else
    for want in "$@"; do [[ "$STATUS" == "$want" ]] && return 0; done
  fi
  die "$method $path answered $STATUS (expected ${*:-2xx}): $BODY"
}
# field JQ_FILTER: a field of the last response body (fails if absent).
field() { jq -er "$1" <<<"$BODY" || die "no $1 in: $BODY"; }

# twice METHOD PATH BODY ID_FIELD: sends the request, then again with the same
# Idempotency-Key; the replay must say so and carry the same id. Sets ID.
ID=""
twice() {
  local method=$1 path=$2 body=$3 id_field=$4
  local key="demo-$(node -e 'console.log(require("crypto").randomUUID())')"
  api "$method" "$path" "$body" "$key" 201
  ID="$(field ".$id_field")"
  [[ "$REPLAYED" != "true" ]] || die "the first $method $path was marked as a replay"
  api "$method" "$path" "$body" "$key" 201
  [[ "$REPLAYED" == "true" ]] || die "the replay of $method $path lacked Idempotency-Replayed: true"
  [[ "$(field ".$id_field")" == "$ID" ]] || die "the replay of $method $path answered another id: $BODY"
}

# --- bootstrap ------------------------------------------------------------
MINTED="$(cd "$WORK" && "${PLFM[@]}" server mint-token --email ops@example.com --json)"
TOKEN="$(jq -er .access_token <<<"$MINTED")"
api GET /v1/auth/whoami
jq -e '.scopes | index("nodes:admin")' >/dev/null <<<"$BODY" || die "the minted token lacks nodes:admin: $BODY"
ok "minted an operator token for $(field .email) (nodes:admin)"

# --- fleet ----------------------------------------------------------------
api POST /v1/nodes/enrollment-tokens '{"ttl_seconds": 600}' "" 201
ENROLL_TOKEN="$(field .enrollment_token)"
ok "created an enrollment token ($(field .token_id))"

WG_KEY="$(head -c 32 /dev/urandom | base64)"
SAVED_TOKEN=$TOKEN
TOKEN=""
api POST /v1/nodes/enroll "$(jq -nc --arg t "$ENROLL_TOKEN" --arg k "$WG_KEY" '{
  enrollment_token: $t, hostname: "worker-1", agent_version: "0.1.0", supported_api_versions: ["v1"],
  roles: ["worker"], public_ipv6: "2001:db8::10", wireguard_public_key: $k, labels: {arch: "amd64"},
  capacity: {cpu_cores: 4, memory_bytes: 8589934592, disk_bytes: 107374182400}}')" "" 201
NODE_ID="$(field .node_id)"
NODE_CRED="$(field .node_credential)"
ok "enrolled node worker-1 ($NODE_ID, overlay $(field .overlay_ipv6))"

TOKEN=$NODE_CRED
api POST "/v1/nodes/$NODE_ID/heartbeat" '{"agent_version": "0.1.0", "instance_count": 0}' "" 200
ok "heartbeat from $NODE_ID: node is $(field .node_state), next in $(field .next_heartbeat_seconds) s"
TOKEN=$SAVED_TOKEN

# --- tenancy and apps -----------------------------------------------------
twice POST /v1/orgs '{"name": "acme"}' org_id
ORG=$ID
ok "created org acme ($ORG); the replay answered the same org (Idempotency-Replayed: true)"

api POST "/v1/orgs/$ORG/apps" '{"name": "shop"}' "" 201
APP="$(field .app_id)"
ok "created app shop ($APP)"

api POST "/v1/orgs/$ORG/apps/$APP/envs" '{"name": "prod"}' "" 201
ENV_ID="$(field .env_id)"
E="/v1/orgs/$ORG/apps/$APP/envs/$ENV_ID"
ok "created env prod ($ENV_ID)"

MANIFEST='schema_version = "v1"
[image]
ref = "registry.example.com/shop:1"
[processes.web]
resources = { memory = "256Mi" }
ports = [{ internal = 8080 }]
[processes.worker]
resources = { memory = "128Mi" }
scaling = { min = 2, max = 4 }
'
api POST "/v1/orgs/$ORG/apps/$APP/releases" "$(jq -nc --arg m "$MANIFEST" '{
  image_ref: "registry.example.com/shop:1",
  index_or_manifest_digest: ("sha256:" + ("a" * 64)),
  resolved_digests: [{os: "linux", arch: "amd64", digest: ("sha256:" + ("b" * 64))}],
  command: ["/bin/server", "--port", "8080"], manifest: $m}')" "" 201
RELEASE="$(field .release_id)"
ok "created release $RELEASE (registry.example.com/shop:1; processes web, worker)"

twice POST "$E/deploys" "$(jq -nc --arg r "$RELEASE" '{release_id: $r}')" deploy_id
ok "deployed $RELEASE to prod ($ID, $(field .status)); the replay answered the same deploy"

api GET "$E/scale" "" "" 200
SCALE_VERSION="$(field .resource_version)"
api PUT "$E/scale" "$(jq -nc --argjson v "$SCALE_VERSION" \
  '{processes: [{process_type: "web", desired: 2}], expected_version: $v}')" "" 200
ok "scaled web to 2 ($(jq -r '[.processes[] | "\(.process_type)=\(.desired)"] | join(", ")' <<<"$BODY"); version $SCALE_VERSION -> $(field .resource_version))"

twice POST "$E/routes" '{"hostname": "shop.example.com", "listen_port": 443, "protocol_hint": "tls_passthrough",
  "backend_process_type": "web", "backend_port": 8080}' route_id
ok "created route shop.example.com:443 -> web:8080 ($ID); the replay answered the same route"

# --- reads ----------------------------------------------------------------
api GET "$E/instances" "" "" 200
COUNT="$(jq -er '.items | length' <<<"$BODY")"
ok "listed instances: $COUNT"
if [[ "$COUNT" == 0 ]]; then
  echo "  (0 is expected: no scheduler places instances yet)"
fi

api GET /v1/_debug/projections "" "" 200
ok "projection checkpoints:"
jq -r '.items[] | "  \(.name)\t\(.position)\tlag \(.lag_events)\(if .registered then "" else "\t(not registered)" end)"' \
  <<<"$BODY" | column -t -s $'\t'

ok "core loop done"
