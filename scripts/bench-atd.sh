#!/usr/bin/env bash
# Clout against atd, side by side on this machine, in one run.
#
# For each tool: enqueue N one-off jobs due at the same minute, then measure
#   - enqueue time (all N `at` / `clout draft add` commands, one after another);
#   - fire lateness, from the due time to the job's effect: for atd the job
#     writing a timestamp, for Clout a command sink writing one per nudge.
# Needs root for apt-get (installs Debian's `at` if missing). Usage: scripts/bench-atd.sh [N]
set -euo pipefail
N=${1:-1000}
cd "$(dirname "$0")/.."

if ! command -v at >/dev/null || ! command -v atd >/dev/null; then
  echo "installing Debian's at package…" >&2
  apt-get install -y -qq at >/dev/null
fi
cargo build --release -q -p clout-daemon -p clout-cli
CLOUTD=$PWD/target/release/cloutd
CLOUT=$PWD/target/release/clout

work=$(mktemp -d)
cleanup() {
  [ -n "${cloutd_pid:-}" ] && kill "$cloutd_pid" 2>/dev/null || true
  [ -n "${atd_pid:-}" ] && kill "$atd_pid" 2>/dev/null || true
  atq 2>/dev/null | awk '{print $1}' | xargs -r atrm 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Both tools get the same kind of due time: the start of a minute, far enough
# ahead for all N enqueues.
next_minute() { python3 -c "import time; t=int(time.time()); print((t//60+2)*60)"; }

# Lateness of each effect (one timestamp a line) from the due time, as a table row.
stats() {  # FILE DUE T0 T1 NAME
  python3 - "$1" "$2" "$3" "$4" "$5" "$N" >> "$work/results" <<'PY'
import sys
path, due, t0, t1, name, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
try:
    late = sorted((float(l) - due) * 1000 for l in open(path) if l.strip())
except FileNotFoundError:
    late = []
q = lambda p: late[min(len(late) - 1, int(p * len(late)))] if late else float("nan")
print(f"{name}\t{n}\t{len(late)}\t{t1-t0:.3f}\t{q(0.5):.1f}\t{q(0.99):.1f}\t{(late[-1] if late else float('nan')):.1f}")
PY
}

echo "== atd ==" >&2
if ! pgrep -x atd >/dev/null; then
  atd -f & atd_pid=$!
  sleep 0.5
fi
due=$(next_minute)
stamp=$(date -d "@$due" +%Y%m%d%H%M.%S)
t0=$(date +%s.%N)
for i in $(seq "$N"); do
  echo "date +%s.%N >> $work/atd.fired" | at -t "$stamp" 2>/dev/null
done
t1=$(date +%s.%N)
echo "atd: enqueued $N in $(python3 -c "print(round($t1-$t0,3))") s; waiting for $(date -d "@$due" +%T)…" >&2
while [ "$(wc -l < "$work/atd.fired" 2>/dev/null || echo 0)" -lt "$N" ]; do
  sleep 1
  if [ "$(date +%s)" -gt $((due + 240)) ]; then echo "atd did not run all jobs within 4 minutes" >&2; break; fi
done
stats "$work/atd.fired" "$due" "$t0" "$t1" atd

echo "== clout ==" >&2
export CLOUT_SOCKET=$work/cloutd.sock
"$CLOUTD" --socket "$CLOUT_SOCKET" --database-url "sqlite://$work/clout.db" 2>"$work/cloutd.log" & cloutd_pid=$!
for _ in $(seq 100); do [ -S "$CLOUT_SOCKET" ] && break; sleep 0.05; done
"$CLOUT" sink add command -- sh -c "date +%s.%N >> $work/clout.fired" >/dev/null
due=$(next_minute)
at_rfc=$(date -u -d "@$due" +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s.%N)
for i in $(seq "$N"); do
  "$CLOUT" draft add "job $i" --at "$at_rfc" >/dev/null
done
t1=$(date +%s.%N)
echo "clout: enqueued $N in $(python3 -c "print(round($t1-$t0,3))") s; waiting for $(date -d "@$due" +%T)…" >&2
while [ "$(wc -l < "$work/clout.fired" 2>/dev/null || echo 0)" -lt "$N" ]; do
  sleep 1
  if [ "$(date +%s)" -gt $((due + 240)) ]; then echo "clout did not deliver all nudges within 4 minutes" >&2; break; fi
done
stats "$work/clout.fired" "$due" "$t0" "$t1" clout

echo
echo "| tool | jobs | fired | enqueue all (s) | lateness p50 (ms) | p99 (ms) | max (ms) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
while IFS=$'\t' read -r name n fired enq p50 p99 max; do
  echo "| $name | $n | $fired | $enq | $p50 | $p99 | $max |"
done < "$work/results"
