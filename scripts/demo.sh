#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo (scripts/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
scripts/build.sh
python3 scripts/demo.py
