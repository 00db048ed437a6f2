#!/usr/bin/env bash
# Installs, when missing, the Debian package of each host tool named, for the
# targets that run it (make demo needs none of them):
#   memcached  a real memcached the unit tests and make bench-exporter start
#   promtool   from the prometheus package: the alert rules' tests
#
#   scripts/install-deps.sh memcached|promtool...
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wanted=() services=()
for tool in "$@"; do
  case $tool in
    memcached) wanted+=(/usr/bin/memcached=memcached); services+=(memcached) ;;
    promtool) wanted+=(promtool=prometheus); services+=(prometheus) ;;
    *) die "unknown tool '$tool' (memcached, promtool)" ;;
  esac
done
before=$(command -v promtool memcached /usr/bin/memcached 2>/dev/null || true)
ensure_packages "${wanted[@]}"
# Only the binaries are wanted: the services the packages start must not hold
# their ports (11211, 9090).
if [ "$before" != "$(command -v promtool memcached /usr/bin/memcached 2>/dev/null || true)" ]; then
  for service in "${services[@]}"; do
    as_root systemctl disable --now "$service" >/dev/null 2>&1 || as_root service "$service" stop >/dev/null 2>&1 || true
  done
fi
