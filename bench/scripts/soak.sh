#!/usr/bin/env bash
# The soak run: 30 minutes of mixed load on PostgreSQL with `dossier serve --no-worker` and a
# stand-alone `dossier worker`, memory sampled every minute, every dossier checked at the end (see the
# doc comment of bench/src/bin/soak-bench/main.rs for what it does and its pass rules). Not run by CI.
#
# Builds the release binaries, starts the machine's PostgreSQL cluster if it is down (trust auth on
# 127.0.0.1:5432, user postgres), then runs soak-bench with the arguments given, e.g.
#   bench/scripts/soak.sh                                  # 30 minutes
#   bench/scripts/soak.sh --minutes 2 --warmup-minutes 1   # a quick check
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p dossier -p bench --bins

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.2
  done
fi

exec target/release/soak-bench "$@"
