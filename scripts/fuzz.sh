#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time; fails on any crash.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]…     # default: 60 s for each target
#
# cargo fuzz needs nightly compiler flags (-Z sanitizer, sanitizer coverage).
# This machine has the stable toolchain only, so the script sets
# RUSTC_BOOTSTRAP=1, which lets stable rustc accept them.
#
# The committed seeds (fuzz/corpus/<target>/) are read, never written: new
# inputs go to fuzz/target/corpus/<target>/ (ignored, kept between runs).
# A crash leaves its input in fuzz/artifacts/<target>/ (ignored); replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…
# Extra libFuzzer flags can be given in FUZZ_FLAGS, e.g. FUZZ_FLAGS="-jobs=2".
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET]…  (SECONDS: a whole number, at least 1)" >&2
  exit 2
fi

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found in fuzz/" >&2
  exit 1
fi

echo "== building ${targets[*]}"
for t in "${targets[@]}"; do
  cargo fuzz build "$t"
done

failed=()
for t in "${targets[@]}"; do
  work="fuzz/target/corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="fuzz/target/fuzz-$t.log"
  echo "== fuzzing $t for ${seconds}s (log: $log)"
  # -timeout: one input taking over 30 s is a hang, reported as a crash.
  # -rss_limit_mb: the daemon target holds a database; 4 GiB leaves room.
  # shellcheck disable=SC2086
  if cargo fuzz run "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 ${FUZZ_FLAGS:-} \
    >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n1 || true)
    echo "   ok: ${runs:-?} executions, no crash"
  else
    echo "   CRASH in $t; the end of its log:" >&2
    tail -n 40 "$log" >&2
    ls -1 "fuzz/artifacts/$t" >&2 || true
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "all ${#targets[@]} targets ran ${seconds}s each without a crash"
