#!/usr/bin/env bash
# Installs the Debian packages the tests (or, given bench-deps.txt, the benchmarks) use, when missing.
# One package per line in scripts/<list> as "<command-to-check> <debian-package>"; the list defaults to test-deps.txt.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
while read -r cmd pkg; do
  [ -z "${cmd:-}" ] && continue
  case "$cmd" in \#*) continue ;; esac
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done < "${1:-test-deps.txt}"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "these Debian packages are needed: ${missing[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
