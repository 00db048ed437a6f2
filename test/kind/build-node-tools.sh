#!/usr/bin/env bash
# Builds what the kind test bed needs beyond test/cluster/build-tools.sh:
# kind itself, kubelet, kubeadm, kube-proxy, CoreDNS and the pause binary,
# into a cache outside the repository keyed by their versions, and prints the
# bin directory. A warm cache builds nothing. CGO is off: every binary is static.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tools="$repo/test/cluster/tools"
# shellcheck source=../cluster/versions.env
. "$repo/test/cluster/versions.env"
# shellcheck source=versions.env
. "$here/versions.env"

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed. Install Go 1.26 or newer (https://go.dev/doc/install) and retry." >&2
  exit 1
fi

cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
bin="$cache_root/kind-$KIND_VERSION-k8s-$KUBE_VERSION-coredns-$COREDNS_VERSION-pause-$PAUSE_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"

log() { echo "build-node-tools: $*" >&2; }

# The modules must pin what versions.env says.
pinned() { # MODULE_DIR MODULE VERSION
  grep -qE "^(require )?[[:space:]]*$2 $3( |$)" "$tools/$1/go.mod" || {
    echo "error: $tools/$1/go.mod does not pin $2 $3 (versions.env says so)" >&2; exit 1; }
}
pinned kind sigs.k8s.io/kind "$KIND_VERSION"
pinned coredns github.com/coredns/coredns "$COREDNS_VERSION"
pinned kubernetes k8s.io/kubernetes "$KUBE_VERSION"

export CGO_ENABLED=0
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/openshift/*"
export GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"

# build DIR LDFLAGS NAME=PACKAGE... builds each binary that is missing.
build() {
  local dir=$1 ldflags=$2; shift 2
  local pair name pkg
  for pair in "$@"; do
    name=${pair%%=*} pkg=${pair#*=}
    [ -x "$bin/$name" ] && continue
    log "building $name (a cold build takes minutes on 2 cores)"
    (cd "$dir" && go build -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
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
build "$here/images/pause" "-s -w -X main.version=$PAUSE_VERSION" pause=.
build "$tools/kind" "-s -w" kind=sigs.k8s.io/kind
for cmd in kubeadm kube-proxy kubelet; do
  build "$tools/kubernetes" "$kube_ldflags" "$cmd=k8s.io/kubernetes/cmd/$cmd"
done
build "$tools/coredns" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
  coredns=github.com/coredns/coredns
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -gt 5 ] && log "built in ${elapsed}s into $bin"
echo "$bin"
