#!/usr/bin/env bash
# Installs the Debian packages the tests need on a fresh machine:
# memcached (the operator's rendered flags are proven against a real one) and
# promtool, from the prometheus package (the alert rules' unit tests).
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

if missing memcached promtool; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends memcached prometheus >/dev/null
  # Only the binaries are wanted; the packaged services must not hold ports
  # (11211, 9090).
  for service in memcached prometheus; do
    $sudo systemctl disable --now "$service" >/dev/null 2>&1 || $sudo service "$service" stop >/dev/null 2>&1 || true
  done
fi
