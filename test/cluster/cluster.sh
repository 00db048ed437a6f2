#!/usr/bin/env bash
# Starts and stops the local Kubernetes control plane used by every
# integration and end-to-end test: real etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler run as plain processes by
# kwokctl's binary runtime, with kwok faking nodes and pod status.
#
#   cluster.sh up [PROFILE]   start (or reuse) a cluster shaped like PROFILE
#   cluster.sh down           stop every process and remove all state
#   cluster.sh profiles       list the profiles
#   cluster.sh stop-apiserver | start-apiserver   fault injection for tests
#
# Both commands are idempotent and recover from a crash (stale pids, a
# half-written state directory). The kubeconfig is written to
# .cluster/kubeconfig at the repository root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
# CLUSTER_STATE_DIR lets several clusters run side by side (one per
# developer task); the default is the documented .cluster/.
state="${CLUSTER_STATE_DIR:-$repo_root/.cluster}"
case $state in /*) ;; *) state="$repo_root/$state" ;; esac
name=memcached-operator
export KWOK_WORKDIR="$state/kwok"
kubeconfig="$state/kubeconfig"

profiles="sno compact ha dual arbiter external vanilla"

usage() {
  cat >&2 <<EOF
usage: $0 up [PROFILE] | down | profiles
profiles: $profiles (default: ha)
EOF
  exit 2
}

# ---------------------------------------------------------------- profiles --

# node NAME ZONE ROLES [TAINT_KEYS] prints a fake Node. ROLES and TAINT_KEYS
# are comma-separated; every taint is NoSchedule, as on a real cluster.
node() {
  local name=$1 zone=$2 roles=$3 taints=${4:-}
  cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
EOF
  if [ -n "$zone" ]; then
    printf '    topology.kubernetes.io/region: local\n    topology.kubernetes.io/zone: %s\n' "$zone"
  fi
  local role
  for role in ${roles//,/ }; do printf '    node-role.kubernetes.io/%s: ""\n' "$role"; done
  echo "spec:"
  if [ -n "$taints" ]; then
    echo "  taints:"
    local key
    for key in ${taints//,/ }; do printf '  - key: %s\n    effect: NoSchedule\n' "$key"; done
  fi
  cat <<EOF
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake
EOF
}

# Control-plane nodes carry both role labels real clusters use; a dedicated
# (non-worker) control plane is also tainted, as are arbiter nodes.
cp_roles=control-plane,master
cp_taints=node-role.kubernetes.io/master,node-role.kubernetes.io/control-plane
arbiter_taint=node-role.kubernetes.io/arbiter

# nodes PROFILE prints the profile's nodes.
nodes() {
  local i zones=(a b c)
  case $1 in
    sno) node sno-0 zone-a "$cp_roles,worker" ;;
    compact) for i in 0 1 2; do node "master-$i" "zone-${zones[$i]}" "$cp_roles,worker"; done ;;
    ha)
      for i in 0 1 2; do node "master-$i" "zone-${zones[$i]}" "$cp_roles" "$cp_taints"; done
      for i in 0 1 2; do node "worker-$i" "zone-${zones[$i]}" worker; done
      ;;
    dual) for i in 0 1; do node "master-$i" "zone-${zones[$i]}" "$cp_roles,worker"; done ;;
    arbiter)
      for i in 0 1; do node "master-$i" "zone-${zones[$i]}" "$cp_roles,worker"; done
      node arbiter-0 zone-c arbiter "$arbiter_taint"
      ;;
    external) for i in 0 1; do node "worker-$i" "zone-${zones[$i]}" worker; done ;;
    # Like kind: workers with no zone labels and no OpenShift API.
    vanilla) for i in 0 1 2; do node "worker-$i" "" worker; done ;;
  esac
}

# topology PROFILE prints "controlPlane infrastructure", or nothing when the
# profile has no Infrastructure API.
topology() {
  case $1 in
    sno) echo "SingleReplica SingleReplica" ;;
    compact | ha) echo "HighlyAvailable HighlyAvailable" ;;
    dual) echo "DualReplica HighlyAvailable" ;;
    arbiter) echo "HighlyAvailableArbiter HighlyAvailable" ;;
    external) echo "External HighlyAvailable" ;;
    vanilla) ;;
  esac
}

# ------------------------------------------------------------------- steps --

kctl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running_profile() {
  [ -f "$state/profile" ] && [ -f "$kubeconfig" ] || return 1
  "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout=3s get --raw /readyz >/dev/null 2>&1 || return 1
  cat "$state/profile"
}

stop_cluster() {
  # The operator `make demo` left running against this cluster.
  if [ -f "$state/operator.pid" ]; then
    kill "$(cat "$state/operator.pid")" 2>/dev/null || true
  fi
  if [ -d "$KWOK_WORKDIR" ] && [ -x "${bin:-}/kwokctl" ]; then
    "$bin/kwokctl" --name "$name" delete cluster >/dev/null 2>&1 || true
  fi
  # Whatever kwokctl lost track of (a crash between writing a pid and
  # recording it) still has our state directory on its command line.
  if pgrep -f "$KWOK_WORKDIR" >/dev/null 2>&1; then
    pkill -TERM -f "$KWOK_WORKDIR" || true
    for _ in $(seq 1 50); do pgrep -f "$KWOK_WORKDIR" >/dev/null 2>&1 || break; sleep 0.1; done
    pkill -KILL -f "$KWOK_WORKDIR" || true
  fi
  rm -rf "$state"
}

# port_in_use PORT: something accepts connections on it.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port() {
  local port=$1
  if port_in_use "$port"; then
    die "port $port is already in use; stop what listens there (ss -ltnp 'sport = :$port') or choose another with APISERVER_PORT=<port>"
  fi
}

# random_free_port prints a port nobody listens on, from 20000-31999.
# kwokctl's own picks were all just below 32768 here, so with two clusters
# at once one cluster's kwokctl took the port of an apiserver the other was
# restarting (start-apiserver then failed: "bind: address already in use").
# Away from kwokctl's picks and below the ephemeral range, the processes
# that get restarted keep their ports.
random_free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 12000))
    port_in_use "$port" || { echo "$port"; return; }
  done
  die "found no free port in 20000-31999"
}

start_cluster() {
  local profile=$1
  local args=(
    --name "$name" --config "$here/kwokctl.yaml" create cluster --runtime binary --wait 90s --quiet-pull
    --kubeconfig "$kubeconfig"
    --etcd-binary "$bin/etcd"
    --kube-apiserver-binary "$bin/kube-apiserver"
    --kube-controller-manager-binary "$bin/kube-controller-manager"
    --kube-scheduler-binary "$bin/kube-scheduler"
    --kwok-controller-binary "$bin/kwok"
    --disable-qps-limits
    --kube-audit-policy "$here/audit-policy.yaml"
  )
  if [ -n "${APISERVER_PORT:-}" ]; then
    check_port "$APISERVER_PORT"
    args+=(--kube-apiserver-port "$APISERVER_PORT")
  else
    args+=(--kube-apiserver-port "$(random_free_port)")
  fi
  # kwok-controller is restarted with the apiserver (start-apiserver), so it
  # too keeps a port of its own.
  args+=(--controller-port "$(random_free_port)")
  mkdir -p "$state"
  log "starting profile $profile"
  if ! KWOK_KUBECTL_BINARY="$bin/kubectl" "$bin/kwokctl" "${args[@]}" >"$state/kwokctl.log" 2>&1; then
    cat "$state/kwokctl.log" >&2
    die "kwokctl could not start the cluster (log above, component logs under $KWOK_WORKDIR/clusters/$name/logs)"
  fi
}

# kubectl wait fails at once ("accessor error") on a CRD whose status has no
# conditions yet, which is how a just-created CRD looks for a moment: poll.
wait_crd_established() {
  local crd=$1 deadline=$((SECONDS + 30))
  until [ "$(kctl get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ]; do
    [ $SECONDS -lt $deadline ] || die "CRD $crd was not Established within 30s"
    sleep 0.2
  done
}

install_infrastructure() {
  local cp=$1 infra=$2
  # The real CRD declares format "ip", which the apiserver warns it does not check.
  kctl apply --server-side -f "$bin/../manifests/infrastructures.config.openshift.io.crd.yaml" 2>&1 >/dev/null | { grep -v 'unrecognized format' >&2 || true; }
  wait_crd_established infrastructures.config.openshift.io
  kctl apply --server-side -f - >/dev/null <<EOF
apiVersion: config.openshift.io/v1
kind: Infrastructure
metadata:
  name: cluster
spec:
  platformSpec:
    type: None
EOF
  kctl patch infrastructure cluster --subresource status --type merge -p "$(cat <<EOF
{"status": {
  "controlPlaneTopology": "$cp",
  "infrastructureTopology": "$infra",
  "cpuPartitioning": "None",
  "infrastructureName": "$name",
  "platform": "None",
  "platformStatus": {"type": "None"},
  "apiServerURL": "https://api.$name.local:6443",
  "apiServerInternalURI": "https://api-int.$name.local:6443",
  "etcdDiscoveryDomain": ""
}}
EOF
)" >/dev/null
}

# kwok sets node conditions shortly after the nodes appear; kubectl wait
# errors out on a node with no conditions yet, so poll with a deadline.
wait_nodes_ready() {
  local want=$1 ready deadline=$((SECONDS + 60))
  while :; do
    ready=$(kctl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$' || true)
    [ "$ready" -eq "$want" ] && return 0
    [ $SECONDS -lt $deadline ] || die "only $ready of $want nodes became Ready within 60s (see $KWOK_WORKDIR/clusters/$name/logs/kwok-controller.log)"
    sleep 0.2
  done
}

create_profile() {
  local profile=$1 topo
  start_cluster "$profile"
  nodes "$profile" | kctl apply --server-side -f - >/dev/null
  topo=$(topology "$profile")
  if [ -n "$topo" ]; then
    # shellcheck disable=SC2086
    install_infrastructure $topo
  fi
  wait_nodes_ready "$(nodes "$profile" | grep -c '^kind: Node')"
}

up() {
  local profile=${1:-ha}
  case " $profiles " in
    *" $profile "*) ;;
    *) die "unknown profile '$profile'; valid profiles: $profiles" ;;
  esac
  bin=$("$here/build-tools.sh")

  local current
  if current=$(running_profile); then
    if [ "$current" = "$profile" ]; then
      revive_components
      log "profile $profile is already running"
      echo "kubeconfig: $kubeconfig"
      return 0
    fi
    log "replacing running profile $current"
  fi
  stop_cluster
  # kwokctl picks free ports when it starts; another cluster starting at the
  # same moment can take one first. That race is the only expected failure,
  # so one clean retry is enough.
  if ! (create_profile "$profile"); then
    log "starting profile $profile failed; retrying once from scratch"
    stop_cluster
    (create_profile "$profile") || die "could not start profile $profile (see the messages above)"
  fi
  local topo
  topo=$(topology "$profile")
  echo "$profile" >"$state/profile"
  record_components
  log "profile $profile is up: $(kctl get nodes --no-headers | wc -l) nodes${topo:+, topology $topo}"
  echo "kubeconfig: $kubeconfig"
}

down() {
  bin=$("$here/build-tools.sh" --dir)
  stop_cluster
  log "stopped and removed $state"
}

# Fault injection for tests: stop the kube-apiserver alone (clients get
# connection refused) and start it again with the exact same command line.
# kwok-controller is restarted with it (see restart_kwok_controller).
component_pidfile() { echo "$KWOK_WORKDIR/clusters/$name/pids/$1.pid"; }
component_log() { echo "$KWOK_WORKDIR/clusters/$name/logs/$1.log"; }

# component_pid NAME prints the pid of this cluster's NAME (kube-apiserver,
# kwok-controller). It never names a recycled pid: the process's command
# line must be this cluster's NAME.
component_pid() {
  local component=$1 pidfile pid
  pidfile=$(component_pidfile "$component")
  [ -f "$pidfile" ] || die "no running cluster (no $pidfile)"
  pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] || die "$component (pid $pid) is not running"
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$KWOK_WORKDIR/.*$component" ||
    die "pid $pid in $pidfile is not this cluster's $component"
  echo "$pid"
}

# stop_process PID TENTHS: SIGTERM, SIGKILL after TENTHS tenths of a second,
# and return once it is gone (until then its port is taken). SIGCONT first:
# a test may have frozen it (SIGSTOP), and a stopped process ignores SIGTERM.
stop_process() {
  local pid=$1 tenths=$2
  kill -CONT "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$tenths"); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
}

# launch COMPONENT DIR ARGV...: starts it detached in DIR, appending to its
# log, and records its pid. exec: the pid recorded is the process's own, not
# a wrapper subshell's (whose command line would be this script's).
launch() {
  local component=$1 dir=$2
  shift 2
  (cd "$dir" && exec setsid "$@" >>"$(component_log "$component")" 2>&1 </dev/null) &
  echo $! >"$(component_pidfile "$component")"
}

stop_apiserver() {
  local pid
  pid=$(component_pid kube-apiserver)
  tr '\0' '\n' <"/proc/$pid/cmdline" >"$state/apiserver.cmdline"
  readlink "/proc/$pid/cwd" >"$state/apiserver.cwd"
  stop_process "$pid" 100
  # While it is down, the test harness (test/support/faults.ts) holds its
  # port, reading it from apiserver.cmdline.
  log "kube-apiserver stopped"
}

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
  [ -r "/proc/$1/stat" ] || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

start_apiserver() {
  [ -f "$state/apiserver.cmdline" ] || die "the apiserver was not stopped with stop-apiserver"
  local cmd=()
  mapfile -t cmd <"$state/apiserver.cmdline"
  local apiserver_log attempt pid deadline
  apiserver_log=$(component_log kube-apiserver)
  # A second attempt covers a launch that dies at once (say, a parallel
  # cluster binding the port in the moment between the harness releasing it
  # and the apiserver binding it).
  for attempt in 1 2; do
    launch kube-apiserver "$(cat "$state/apiserver.cwd")" "${cmd[@]}"
    pid=$(cat "$(component_pidfile kube-apiserver)")
    deadline=$((SECONDS + 120))
    until "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout=2s get --raw /readyz >/dev/null 2>&1; do
      running "$pid" || break
      [ $SECONDS -lt $deadline ] || die "kube-apiserver did not become ready within 120s; last log lines:
$(tail -n 5 "$apiserver_log")"
      sleep 0.2
    done
    running "$pid" && break
    log "kube-apiserver exited during start (attempt $attempt); last log lines:"
    tail -n 5 "$apiserver_log" >&2
    [ "$attempt" = 1 ] || die "kube-apiserver could not be started again"
    sleep 1
  done
  rm -f "$state/apiserver.cmdline" "$state/apiserver.cwd"
  log "kube-apiserver started"
  restart_kwok_controller
  revive_components
}

# kube-scheduler and kube-controller-manager can exit on their own: the
# scheduler exits when it finds its cache corrupted, which the fault tests
# provoke (a Pod seen on another node than the one it was bound to, across
# an apiserver outage). On a real cluster the kubelet restarts them; here,
# with none running, every later Pod would stay Pending. Their command lines
# are recorded once the cluster is up, and any that exited is started again
# with it whenever a test asks for the cluster (up) or restarts the apiserver.
SUPERVISED="kube-scheduler kube-controller-manager"

record_components() {
  local component pid
  for component in $SUPERVISED; do
    pid=$(component_pid "$component")
    cp "/proc/$pid/cmdline" "$state/$component.cmdline"
    readlink "/proc/$pid/cwd" >"$state/$component.cwd"
  done
}

revive_components() {
  local component pid cmd=()
  for component in $SUPERVISED; do
    [ -f "$state/$component.cmdline" ] || continue
    pid=$(cat "$(component_pidfile "$component")" 2>/dev/null || echo 0)
    running "$pid" && continue
    log "$component had exited; starting it again (its last log lines follow)"
    tail -n 3 "$(component_log "$component")" >&2
    mapfile -t -d '' cmd <"$state/$component.cmdline"
    launch "$component" "$(cat "$state/$component.cwd")" "${cmd[@]}"
  done
}

# After an apiserver outage kwok can take minutes to run new Pods again (over
# 120 s measured on a loaded CI machine), where real kubelets recover within
# seconds. kwok stands in for the kubelets, so it is restarted with its exact
# command line. A kwok instance manages a node only while it holds the node's
# Lease (kwokctl sets a 200 s duration), so the old instance's Leases are
# deleted first; the new one creates its own, and fake Pods run at once.
restart_kwok_controller() {
  local pid cwd cmd=()
  pid=$(component_pid kwok-controller)
  mapfile -t -d '' cmd <"/proc/$pid/cmdline"
  cwd=$(readlink "/proc/$pid/cwd")
  stop_process "$pid" 50
  "$bin/kubectl" --kubeconfig "$kubeconfig" -n kube-node-lease delete lease --all --wait=false >/dev/null
  launch kwok-controller "$cwd" "${cmd[@]}"
  log "kwok-controller restarted"
}

case ${1:-} in
  stop-apiserver) stop_apiserver ;;
  start-apiserver) bin=$("$here/build-tools.sh" --dir); start_apiserver ;;
  up) up "${2:-${PROFILE:-ha}}" ;;
  down) down ;;
  profiles) echo "$profiles" ;;
  *) usage ;;
esac
