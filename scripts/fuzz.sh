#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/, clang-14, ASan + UBSan) and runs each for SECONDS on a
# copy of its seed corpus, after replaying its regression inputs; fails if any target crashes.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default 30 s each; targets: e.g. frame_decoder)
#   LOCALPROXY_BUILD_DIR  build directory (default: build-fuzz)
#   FUZZ_JOBS             targets run at the same time (default 1; each uses one core)
#   FUZZ_KEEP_CORPUS=DIR  keep each target's grown corpus in DIR/<target> (default: thrown away)
# Crash inputs are copied to <build>/fuzz-artifacts/; per target it prints executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2; }
build=${LOCALPROXY_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
root=$PWD

scripts/install-deps.sh --test  # the build configures the tests too (GoogleTest)
scripts/install-deps.sh --fuzz  # clang 14 and libFuzzer

# -O1 -g without NDEBUG (CompilerFlags.cmake also keeps assertions on in fuzz builds).
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DLOCALPROXY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build "$build" --target fuzz_targets --parallel "$(nproc)"

[[ "$build" = /* ]] || build="$root/$build"
bin_dir="$build/fuzz"
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in test/fuzz/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    targets+=("${n#fuzz_}")
  done
fi

work=$(mktemp -d /tmp/lp-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# One target: its regressions once, then SECONDS of fuzzing; the verdict goes to $work/<t>.result.
run_one() {
  set +e  # a grep that finds nothing is not a failure here
  local t=$1 exe="$bin_dir/fuzz_$1" src="$root/test/fuzz"
  local log="$work/$t.log" corpus="$work/$t.corpus" cwd="$work/$t.cwd"
  if [[ ! -x "$exe" ]]; then
    echo "fuzz_$t: not built" >"$work/$t.result"
    return
  fi
  mkdir -p "$corpus" "$cwd"
  cp -r "$src/corpus/$t/." "$corpus/"
  local dict=()
  [[ -f "$src/$t.dict" ]] && dict=("-dict=$src/$t.dict")
  local status=0
  if [[ -d "$src/regressions/$t" ]]; then
    (cd "$cwd" && timeout 600 "$exe" -runs=0 -timeout=20 "$src/regressions/$t") >"$log.regressions" 2>&1 || status=$?
    if [[ $status -ne 0 ]]; then
      { echo "fuzz_$t: CRASH replaying test/fuzz/regressions/$t (see below)"; tail -40 "$log.regressions"; } >"$work/$t.result"
      return
    fi
  fi
  (cd "$cwd" && timeout $((seconds + 300)) "$exe" "${dict[@]}" -max_total_time="$seconds" -timeout=20 \
     -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$corpus") >"$log" 2>&1 || status=$?
  local execs cov
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  if [[ $status -eq 0 ]]; then
    echo "fuzz_$t: OK, ${execs:-0} executions, ${cov:-no coverage line}" >"$work/$t.result"
  else
    {
      echo "fuzz_$t: CRASH (status $status) after ${execs:-?} executions, ${cov:-}; input saved as:"
      grep -E 'Test unit written to|artifact_prefix' "$log" | tail -2
      grep -E 'ERROR: |FUZZ CHECK FAILED|runtime error|SUMMARY' "$log" | head -5
      echo "---- last lines of the log"
      tail -60 "$log"
    } >"$work/$t.result"
  fi
  grep -h 'FUZZ NOTE' "$log" | sed "s/^/fuzz_$t: /" >>"$work/$t.result" || true
  if [[ -n "${FUZZ_KEEP_CORPUS:-}" ]]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp -r "$corpus/." "$FUZZ_KEEP_CORPUS/$t/"
  fi
}

for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n || true; done
  run_one "$t" &
done
wait

failed=0
total=0
for t in "${targets[@]}"; do
  cat "$work/$t.result" 2>/dev/null || echo "fuzz_$t: no result"
  grep -q "^fuzz_$t: OK" "$work/$t.result" || failed=$((failed + 1))
  n=$(grep -o "^fuzz_$t: OK, [0-9]*" "$work/$t.result" | awk '{print $3}' || true)
  total=$((total + ${n:-0}))
done
if [[ $failed -eq 0 ]]; then
  echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $total executions in all, no crash"
else
  echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $total executions; $failed FAILED (inputs in $artifacts)"
  exit 1
fi
