#!/usr/bin/env bash
# Builds the local cluster's binaries from source into a cache outside the
# repository, keyed by their versions, and prints the bin directory.
# A warm cache builds nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
# shellcheck source=versions.env
. "$here/versions.env"

bin="$TOOLS_CACHE/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi

mkdir -p "$bin"
lock_cache build-tools.lock
# shellcheck source=gobuild.sh
. "$here/gobuild.sh"
require_pin "$here/tools/etcd/go.mod" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
require_pin "$here/tools/kwok/go.mod" sigs.k8s.io/kwok "$KWOK_VERSION"
require_pin "$here/tools/kubernetes/go.mod" k8s.io/kubernetes "$KUBE_VERSION"

start=$(date +%s)
go_build "$here/tools/etcd" "-s -w" etcd=go.etcd.io/etcd/server/v3
go_build "$here/tools/kwok" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
  kwok=sigs.k8s.io/kwok/cmd/kwok kwokctl=sigs.k8s.io/kwok/cmd/kwokctl
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  go_build "$here/tools/kubernetes" "$kube_ldflags" "$cmd=k8s.io/kubernetes/cmd/$cmd"
done
# The real Infrastructure CRD, Default feature set, from the pinned openshift/api.
manifests="$bin/../manifests"
crd=infrastructures.config.openshift.io.crd.yaml
if [ ! -f "$manifests/$crd" ]; then
  api_dir=$(go_module_dir "$here/tools/kubernetes" github.com/openshift/api)
  mkdir -p "$manifests"
  cp "$api_dir/config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_infrastructures-Default.crd.yaml" "$manifests/$crd.tmp"
  mv "$manifests/$crd.tmp" "$manifests/$crd"
fi
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -gt 5 ] && log "built in ${elapsed}s into $bin"
echo "$bin"
