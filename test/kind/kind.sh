#!/usr/bin/env bash
# The kind test bed: real containers, offline.
#
#   kind.sh up          install what is missing (apt), start dockerd, build
#                       the cached images, create the cluster (1 control plane
#                       + 3 workers), load the memcached image and, when built,
#                       the operator image ($IMG); write $KIND_STATE_DIR/kubeconfig
#                       and $KIND_STATE_DIR/images.env. Idempotent.
#   kind.sh prepare     everything up does before it creates the cluster
#                       (packages, Go tools, dockerd, every local image the
#                       specs use, OLM's and monitoring's included), under
#                       the same lock: CI runs it in the background while the
#                       kwok suites run, and up waits for it. Idempotent.
#   kind.sh down        delete the cluster, stop the dockerd that up started
#                       (kept while other kind clusters run on it, unless
#                       KIND_DOWN_FORCE=1).
#   kind.sh clean       down (forced), then remove the cached images, the
#                       dockerd data root, the debootstrap and npm downloads.
#   kind.sh load IMAGE  load a locally built image into every node.
#   kind.sh env         print images.env.
#   kind.sh registry    (re)start the registry next to the nodes, point the
#                       cluster's nodes at it and rewrite images.env (up does
#                       it too).
#
# Environment: KIND_STATE_DIR (default <repo>/.kind), KIND_CLUSTER_NAME
# (memcached-operator-e2e), KIND_WORKERS (3), IMG (the operator image to load
# if it exists).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kubeconfig="$KIND_STATE_DIR/kubeconfig"
images_env="$KIND_STATE_DIR/images.env"

# What every command that builds or starts the bed checks first: root, Go
# and free disk (scripts/preflight.sh kind), then the packages it runs.
prerequisites() {
  "$kind_repo/scripts/preflight.sh" kind
  ensure_packages dockerd=docker.io docker=docker.io containerd=containerd runc=runc debootstrap=debootstrap \
    /usr/lib/cni/bridge=containernetworking-plugins iptables=iptables jq=jq curl=curl \
    setsid=util-linux flock=util-linux
  command -v npm >/dev/null || die "npm is missing: Node.js with npm is a prerequisite (README)"
}

# Each kind node runs systemd, containerd and a kubelet, and every one of
# them takes inotify instances: at the kernel's default of 128 per user, the
# kubelets of a 4-node cluster (more with two clusters) fail with
# "inotify_init: too many open files". Raise the host's limits (never lower).
host_limits() {
  local key want have
  for kv in fs.inotify.max_user_instances=1024 fs.inotify.max_user_watches=524288; do
    key=${kv%%=*} want=${kv#*=}
    have=$(sysctl -n "$key" 2>/dev/null || echo 0)
    if [ "$have" -lt "$want" ]; then
      sysctl -q -w "$key=$want" >/dev/null 2>&1 \
        || log "warning: could not raise $key from $have to $want; kubelets may fail with 'too many open files'"
    fi
  done
}

# One kind.sh at a time per cache (images, dockerd): a second waits.
lock() {
  mkdir -p "$KIND_CACHE"
  exec 9>"$KIND_CACHE/kind.lock"
  if ! flock -n 9; then
    log "another kind.sh is running on $KIND_CACHE; waiting for it"
    flock 9
  fi
}

tools() {
  CLUSTER_BIN=$("$kind_repo/test/cluster/build-tools.sh")
  NODE_BIN=$("$kind_here/build-node-tools.sh")
  KIND="$NODE_BIN/kind"
  KUBECTL="$CLUSTER_BIN/kubectl"
}

# kind get clusters asks docker, which can fail for a moment while the daemon
# is busy (image loads, pushes): ask up to three times before saying no.
cluster_exists() {
  local i clusters
  for i in 1 2 3; do
    if clusters=$("$KIND" get clusters 2>/dev/null); then
      grep -qx "$KIND_CLUSTER_NAME" <<<"$clusters"
      return
    fi
    [ "$i" -lt 3 ] && sleep 1
  done
  return 1
}

# The cluster's node count: the control plane and KIND_WORKERS workers.
node_count() { echo $(( ${KIND_WORKERS:-3} + 1 )); }

cluster_healthy() {
  local n
  n=$(docker ps --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER_NAME" --filter status=running -q | wc -l)
  local want
  want=$(node_count)
  [ "$n" -eq "$want" ] || return 1
  [ -f "$kubeconfig" ] || "$KIND" get kubeconfig --name "$KIND_CLUSTER_NAME" >"$kubeconfig" 2>/dev/null || return 1
  "$KUBECTL" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1 || return 1
  # every node registered and Ready
  [ "$("$KUBECTL" --kubeconfig "$kubeconfig" get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)" -eq "$want" ] || return 1
  # The image the nodes run must be the one just built.
  [ "$(docker inspect -f '{{.Image}}' "$KIND_CLUSTER_NAME-control-plane" 2>/dev/null)" = \
    "$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE" 2>/dev/null)" ]
}

create_cluster() {
  local cfg="$KIND_STATE_DIR/kind-config.yaml" start
  local workers="${KIND_WORKERS:-3}" worker_nodes="" i
  [[ "$workers" =~ ^[1-9]$ ]] || die "KIND_WORKERS must be a number from 1 to 9, not '$workers'"
  for ((i = 0; i < workers; i++)); do
    worker_nodes+="  - role: worker\n    image: $NODE_IMAGE\n"
  done
  sed -e "s#@CLUSTER_NAME@#$KIND_CLUSTER_NAME#" -e "s#@NODE_IMAGE@#$NODE_IMAGE#" \
      -e "s#@IMAGE_REPO@#$KIND_IMAGE_REPO#" -e "s#@ETCD_TAG@#$ETCD_IMAGE_TAG#" \
      -e "s#@WORKERS@#$worker_nodes#" \
      "$kind_here/kind-config.yaml.tmpl" >"$cfg"
  start=$(date +%s)
  log "creating cluster $KIND_CLUSTER_NAME (1 control plane, $workers workers)"
  if ! "$KIND" create cluster --config "$cfg" --kubeconfig "$kubeconfig" --retain 2>&1 | tee "$KIND_CACHE/logs/kind-create.log" >&2; then
    log "kind create cluster failed; node logs: $KIND_CACHE/logs/kind-export"
    rm -rf "$KIND_CACHE/logs/kind-export"
    "$KIND" export logs --name "$KIND_CLUSTER_NAME" "$KIND_CACHE/logs/kind-export" >/dev/null 2>&1 || true
    "$KIND" delete cluster --name "$KIND_CLUSTER_NAME" >/dev/null 2>&1 || true
    die "could not create the kind cluster (see above and $KIND_CACHE/logs/kind-export)"
  fi
  log "cluster created in $(( $(date +%s) - start ))s"
}

# The bridge CNI on each node (kind-bridge-cni.service) covers its own
# podCIDR; here every node gets a route to each other node's podCIDR through
# that node's address (what kindnetd would do). Idempotent.
pod_routes() {
  local k=("$KUBECTL" --kubeconfig "$kubeconfig") nodes node want
  want=$(node_count)
  for _ in $(seq 1 60); do
    nodes=$("${k[@]}" get nodes -o \
      jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null) || nodes=""
    # every node registered, with a podCIDR and an address
    [ "$(awk 'NF == 3' <<<"$nodes" | wc -l)" -eq "$want" ] && break
    sleep 2
  done
  [ "$(awk 'NF == 3' <<<"$nodes" | wc -l)" -eq "$want" ] || { echo "$nodes" >&2; die "nodes have no podCIDR after 120 s"; }
  local cmds pids=() failed=0 p
  # shellcheck disable=SC2013
  for node in $(awk '{print $1}' <<<"$nodes"); do # node names have no spaces
    cmds=$(awk -v self="$node" '$1 != self {printf "ip route replace %s via %s && ", $2, $3}' <<<"$nodes")
    docker exec "$node" sh -c "${cmds}true" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || die "could not set the pod routes between the nodes ($nodes)"
}

wait_ready() {
  local k=("$KUBECTL" --kubeconfig "$kubeconfig")
  "${k[@]}" wait --for=condition=Ready nodes --all --timeout=180s >/dev/null \
    || { "${k[@]}" get nodes -o wide >&2; die "nodes did not become Ready within 180 s"; }
  "${k[@]}" -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null \
    || { "${k[@]}" -n kube-system get pods -o wide >&2; die "coredns did not become Ready within 180 s"; }
}

load() { # IMAGE...
  local img
  for img in "$@"; do
    docker image inspect "$img" >/dev/null 2>&1 \
      || die "image $img is not in the test bed's docker ($DOCKER_HOST): build it first (make docker-build IMG=$img)"
    "$KIND" load docker-image --name "$KIND_CLUSTER_NAME" "$img" >/dev/null \
      || die "could not load $img into cluster $KIND_CLUSTER_NAME"
    log "loaded $img"
  done
}

# The registry next to the kind nodes: one container per dockerd (its
# clusters share it), on the kind network as $REGISTRY_CONTAINER:5000 and on
# the host's loopback as localhost:$REGISTRY_HOST_PORT, which is the name
# images are pushed and pulled under (REGISTRY in images.env). Its storage is
# a docker volume, so images survive a restart.
# It serves HTTPS with a certificate from a test CA: operator-sdk run bundle
# reads an index image over HTTPS only (whatever --use-http says), so a plain
# HTTP registry cannot serve it. Everything that talks to it trusts that CA:
# the nodes' containerd (hosts.toml), the bed's dockerd (certs.d), and the
# host's Go tools (opm, operator-sdk) through SSL_CERT_FILE=REGISTRY_CA_BUNDLE.
registry_endpoint() { echo "localhost:$REGISTRY_HOST_PORT"; }

# registry_tls: the test CA and the registry's serving certificate (names:
# localhost, 127.0.0.1, and the container's name on the kind network), made
# once; and ca-bundle.crt, the host's CA bundle plus the test CA, for
# SSL_CERT_FILE (which replaces the system roots in Go). Idempotent.
registry_tls() {
  local d=$REGISTRY_TLS_DIR tmp system=/etc/ssl/certs/ca-certificates.crt
  if [ ! -s "$d/tls.crt" ] || [ ! -s "$d/ca.crt" ]; then
    command -v openssl >/dev/null || die "openssl is missing: it makes the registry's test CA (apt-get install openssl)"
    tmp="$d.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    log "registry: making a test CA and a serving certificate in $d"
    {
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=memcached-operator kind bed test CA" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=$REGISTRY_CONTAINER" -keyout "$tmp/tls.key" -out "$tmp/tls.csr" &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
        "$REGISTRY_CONTAINER" >"$tmp/ext.cnf" &&
      openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
        -days 3650 -extfile "$tmp/ext.cnf" -out "$tmp/tls.crt"
    } >"$KIND_CACHE/logs/registry-tls.log" 2>&1 || die "openssl failed to make the registry's certificates ($KIND_CACHE/logs/registry-tls.log)"
    rm -f "$tmp/tls.csr" "$tmp/ext.cnf" "$tmp/ca.srl"
    # The registry reads the key as its own user; the directory is the bed's.
    chmod 0644 "$tmp/tls.key"; chmod 0600 "$tmp/ca.key"
    rm -rf "$d"; mv "$tmp" "$d"
  fi
  { [ -f "$system" ] && cat "$system"; cat "$d/ca.crt"; } >"$d/ca-bundle.crt.tmp"
  mv "$d/ca-bundle.crt.tmp" "$d/ca-bundle.crt"
}

registry_up() {
  local running image want tls_id
  registry_tls
  want=$(docker image inspect -f '{{.Id}}' "$REGISTRY_LOCAL_IMAGE")
  tls_id=$(sha256sum <"$REGISTRY_TLS_DIR/tls.crt" | cut -c1-16)
  image=$(docker inspect -f '{{.Image}}' "$REGISTRY_CONTAINER" 2>/dev/null || true)
  if [ -n "$image" ] && { [ "$image" != "$want" ] ||
      [ "$(docker inspect -f '{{ index .Config.Labels "memcached-operator.registry-tls" }}' "$REGISTRY_CONTAINER")" != "$tls_id" ]; }; then
    log "registry: recreating $REGISTRY_CONTAINER (new $REGISTRY_LOCAL_IMAGE or certificate)"
    docker rm -f "$REGISTRY_CONTAINER" >/dev/null
    image=""
  fi
  if [ -z "$image" ]; then
    # TLS through the registry's environment overrides of its config, so the
    # image (and its config.yml) stays as it was.
    docker run -d --restart=always --name "$REGISTRY_CONTAINER" --label "memcached-operator.registry-tls=$tls_id" \
      -p "127.0.0.1:$REGISTRY_HOST_PORT:5000" -v "$REGISTRY_CONTAINER:/var/lib/registry" \
      -v "$REGISTRY_TLS_DIR:/etc/distribution/tls:ro" \
      -e REGISTRY_HTTP_TLS_CERTIFICATE=/etc/distribution/tls/tls.crt -e REGISTRY_HTTP_TLS_KEY=/etc/distribution/tls/tls.key \
      "$REGISTRY_LOCAL_IMAGE" >/dev/null \
      || die "could not start the registry container (is 127.0.0.1:$REGISTRY_HOST_PORT taken? REGISTRY_HOST_PORT moves it)"
  fi
  running=$(docker inspect -f '{{.State.Running}}' "$REGISTRY_CONTAINER")
  [ "$running" = true ] || docker start "$REGISTRY_CONTAINER" >/dev/null
  # The kind network exists once a cluster does.
  if ! docker inspect -f '{{json .NetworkSettings.Networks}}' "$REGISTRY_CONTAINER" | grep -q '"kind"'; then
    docker network connect kind "$REGISTRY_CONTAINER" || die "could not connect $REGISTRY_CONTAINER to the kind network"
  fi
  local i url
  url="https://$(registry_endpoint)/v2/"
  for i in $(seq 1 50); do
    curl -fsS --cacert "$REGISTRY_TLS_DIR/ca.crt" "$url" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS --cacert "$REGISTRY_TLS_DIR/ca.crt" "$url" >/dev/null || die "the registry does not answer at $url (docker logs $REGISTRY_CONTAINER)"
  # The bed's dockerd (it pushes) trusts the CA for the registry's host name
  # (docker reads /etc/docker/certs.d/<host:port>/ca.crt on each push).
  if ! { mkdir -p "/etc/docker/certs.d/$(registry_endpoint)" && cp "$REGISTRY_TLS_DIR/ca.crt" "/etc/docker/certs.d/$(registry_endpoint)/ca.crt"; }; then
    log "warning: could not write /etc/docker/certs.d/$(registry_endpoint)/ca.crt; docker still pushes to a loopback registry, unverified"
  fi
  # Every node of the cluster pulls $(registry_endpoint)/... from the registry
  # container over HTTPS, trusting the test CA (containerd reads hosts.toml on
  # each pull: no restart), and so $REGISTRY_CONTAINER:5000/..., the name the
  # registry has on the kind network (REGISTRY_IN_CLUSTER).
  local node dir host
  for node in $("$KIND" get nodes --name "$KIND_CLUSTER_NAME"); do
    for host in "$(registry_endpoint)" "$REGISTRY_CONTAINER:5000"; do
      dir="/etc/containerd/certs.d/$host"
      { docker exec "$node" mkdir -p "$dir" && docker cp "$REGISTRY_TLS_DIR/ca.crt" "$node:$dir/ca.crt"; } \
        || die "could not copy the registry's CA to $dir on node $node"
      printf '[host."https://%s:5000"]\n  capabilities = ["pull", "resolve"]\n  ca = "%s/ca.crt"\n' "$REGISTRY_CONTAINER" "$dir" \
        | docker exec -i "$node" sh -c "cat >'$dir/hosts.toml'" \
        || die "could not write $dir/hosts.toml on node $node"
    done
  done
}

write_env() {
  local tmp="$images_env.tmp"
  {
    echo "# Written by make kind-up (test/kind/kind.sh). Shell syntax: . $images_env"
    printf 'DOCKER_HOST=%q\n' "$DOCKER_HOST"
    printf 'KIND_CLUSTER_NAME=%q\n' "$KIND_CLUSTER_NAME"
    printf 'KUBECONFIG=%q\n' "$kubeconfig"
    printf 'KIND=%q\n' "$KIND"
    printf 'KUBECTL=%q\n' "$KUBECTL"
    printf 'MEMCACHED_IMG=%q\n' "$MEMCACHED_LOCAL_IMAGE"
    printf 'MEMCACHED_RETAG_IMG=%q\n' "$MEMCACHED_RETAG_IMAGE"
    printf 'CACHE_CLIENT_IMG=%q\n' "$CACHE_CLIENT_IMAGE"
    printf 'BUILD_IMAGE=%q\n' "$NODE_BUILD_IMAGE"
    printf 'RUNTIME_IMAGE=%q\n' "$NODE_RUNTIME_IMAGE"
    printf 'NODE_IMAGE=%q\n' "$NODE_IMAGE"
    printf 'REGISTRY=%q\n' "$(registry_endpoint)"
    printf 'REGISTRY_IN_CLUSTER=%q\n' "$REGISTRY_CONTAINER:5000"
    printf 'REGISTRY_CA=%q\n' "$REGISTRY_TLS_DIR/ca.crt"
    printf 'REGISTRY_CA_BUNDLE=%q\n' "$REGISTRY_TLS_DIR/ca-bundle.crt"
    printf 'OLM_IMG=%q\n' "$OLM_LOCAL_IMAGE"
    printf 'OPM_IMG=%q\n' "$OPM_LOCAL_IMAGE"
    printf 'SCORECARD_IMG=%q\n' "$SCORECARD_LOCAL_IMAGE"
  } >"$tmp"
  mv "$tmp" "$images_env"
}

# step NAME COMMAND...: run it, and note how long it took.
timings=""
step() {
  local name=$1 t0; shift
  t0=$(date +%s%N)
  "$@"
  timings+=" $name=$(( ($(date +%s%N) - t0) / 100000000 ))"
}

# What up needs before a cluster exists, plus the images only some specs
# build on demand (OLM's, monitoring's): done ahead, kind-up finds them cached.
prepare() {
  local start; start=$(date +%s)
  prerequisites
  lock
  step tools tools
  step dockerd "$kind_here/dockerd.sh" start >/dev/null
  kind_docker_env
  step images "$kind_here/images.sh" all
  step olm-images "$kind_here/images.sh" olm-images
  step monitoring-images "$kind_here/images.sh" monitoring-images
  log "prepared in $(( $(date +%s) - start ))s (steps, in 0.1 s:$timings)"
}

up() {
  local start; start=$(date +%s)
  prerequisites
  lock
  host_limits
  mkdir -p "$KIND_STATE_DIR" "$KIND_CACHE/logs"
  step tools tools
  step dockerd "$kind_here/dockerd.sh" start >/dev/null
  kind_docker_env
  step images "$kind_here/images.sh" all
  if cluster_exists && cluster_healthy; then
    log "cluster $KIND_CLUSTER_NAME is up"
  else
    if cluster_exists; then
      log "cluster $KIND_CLUSTER_NAME is not healthy (or runs an older node image): recreating it"
      step delete "$KIND" delete cluster --name "$KIND_CLUSTER_NAME" >/dev/null 2>&1 || true
    fi
    step create create_cluster
  fi
  step routes pod_routes
  step ready wait_ready
  step registry registry_up
  # The node image carries the memcached image, and the nodes run the current
  # node image (cluster_healthy or just created): nothing to load for it.
  if [ -n "${IMG:-}" ] && docker image inspect "$IMG" >/dev/null 2>&1; then step load-img load "$IMG"; fi
  write_env
  log "ready in $(( $(date +%s) - start ))s (steps, in 0.1 s:$timings): KUBECONFIG=$kubeconfig; images: $images_env"
}

down() {
  local owned=0 others
  lock
  if [ -f "$KIND_DOCKER_DIR/env" ]; then
    kind_docker_env
    owned=$(sed -n 's/^KIND_DOCKERD_OWNED=//p' "$KIND_DOCKER_DIR/env")
    KIND="$("$kind_here/build-node-tools.sh" --dir)/kind"
    if [ -x "$KIND" ] && docker version >/dev/null 2>&1 && cluster_exists; then
      log "deleting cluster $KIND_CLUSTER_NAME"
      "$KIND" delete cluster --name "$KIND_CLUSTER_NAME" >/dev/null 2>&1 || log "warning: kind delete cluster failed"
    fi
  fi
  if [ "$owned" = 1 ]; then
    # Other kind clusters on this dockerd (another KIND_CLUSTER_NAME): keep
    # it for them, unless KIND_DOWN_FORCE=1.
    others=$(docker ps -q --filter label=io.x-k8s.kind.cluster 2>/dev/null | wc -l)
    if [ "$others" -gt 0 ] && [ "${KIND_DOWN_FORCE:-0}" != 1 ]; then
      log "dockerd keeps running: other kind clusters use it ($("$KIND" get clusters 2>/dev/null | tr '\n' ' ')); KIND_DOWN_FORCE=1 stops it anyway"
    else
      "$kind_here/dockerd.sh" stop
    fi
  fi
  rm -f "$kubeconfig" "$images_env" "$KIND_STATE_DIR/kind-config.yaml"
  rmdir "$KIND_STATE_DIR" 2>/dev/null || true
}

case "${1:-}" in
  up) up ;;
  prepare) prepare ;;
  down) down ;;
  load)
    shift; [ $# -gt 0 ] || die "usage: kind.sh load IMAGE..."
    kind_docker_env; tools
    cluster_exists || die "no cluster $KIND_CLUSTER_NAME: make kind-up first"
    load "$@" ;;
  clean)
    # down, even past other clusters on our dockerd, then drop the caches
    # (images, dockerd data root, debootstrap tarball, npm packages); the Go
    # tools stay.
    KIND_DOWN_FORCE=1 down
    if [ -f "$KIND_DOCKER_DIR/dockerd.pid" ] && kill -0 "$(cat "$KIND_DOCKER_DIR/dockerd.pid")" 2>/dev/null; then
      die "the test bed's dockerd is still running; not removing its data root"
    fi
    rm -rf "$KIND_DOCKER_DIR" "$KIND_CACHE/rootfs" "$KIND_CACHE/npm" "$KIND_CACHE/work"
    log "removed the test bed's caches under $KIND_CACHE" ;;
  env) cat "$images_env" ;;
  registry)
    kind_docker_env; tools
    cluster_exists || die "no cluster $KIND_CLUSTER_NAME: make kind-up first"
    "$kind_here/images.sh" registry-image
    registry_up
    write_env ;;
  *) echo "usage: $0 up|prepare|down|clean|load IMAGE...|env|registry" >&2; exit 2 ;;
esac
