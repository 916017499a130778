#!/usr/bin/env bash
# The whole test suite on a fresh machine: Debian packages the tests need, npm ci, npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages used by the tests (real peers, never mocks).
PKGS=(rsync openssl)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=120 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=120 install -y -qq "${missing[@]}"
fi
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci
npm run lint
npm test
