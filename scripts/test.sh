#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
scripts/build.sh -DLOCALPROXY_WERROR=$werror
ctest --test-dir build --output-on-failure --parallel 2 --timeout 600
