#!/usr/bin/env bash
# Prints the directory holding prometheus-operator's CRDs (PodMonitor,
# PrometheusRule, ServiceMonitor, Prometheus, ...) at the version pinned in
# tools/prometheus-operator/go.mod, copying them out of the Go module cache
# into the tools cache on first use. The monitoring integration test installs
# them while the operator runs; the kind spec installs them with
# prometheus-operator. Nothing is vendored into the repository.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"

module=github.com/prometheus-operator/prometheus-operator
version=$(sed -n "s|^require $module \(v[^ ]*\)$|\1|p" "$here/tools/prometheus-operator/go.mod")
[ -n "$version" ] || die "tools/prometheus-operator/go.mod does not require $module"

crds="$TOOLS_CACHE/prometheus-operator-$version/crds"
if [ ! -f "$crds/.complete" ]; then
  check_go
  log "copying the $module $version CRDs out of the module cache"
  dir=$(GOFLAGS=-mod=readonly go_module_dir "$here/tools/prometheus-operator" "$module")
  src="$dir/example/prometheus-operator-crd"
  [ -d "$src" ] || die "no example/prometheus-operator-crd in $dir"
  tmp="$crds.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$src"/monitoring.coreos.com_*.yaml "$tmp/"
  chmod u+w "$tmp"/*.yaml
  touch "$tmp/.complete"
  rm -rf "$crds" && mv "$tmp" "$crds"
fi
echo "$crds"
