#!/usr/bin/env bash
# The README's first command. On a fresh machine it builds the local
# cluster's tools once (cached outside the repo), starts the cluster, installs
# the CRD, runs the operator in the background, applies config/samples/ and
# shows the Memcached becoming Available. The cluster's nodes and pods are
# kwok's simulation; make demo-kind (scripts/demo-kind.sh) runs the same demo
# with real containers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/preflight.sh demo
state=${CLUSTER_STATE_DIR:-.cluster}
eval "$(scripts/node.sh env)"
[ -d node_modules ] || npm ci --no-audit --no-fund
test/cluster/cluster.sh up "${PROFILE:-ha}"
kubectl="$(test/cluster/build-tools.sh --dir)/kubectl --kubeconfig $state/kubeconfig"

node_modules/.bin/tsc -p tsconfig.json
$kubectl apply --server-side -f config/crd/bases/ >/dev/null
$kubectl wait --for condition=Established --timeout 60s crd/memcacheds.cache.example.com >/dev/null

# One operator per cluster: replace the one a previous demo left running.
if [ -f "$state/operator.pid" ] && kill -0 "$(cat "$state/operator.pid")" 2>/dev/null; then
  kill "$(cat "$state/operator.pid")"
fi
nohup node dist/main.js --kubeconfig "$state/kubeconfig" \
  --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 \
  >"$state/operator.log" 2>&1 &
echo $! >"$state/operator.pid"
echo "operator running (pid $(cat "$state/operator.pid")), logs in $state/operator.log"

$kubectl create namespace memcached-demo --dry-run=client -o yaml | $kubectl apply -f - >/dev/null
$kubectl apply -n memcached-demo -k config/samples/
if ! $kubectl wait -n memcached-demo --for condition=Available --timeout 120s memcached/memcached-sample; then
  tail -20 "$state/operator.log" >&2
  exit 1
fi
$kubectl get -n memcached-demo memcached,statefulset,service,configmap,poddisruptionbudget,pods -o wide
cat <<EOT

These pods are simulated. The API server, the scheduler, the controllers and
the operator are real, but the nodes are kwok's: it marks each pod Running and
gives it an IP, and no container runs. Nothing answers on 11211 here.

Try it:
  export KUBECONFIG=$PWD/$state/kubeconfig
  kubectl get memcached -A                       # Replicas, Ready, Available, Topology
  kubectl edit memcached -n memcached-demo memcached-sample
  make cluster-down                              # stops the operator and the cluster

The same demo with real containers, where memcached answers a set and a get
(as root: it starts docker and a kind cluster; 15 GB free disk; its first run
builds the kind test bed, about 35 minutes on 2 cores):
  make demo-kind
EOT
