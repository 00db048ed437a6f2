#!/usr/bin/env bash
# make demo with real containers, on the kind test bed (test/kind: root,
# docker from Debian's packages, offline images): brings the bed up, builds
# the operator image on it and loads it, make deploys it with the bed's
# memcached image, applies config/samples/, waits until the Memcached is
# Available, then sets and gets a key through its Service and prints what
# memcached answered. It tears nothing down and says how to.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib.sh
. scripts/lib.sh

scripts/preflight.sh kind
eval "$(scripts/node.sh env)"
img=${DEMO_IMG:-localhost/memcached-operator:demo}
ns=memcached-demo
name=memcached-sample

export KIND_STATE_DIR=${KIND_STATE_DIR:-$repo_root/.kind}
test/kind/kind.sh up
set -a
# shellcheck disable=SC1091 # written by kind.sh up
. "$KIND_STATE_DIR/images.env"
set +a
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

# quietly LOG COMMAND...: runs it with its output in LOG, shown if it fails.
quietly() {
  local out=$1; shift
  "$@" >"$out" 2>&1 || { tail -n 30 "$out" >&2; die "$* failed (full output: $out)"; }
}
log "building the operator image $img on the bed's docker, from its local base images"
quietly "$KIND_CACHE/logs/demo-build.log" make --no-print-directory docker-build IMG="$img"
test/kind/kind.sh load "$img"
quietly "$KIND_CACHE/logs/demo-deploy.log" \
  make --no-print-directory deploy IMG="$img" MEMCACHED_IMG="$MEMCACHED_IMG" KUBECTL="$KUBECTL"
k -n memcached-operator-system rollout restart deployment/memcached-operator-controller-manager >/dev/null
k -n memcached-operator-system rollout status deployment/memcached-operator-controller-manager --timeout=180s

k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
k apply -n "$ns" -k config/samples/
if ! k wait -n "$ns" --for condition=Available --timeout 300s "memcached/$name"; then
  k get -n "$ns" memcached,statefulset,pods -o wide >&2
  k -n memcached-operator-system logs deployment/memcached-operator-controller-manager --tail=20 >&2
  die "memcached/$name did not become Available within 300 s"
fi
k get -n "$ns" memcached,statefulset,service,configmap,poddisruptionbudget,pods -o wide

# A set and a get through the ClusterIP Service, from inside one of the
# memcached pods (its image has bash): real memcached answers.
value="hello-from-$(date +%s)"
log "set demo-key $value, then get demo-key, through the Service $name.$ns.svc:11211"
# shellcheck disable=SC2016 # the script runs in the pod's bash
answer=$(k exec -n "$ns" "statefulset/$name" -c memcached -- timeout 20 bash -c '
  exec 3<>"/dev/tcp/$1/11211"
  printf "set demo-key 0 0 %d\r\n%s\r\nget demo-key\r\nquit\r\n" "${#2}" "$2" >&3
  timeout 10 cat <&3 | tr -d "\r"' session "$name.$ns.svc" "$value")
printf '%s\n' "$answer" | sed 's/^/  memcached> /'
if ! grep -qx STORED <<<"$answer" || ! grep -qx "$value" <<<"$answer"; then
  die "memcached did not store and return the value (its answer is above)"
fi

down="make kind-down"
[ "$KIND_CLUSTER_NAME" = memcached-operator-e2e ] ||
  down+=" KIND_CLUSTER_NAME=$KIND_CLUSTER_NAME KIND_STATE_DIR=$KIND_STATE_DIR"
replicas=$(k get -n "$ns" "memcached/$name" -o jsonpath='{.status.replicas}')
cat <<EOT

memcached answered for real, from one of the $replicas pods on the kind bed's
workers behind the Service $name.$ns.svc
(each pod is a cache of its own; the Service picks one per connection). The
operator runs in-cluster, as make deploy made it.

Try it:
  export KUBECONFIG=$KUBECONFIG
  kubectl get memcached -A
  kubectl exec -n $ns statefulset/$name -c memcached -- bash -c \\
    'exec 3<>/dev/tcp/$name/11211; printf "set k 0 0 2\r\nhi\r\nget k\r\nquit\r\n" >&3; cat <&3'
  $down    # deletes the kind cluster (and all in it), stops its dockerd
EOT
