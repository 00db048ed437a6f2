#!/usr/bin/env bash
# Installs the Debian packages the tests need on a fresh machine:
# memcached (the operator's rendered flags are proven against a real one).
# Go 1.26 and make are prerequisites listed in the README; Node 26.10 comes
# from scripts/node.sh when the system's is older.
set -euo pipefail

missing() {
  local cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || return 0; done
  return 1
}

for tool in node npm go make; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is required (see README prerequisites)" >&2; exit 1; }
done

if missing memcached; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends memcached >/dev/null
  # Only the binary is wanted; the packaged service must not hold port 11211.
  $sudo systemctl disable --now memcached >/dev/null 2>&1 || $sudo service memcached stop >/dev/null 2>&1 || true
fi
