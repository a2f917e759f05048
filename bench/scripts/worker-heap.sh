#!/usr/bin/env bash
# The worker's heap in use through a soak run, beside its resident memory: whether memory that grows is
# data the worker keeps or pages its allocator holds. Not run by CI.
#
# Builds `dossier` with the C library's malloc (`--features dossier/system-allocator`, so that heaptrack
# sees every allocation) as target/release/dossier-system-allocator, then runs the soak
# (bench/scripts/soak.sh, with the arguments given) with its worker from that binary under heaptrack's
# preload library (Debian package heaptrack). At the end it prints, for each minute of the worker's
# life, the heap in use (mean and highest of heaptrack's snapshots); the soak's own report above it has
# the worker's RSS each minute. The whole profile stays in target/worker-heap/ for heaptrack_print or
# heaptrack_gui.
#
#   bench/scripts/worker-heap.sh --minutes 12 --warmup-minutes 2
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v heaptrack >/dev/null || { echo "needs heaptrack: apt-get install heaptrack" >&2; exit 1; }
# Where heaptrack's own script finds its parts.
lib=$(dirname "$(readlink -f "$(command -v heaptrack)")")/../lib/heaptrack
preload=$(readlink -f "$lib/libheaptrack_preload.so")
interpret=$(readlink -f "$lib/libexec/heaptrack_interpret")
if command -v zstd >/dev/null; then compress="zstd -q -c" ext=zst; else compress="gzip -c" ext=gz; fi

cargo build --release -p dossier -p bench --bins --features dossier/system-allocator
cp target/release/dossier target/release/dossier-system-allocator
# soak.sh builds first: that puts the release binary back (cargo keeps both builds).

out=target/worker-heap
rm -rf "$out" && mkdir -p "$out"
fifo=$(mktemp -u) && mkfifo "$fifo"
profile=$out/worker.heaptrack.$ext
( "$interpret" <"$fifo" | $compress >"$profile" ) &
reader=$!
trap 'kill $reader 2>/dev/null || true; rm -f "$fifo"' EXIT

status=0
bench/scripts/soak.sh "$@" \
  --worker-bin target/release/dossier-system-allocator \
  --worker-env "LD_PRELOAD=$preload" \
  --worker-env "DUMP_HEAPTRACK_OUTPUT=$fifo" || status=$?

# The worker closed the pipe when it ended; a worker that never started never opened it.
for _ in $(seq 100); do kill -0 $reader 2>/dev/null || break; sleep 0.2; done
if kill -0 $reader 2>/dev/null; then
  # Opened for reading and writing, the pipe does not block: the reader gets its end of file.
  exec 3<>"$fifo" && exec 3>&-
  echo "no heap profile: the worker did not run under the profiler" >&2
  exit 1
fi

heaptrack_print -f "$profile" -l 0 -p 0 -a 0 -T 0 -M "$out/massif.out" \
  --massif-threshold 1 --massif-detailed-freq 1000000 >/dev/null
echo
echo "worker heap in use, by minute of its life (heaptrack snapshots; profile in $profile):"
grep -E '^(time|mem_heap_B)=' "$out/massif.out" | paste - - | awk -F'[=\t]' '
  { m = int($2 / 60); b = $4 / 1048576; s[m] += b; n[m]++; if (b > hi[m]) hi[m] = b; if (m > last) last = m }
  END { for (m = 0; m <= last; m++) if (n[m]) printf "  minute %2d: mean %6.2f MiB, highest %6.2f MiB\n", m + 1, s[m] / n[m], hi[m] }'
exit $status
