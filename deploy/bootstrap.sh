#!/usr/bin/env bash
# bootstrap.sh: installs what sqgate needs to build, test and run its demo on
# Debian 12 (apt-get, as root, only what is missing), then builds build/sqgate.
# Usage: deploy/bootstrap.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git
      librdkafka-dev libjansson-dev libhiredis-dev libcriterion-dev
      libyaml-dev libmicrohttpd-dev libssl-dev libpcre2-dev zlib1g-dev libjemalloc-dev
      redis-server redis-tools kcat python3-jsonschema libtest-json-schema-acceptance-perl)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--no-build" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target sqgate >/dev/null
  echo "bootstrap: built build/sqgate"
fi
