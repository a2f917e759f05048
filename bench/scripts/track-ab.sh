#!/usr/bin/env bash
# Two builds of the server, tracking reads (or pickup requests, with LOAD=pickup), alternating pairs:
# rate and CPU per request of the server,
# of PostgreSQL and of the load generator (wrk), and the server's CPU divided by wrk's (wrk's work per
# request is constant, so the quotient follows the server, not the machine's speed at that moment).
#
#   bench/scripts/track-ab.sh PAIRS SERVER_A SERVER_B [DATABASE_URL]
#   LOAD=pickup bench/scripts/track-ab.sh PAIRS SERVER_A SERVER_B [DATABASE_URL]
#
# DATABASE_URL (postgres://postgres@127.0.0.1:5432/track_ab by default) is made and seeded with
# 20,000 pickup requests when it does not exist. Needs wrk (Debian package wrk) and psql.
set -euo pipefail
pairs=$1 a=$2 b=$3
url=${4:-postgres://postgres@127.0.0.1:5432/track_ab}
port=18080 seconds=8
work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
export DOSSIER__DATABASE__URL=$url DOSSIER__SERVER__TRACK_CACHE=false RUST_LOG=warn
for limit in PUBLIC_WRITES_PER_MINUTE PUBLIC_READS_PER_MINUTE KEY_REQUESTS_PER_MINUTE OPEN_REQUESTS_PER_PHONE; do
  export "DOSSIER__LIMITS__$limit=1000000000"
done

serve() {
  "$1" serve --no-worker --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
  echo $! >"$work/pid"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return; sleep 0.2; done
  echo "the server did not start: $(tail -3 "$work/server.log")" >&2; exit 1
}
stop() { kill "$(cat "$work/pid")"; wait "$(cat "$work/pid")" 2>/dev/null || true; }

if ! psql "$url" -Atc "SELECT 1" >/dev/null 2>&1; then
  admin=${url%/*}/postgres
  psql "$admin" -qc "CREATE DATABASE \"${url##*/}\""
  "$a" seed --database-url "$url" >/dev/null
  serve "$a"
  for i in $(seq 20000); do
    printf '{"procedure_code":"1.001612","agency_code":"UBND-P-HOANKIEM","service_mode":"send_and_return","applicant":{"full_name":"Nguyễn Văn An","phone":"09%08d","email":"an@example.vn","id_number":"001090012345"},"pickup_address":{"line":"12 Tràng Tiền","ward_code":"00070","province_code":"01"},"return_address":null,"documents":[{"name":"Tờ khai đăng ký","original":true,"copies":1}],"with_appointment":false,"fee_exemption":"none"}\n' "$i"
  done | xargs -d '\n' -P 8 -I{} curl -sf -o /dev/null -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$port/api/v1/dossiers"
  stop
fi
psql "$url" -Atc "SELECT code FROM dossiers" >"$work/codes"
cat >"$work/track.lua" <<LUA
local codes = {}
for line in io.lines("$work/codes") do codes[#codes + 1] = line end
request = function() return wrk.format("GET", "/api/v1/track/" .. codes[math.random(#codes)]) end
done = function(summary) io.write(string.format("non-2xx %d, socket errors %d\n", summary.errors.status,
  summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout)) end
LUA
# Pickup requests, each with a phone of its own (the limits are raised, so a repeat would pass too).
cat >"$work/pickup.lua" <<'LUA'
local n = math.random(1000000) * 100
request = function()
  n = n + 1
  local body = string.format('{"procedure_code":"1.001612","agency_code":"UBND-P-HOANKIEM","service_mode":"send_and_return","applicant":{"full_name":"Nguyễn Văn An","phone":"09%08d","email":"an@example.vn","id_number":"001090012345"},"pickup_address":{"line":"12 Tràng Tiền","ward_code":"00070","province_code":"01"},"return_address":null,"documents":[{"name":"Tờ khai đăng ký","original":true,"copies":1}],"with_appointment":false,"fee_exemption":"none"}', n % 100000000)
  return wrk.format("POST", "/api/v1/dossiers", {["content-type"] = "application/json"}, body)
end
LUA
sed -n '/^done = /,$p' "$work/track.lua" >>"$work/pickup.lua"
script="$work/${LOAD:-track}.lua"
[ -f "$script" ] || { echo "LOAD is track or pickup" >&2; exit 1; }

ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
pg_ticks() { local t=0; for p in $(pgrep -x postgres); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done; echo $t; }
hz=$(getconf CLK_TCK)
measure() {
  serve "$1"
  wrk -t1 -c16 -d2s -s "$script" "http://127.0.0.1:$port" >/dev/null
  local pid s0 p0 w0
  pid=$(cat "$work/pid"); s0=$(ticks "$pid"); p0=$(pg_ticks)
  wrk -t1 -c16 -d${seconds}s -s "$script" "http://127.0.0.1:$port" >"$work/wrk" &
  local wrk_pid=$!
  sleep $((seconds - 1)); w0=$(ticks $wrk_pid); wait $wrk_pid
  local s1 p1; s1=$(ticks "$pid"); p1=$(pg_ticks)
  stop
  grep -q "non-2xx 0, socket errors 0" "$work/wrk" || { echo "failed requests: $(cat "$work/wrk")" >&2; exit 1; }
  local n rate; n=$(awk '/requests in/ {print $1}' "$work/wrk"); rate=$(awk '/Requests\/sec/ {print $2}' "$work/wrk")
  # wrk's CPU is read a second before it ends (it has no children to be counted by), and scaled.
  awk -v name="$2" -v n="$n" -v rate="$rate" -v hz="$hz" -v s="$seconds" -v srv=$((s1 - s0)) -v pg=$((p1 - p0)) -v w="$w0" 'BEGIN {
    srv = srv * 1e6 / hz / n; pg = pg * 1e6 / hz / n; w = w * 1e6 / hz / (n * (s - 1) / s)
    printf "%s  %8.0f req/s  CPU per request: server %3.0f µs, PostgreSQL %3.0f µs, wrk %4.1f µs, server/wrk %.2f\n", name, rate, srv, pg, w, srv / w }'
}
for _ in $(seq "$pairs"); do
  measure "$a" A
  measure "$b" B
done
