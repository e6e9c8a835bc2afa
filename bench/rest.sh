#!/usr/bin/env bash
# The REST API benchmark: pulumi-auto-server (release build, embedded SQLite, the default)
# with N stacks and M stored engine events, under load from wrk at 64 connections on
# loopback: one page of the stack list, get stack, one page of an update's events (of a
# short update, and the first and a deep page of a long one). Prints wrk's req/s and
# p50/p99 latency per endpoint as a markdown table, the SQLite query plans of the queries
# those requests run, and the machine's load; writes all of it to bench/results/rest-SCALE.md.
#
#   bench/rest.sh            # 10,000 stacks, 1,000,000 events (200,000 in the long update)
#   bench/rest.sh --scale 10 # 10x: 100,000 stacks, 10,000,000 events (2,000,000 in one)
#   DURATION=20s bench/rest.sh
#
# Needs wrk (Debian: apt-get install -y wrk), curl, python3 and sqlite3. The data is seeded
# by bench/rest_seed.py with direct SQL inserts in the store's own shapes (see there). Not
# a test: nothing fails on speed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scale=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
duration=${DURATION:-15s}
conns=${CONNECTIONS:-64}
for tool in wrk curl python3 sqlite3; do
  command -v "$tool" >/dev/null || { echo "bench/rest.sh needs $tool" >&2; exit 1; }
done
stacks=$((10000 * scale))
events=$((1000000 * scale))
big=$((200000 * scale))

cargo build --release -p pulumi-auto-server >&2
server=${CARGO_TARGET_DIR:-$repo/target}/release/pulumi-auto-server
work=$(mktemp -d /tmp/pulumi-auto-rest-bench.XXXXXX)
token="pul-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start() {
  PULUMI_AUTO_SERVER_ADMIN_TOKEN=$token RUST_LOG=warn \
    "$server" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/url" 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 100); do
    [[ -s $work/url ]] && break
    sleep 0.1
  done
  url=$(head -n 1 "$work/url")
  until curl -fs "$url/healthz" >/dev/null; do sleep 0.1; done
}
stop() {
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  : >"$work/url"
}
api() {
  curl -fsS -H "Authorization: token $token" -H "Accept: application/vnd.pulumi+8" \
    -H "Content-Type: application/json" "$@"
}

# First start (migrations, the organization and its admin), one stack made by the server
# itself (its wrapped data key is the template), then the bulk of the data by SQL.
start
template=$(api -X POST -d '{"stackName":"template"}' "$url/api/stacks/organization/template" \
  >/dev/null && api "$url/api/stacks/organization/template/template" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
stop
db=$work/data/pulumi-auto-server.db
t0=$(date +%s)
ids=$(python3 bench/rest_seed.py "$db" --template "$template" --stacks "$stacks" \
  --events "$events" --big "$big")
seed_s=$(($(date +%s) - t0))
bigid=${ids#big=}; bigid=${bigid%% *}
smallid=${ids##*small=}
db_mb=$(du -m "$db" | cut -f1)
start

s="$url/api/stacks/organization"
b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
deep_stack=$(printf 'stack-%05d' $((stacks / 2)))
deep_proj=$(printf 'proj-%03d' $((stacks / 2 % 100)))
declare -a names urls
names+=("list stacks (first page of 500)");  urls+=("$url/api/user/stacks")
names+=("list stacks (a middle page)");      urls+=("$url/api/user/stacks?continuationToken=$(b64url "organization
$deep_proj
$deep_stack")")
names+=("get stack");                         urls+=("$s/proj-001/stack-00001")
names+=("events, short update (all $((events / stacks)) events)")
urls+=("$s/proj-001/stack-00001/update/$smallid/events")
names+=("events, long update, first page"); urls+=("$s/proj-000/stack-00000/update/$bigid/events")
names+=("events, long update, a page at event $((big * 3 / 4))")
urls+=("$s/proj-000/stack-00000/update/$bigid/events?continuationToken=$((big * 3 / 4))")

out=bench/results/rest-$scale.md
{
  echo "# REST benchmark, scale $scale"
  echo
  echo "$stacks stacks, $events engine events ($big in the long update), SQLite database $db_mb MB,"
  echo "seeded in $seed_s s. wrk -t2 -c$conns -d$duration --latency on loopback; $(nproc) cores,"
  echo "$(date -u +%Y-%m-%dT%H:%MZ)."
  echo
  echo "| endpoint | req/s | p50 | p99 | bytes/answer | load before |"
  echo "|---|---:|---:|---:|---:|---|"
} >"$out"
for i in "${!names[@]}"; do
  u=${urls[$i]}
  bytes=$(api "$u" | wc -c)
  api "$u" >/dev/null # warm
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  res=$(wrk -t2 -c"$conns" -d"$duration" --latency -H "Authorization: token $token" \
    -H "Accept: application/vnd.pulumi+8" "$u")
  echo "$res" >>"$work/wrk.log"
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$res")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$res")
  errs=$(grep -E 'Non-2xx|Socket errors' <<<"$res" || true)
  echo "| ${names[$i]} | $rps | $p50 | $p99 | $bytes | $load |${errs:+ $errs}" >>"$out"
done
{
  echo
  echo "Query plans (EXPLAIN QUERY PLAN, SQLite, on this data):"
  echo
  echo '```'
  for q in \
    "SELECT s.id FROM stacks s JOIN organizations o ON o.id = s.org_id WHERE s.org_id = 'x' AND s.project = 'p' AND s.name = 'n'" \
    "SELECT seq, body FROM engine_events WHERE update_id = 'u' AND seq > 150000 ORDER BY seq LIMIT 100" \
    "SELECT id FROM updates WHERE id = 'u' AND stack_id = 's'" \
    "SELECT s.id FROM stacks s JOIN organizations o ON o.id = s.org_id JOIN org_members m ON m.org_id = s.org_id WHERE m.user_id = 'u' AND (m.role = 'admin' OR EXISTS (SELECT 1 FROM team_stack_permissions p JOIN team_members tm ON tm.team_id = p.team_id WHERE p.stack_id = s.id AND tm.user_id = m.user_id)) ORDER BY o.name, s.project, s.name LIMIT 500"; do
    echo "$q"
    sqlite3 "$db" "EXPLAIN QUERY PLAN $q" | sed 's/^/    /'
  done
  echo '```'
} >>"$out"
cat "$out"
