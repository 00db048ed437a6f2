#!/usr/bin/env bash
# Builds the local cluster's binaries from source into a cache outside the
# repository, keyed by their versions, and prints the bin directory.
# A warm cache builds nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
bin="$cache_root/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed. Install Go 1.26 or newer (https://go.dev/doc/install) and retry." >&2
  exit 1
fi
mkdir -p "$bin"

export CGO_ENABLED=0
# openshift/api publishes no tags; its pseudo-versions are not in the checksum
# database, so go.sum in tools/kubernetes is what verifies them.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/openshift/*"
export GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"

log() { echo "build-tools: $*" >&2; }

# build MODULE_DIR LDFLAGS NAME=PACKAGE... builds each binary that is missing.
build() {
  local dir=$1 ldflags=$2; shift 2
  local pair name pkg
  for pair in "$@"; do
    name=${pair%%=*} pkg=${pair#*=}
    [ -x "$bin/$name" ] && continue
    log "building $name (a cold build takes minutes on 2 cores)"
    (cd "$here/tools/$dir" && go build -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
    mv "$bin/$name.tmp" "$bin/$name"
  done
}

kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

start=$(date +%s)
build etcd "-s -w" etcd=go.etcd.io/etcd/server/v3
build kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
  kwok=sigs.k8s.io/kwok/cmd/kwok kwokctl=sigs.k8s.io/kwok/cmd/kwokctl
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build kubernetes "$kube_ldflags" "$cmd=k8s.io/kubernetes/cmd/$cmd"
done
# The real Infrastructure CRD, Default feature set, from the pinned openshift/api.
manifests="$bin/../manifests"
crd=infrastructures.config.openshift.io.crd.yaml
if [ ! -f "$manifests/$crd" ]; then
  api_dir=$(cd "$here/tools/kubernetes" && go mod download -json github.com/openshift/api | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$manifests"
  cp "$api_dir/config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_infrastructures-Default.crd.yaml" "$manifests/$crd.tmp"
  mv "$manifests/$crd.tmp" "$manifests/$crd"
fi
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -gt 5 ] && log "built in ${elapsed}s into $bin"
echo "$bin"
