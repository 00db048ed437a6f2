#!/usr/bin/env bash
# Builds prometheus-operator's operator and prometheus-config-reloader from
# the Go module pinned in tools/prometheus-operator (the version in
# test/kind/versions.env), once, into the tools cache; prints the directory.
# test/kind/images.sh packs them into the monitoring proof's local images.
#
#   build-monitoring-tools.sh [--dir]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/versions.env"
. "$here/../kind/monitoring-versions.env"

cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
bin="$cache_root/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi

log() { echo "build-monitoring-tools: $*" >&2; }
die() { echo "build-monitoring-tools: error: $*" >&2; exit 1; }

module=github.com/prometheus-operator/prometheus-operator
grep -qE "^require $module $PROMETHEUS_OPERATOR_VERSION\$|^[[:space:]]$module $PROMETHEUS_OPERATOR_VERSION\$" "$here/tools/prometheus-operator/go.mod" ||
  die "tools/prometheus-operator/go.mod does not require $module $PROMETHEUS_OPERATOR_VERSION; update one or the other"

# shellcheck source=gobuild.sh
. "$here/gobuild.sh"
mkdir -p "$bin"
version="-X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}"
go_build "$here/tools/prometheus-operator" "-s -w $version" \
  operator=$module/cmd/operator \
  prometheus-config-reloader=$module/cmd/prometheus-config-reloader
echo "$bin"
