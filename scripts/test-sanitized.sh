#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) and runs
# the unit and end-to-end tests against that build: a memory error, a leak or undefined behaviour
# in any of our processes (tests, localproxy, tunnel-service) fails the run.
# Usage: scripts/test-sanitized.sh [extra cmake configure arguments]
#   LOCALPROXY_BUILD_DIR  build directory (default: build-asan)
#   CTEST_ARGS            extra ctest arguments, e.g. "-L unit" or "-R e2e_test_transfer"
#   LOCALPROXY_E2E_PAYLOAD_SCALE  bulk transfer sizes of the e2e tests (default here 0.25)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LOCALPROXY_BUILD_DIR:-build-asan}
scripts/install-deps.sh --test

started=$(date +%s)
# -O1 -g1: line numbers in the sanitizers' stacks, without the -O2 inlining and full debug info
# that made the Beast/Asio coroutine code (src/transport/websocket_connect.cpp above all) take
# 20 minutes and 6 GB to compile under ASan.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DLOCALPROXY_SANITIZE=address,undefined -DLOCALPROXY_FUZZ=OFF "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
built=$(date +%s)

# Every report also goes to a file: the e2e harness does not look at every process's exit status
# or stderr (a proxy killed by the test, a leak reported at exit), so the files are the verdict.
logs="$PWD/$build/sanitizer-logs"
[[ "$build" = /* ]] && logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:strict_string_checks=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
# For tests whose bounds cannot hold under ASan (peak RSS: shadow memory and the free quarantine).
export LOCALPROXY_SANITIZED=address,undefined
# A quarter of the bulk transfers' bytes (test/e2e/harness.py): ASan makes every byte slower.
export LOCALPROXY_E2E_PAYLOAD_SCALE=${LOCALPROXY_E2E_PAYLOAD_SCALE:-0.25}

status=0
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure --parallel 2 --timeout 900 ${CTEST_ARGS:-} || status=$?
finished=$(date +%s)

reports=$(find "$logs" -type f | sort)
if [[ -n "$reports" ]]; then
  echo "test-sanitized: sanitizer reports:" >&2
  for f in $reports; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
  status=1
fi
echo "test-sanitized: build $((built - started)) s, tests $((finished - built)) s;" \
  "$( [[ $status -eq 0 ]] && echo "no sanitizer report, all tests passed" || echo "FAILED" )"
exit $status
