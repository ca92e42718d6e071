#!/usr/bin/env bash
# Installs the Debian 12 packages localproxy needs to build and test, only those missing.
# Usage: scripts/install-deps.sh [--test]   (--test adds the real peers the tests use)
set -euo pipefail

packages=(g++ cmake make pkg-config git ca-certificates
          libboost1.81-all-dev libssl-dev libprotobuf-dev protobuf-compiler)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev openssl socat tinyproxy openssh-server openssh-client python3 procps)
fi

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
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
