#!/usr/bin/env bash
# Builds what the kind test bed needs beyond test/cluster/build-tools.sh:
# kind itself, kubelet, kubeadm, kube-proxy, CoreDNS and the pause binary,
# into a cache outside the repository keyed by their versions, and prints the
# bin directory. A warm cache builds nothing. CGO is off: every binary is static.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
tools="$repo_root/test/cluster/tools"
# shellcheck source=../cluster/versions.env
. "$repo_root/test/cluster/versions.env"
# shellcheck source=versions.env
. "$here/versions.env"

bin="$TOOLS_CACHE/kind-$KIND_VERSION-k8s-$KUBE_VERSION-coredns-$COREDNS_VERSION-pause-$PAUSE_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi
mkdir -p "$bin"
lock_cache build-node-tools.lock

# shellcheck source=../cluster/gobuild.sh
. "$repo_root/test/cluster/gobuild.sh"
require_pin "$tools/kind/go.mod" sigs.k8s.io/kind "$KIND_VERSION"
require_pin "$tools/coredns/go.mod" github.com/coredns/coredns "$COREDNS_VERSION"
require_pin "$tools/kubernetes/go.mod" k8s.io/kubernetes "$KUBE_VERSION"

start=$(date +%s)
go_build "$here/images/pause" "-s -w -X main.version=$PAUSE_VERSION" pause=.
go_build "$tools/kind" "-s -w" kind=sigs.k8s.io/kind
for cmd in kubeadm kube-proxy kubelet; do
  go_build "$tools/kubernetes" "$kube_ldflags" "$cmd=k8s.io/kubernetes/cmd/$cmd"
done
go_build "$tools/coredns" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
  coredns=github.com/coredns/coredns
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -gt 5 ] && log "built in ${elapsed}s into $bin"
echo "$bin"
