#!/usr/bin/env bash
# Restarts PostgreSQL under load and checks that nothing answered 201 is lost and that the service
# answers again within 5 s of PostgreSQL being back, without a restart of its own.
#
# It makes a PostgreSQL cluster of its own on another port (pg_createcluster; dropped at the end, so
# the machine's main cluster is never touched), starts `dossier serve --no-worker` on it, sends pickup
# requests from 8 threads for 25 s, restarts the cluster (fast shutdown, 3 s down) 8 s in, then:
# - every dossier code answered 201 must be in the database;
# - the first 201 after PostgreSQL accepts connections again must come within 5 s.
# Run as root (pg_createcluster) from the repository: bench/scripts/pg-restart.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION="$(ls /etc/postgresql | sort -V | tail -1)"
CLUSTER="dossier_restart"
PG_PORT="${PG_PORT:-5499}"
API_PORT="${API_PORT:-18099}"
WORK="$(mktemp -d)"
DB="postgres://postgres@127.0.0.1:${PG_PORT}/dossier"

cleanup() {
  [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null || true
  pg_dropcluster --stop "$VERSION" "$CLUSTER" 2>/dev/null || true
}
trap cleanup EXIT

pg_dropcluster --stop "$VERSION" "$CLUSTER" 2>/dev/null || true
pg_createcluster -q "$VERSION" "$CLUSTER" -p "$PG_PORT" -- --auth=trust >/dev/null
pg_ctlcluster "$VERSION" "$CLUSTER" start
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "create database dossier" >/dev/null

# BIN=target/debug/dossier runs an already built binary instead of the release build.
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --bin dossier -q
  BIN=target/release/dossier
fi
"$BIN" seed --database-url "$DB" >/dev/null 2>"$WORK/seed.log"
DOSSIER__LIMITS__PUBLIC_WRITES_PER_MINUTE=1000000 \
DOSSIER__LIMITS__PUBLIC_READS_PER_MINUTE=1000000 \
  "$BIN" serve --no-worker --database-url "$DB" --bind "127.0.0.1:${API_PORT}" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${API_PORT}/health/ready" >/dev/null && break
  sleep 0.1
done

python3 bench/scripts/pg_restart_load.py --base "http://127.0.0.1:${API_PORT}" --seconds 25 \
  --out "$WORK/answers.txt" &
LOAD_PID=$!
sleep 8
DOWN_AT=$(date +%s.%N)
pg_ctlcluster "$VERSION" "$CLUSTER" stop -m fast
sleep 3
pg_ctlcluster "$VERSION" "$CLUSTER" start
until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do sleep 0.05; done
BACK_AT=$(date +%s.%N)
wait "$LOAD_PID"

awk '$2 == "201" { print $3 }' "$WORK/answers.txt" | sort -u >"$WORK/created.txt"
psql -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres dossier -c "select code from dossiers" | sort -u >"$WORK/stored.txt"
CREATED=$(wc -l <"$WORK/created.txt")
LOST=$(comm -23 "$WORK/created.txt" "$WORK/stored.txt" | wc -l)
FIRST_OK_AFTER=$(awk -v back="$BACK_AT" '$2 == "201" && $1 > back { print $1 - back; exit }' \
  <(sort -n "$WORK/answers.txt"))
echo "requests: $(wc -l <"$WORK/answers.txt"); answers by status:"
awk '{ print "  " $2 }' "$WORK/answers.txt" | sort | uniq -c
echo "answered 201: $CREATED; of these missing from the database: $LOST"
echo "PostgreSQL down for $(echo "$BACK_AT - $DOWN_AT" | bc) s; first 201 after it was back: ${FIRST_OK_AFTER:-never} s"
if [[ "$LOST" -ne 0 ]]; then echo "FAIL: answered 201 but lost"; exit 1; fi
if [[ -z "${FIRST_OK_AFTER:-}" ]] || (( $(echo "$FIRST_OK_AFTER > 5" | bc) )); then
  echo "FAIL: the service did not answer 201 within 5 s of PostgreSQL being back"; exit 1
fi
echo "OK"
