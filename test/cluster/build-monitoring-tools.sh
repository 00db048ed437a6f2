#!/usr/bin/env bash
# Builds prometheus-operator's operator and prometheus-config-reloader from
# the Go module pinned in tools/prometheus-operator, and Prometheus from the Go
# module pinned in tools/prometheus (the versions in
# test/kind/monitoring-versions.env), once, into the tools cache; prints the
# operator's directory (--prometheus-dir prints Prometheus's).
# test/kind/images.sh packs them into the monitoring proof's local images.
#
#   build-monitoring-tools.sh [--dir | --prometheus-dir]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=../kind/monitoring-versions.env
. "$here/../kind/monitoring-versions.env"

bin="$TOOLS_CACHE/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/bin"
# Prometheus's directory is keyed by its recipe too: the overlay decides what
# the binary contains, so changing it must rebuild.
prom_tools="$here/tools/prometheus"
prom_key=$(cat "$prom_tools/go.mod" "$prom_tools/go.sum" "$prom_tools/plugins.go.overlay" | sha256sum | cut -c1-12)
prom_root="$TOOLS_CACHE/prometheus-$PROMETHEUS_VERSION-$prom_key"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--prometheus-dir" ]; then echo "$prom_root/bin"; exit 0; fi

# shellcheck source=gobuild.sh
. "$here/gobuild.sh"
module=github.com/prometheus-operator/prometheus-operator
require_pin "$here/tools/prometheus-operator/go.mod" "$module" "$PROMETHEUS_OPERATOR_VERSION"
prom_module=github.com/prometheus/prometheus
require_pin "$prom_tools/go.mod" "$prom_module" "$PROMETHEUS_MODULE_VERSION"
mkdir -p "$bin"
lock_cache build-monitoring-tools.lock
version="-X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}"
go_build "$here/tools/prometheus-operator" "-s -w $version" \
  operator=$module/cmd/operator \
  prometheus-config-reloader=$module/cmd/prometheus-config-reloader

# Prometheus with Kubernetes service discovery only, and no web UI assets (the
# proof uses the HTTP API). v3.5.0 has no build tags to leave discoveries out,
# and go build refuses an -overlay of a file in the module cache, so the build
# uses a copy of the verified module with plugins/plugins.go replaced, through
# a go.work that replaces the module with that copy. go.sum in tools/prometheus
# holds the hashes of every module the build loads.
build_prometheus() {
  local src="$prom_root/src" dir
  [ -x "$prom_root/bin/prometheus" ] && return 0
  if [ ! -f "$src/.complete" ]; then
    rm -rf "$src"; mkdir -p "$src"
    dir=$(go_module_dir "$prom_tools" "$prom_module@$PROMETHEUS_MODULE_VERSION")
    [ -d "$dir" ] || die "could not download $prom_module@$PROMETHEUS_MODULE_VERSION"
    cp -r "$dir" "$src/prometheus"
    chmod -R u+w "$src/prometheus"
    cp "$prom_tools/plugins.go.overlay" "$src/prometheus/plugins/plugins.go"
    touch "$src/.complete"
  fi
  # Written each time: it names this checkout, which may have moved.
  printf 'go 1.26.0\n\nuse %s\n\nreplace %s %s => %s\n' \
    "$prom_tools" "$prom_module" "$PROMETHEUS_MODULE_VERSION" "$src/prometheus" >"$src/go.work"
  bin="$prom_root/bin"
  mkdir -p "$bin"
  GOWORK="$src/go.work" go_build "$prom_tools" \
    "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v} -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.Revision=$PROMETHEUS_MODULE_VERSION" \
    prometheus=$prom_module/cmd/prometheus
}
op_bin=$bin
build_prometheus
echo "$op_bin"
