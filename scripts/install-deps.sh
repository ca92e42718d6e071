#!/usr/bin/env bash
# Installs the Debian 12 packages localproxy needs to build and test, only those missing.
# Usage: scripts/install-deps.sh [--demo | --test | --fuzz]
#   --demo adds python3 (the demo script); --test adds the test framework and the real peers;
#   --fuzz adds clang 14 and libFuzzer (scripts/fuzz.sh, the sanitizer runs of .ci/run).
set -euo pipefail

packages=(g++ cmake make pkg-config git ca-certificates
          libboost1.81-all-dev libssl-dev libprotobuf-dev protobuf-compiler libsystemd-dev
          prometheus-cpp-dev)
case "${1:-}" in
  --fuzz) packages+=(clang-14 libfuzzer-14-dev libclang-rt-14-dev) ;;
  --demo) packages+=(python3) ;;
  --test) packages+=(python3 libgtest-dev openssl socat tinyproxy openssh-server openssh-client procps iproute2 systemd dpkg-dev file groff-base) ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo): ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq --error-on=any  # no network: fail here, not later
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
