# Shared settings of the kind test bed scripts, on top of the repository's
# shell library (logging, caches, checks). Source it; it sets no options.
# shellcheck shell=bash disable=SC2034 # the names are for the scripts that source this
kind_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$kind_here/../../scripts/lib.sh"
kind_repo=$repo_root
# shellcheck source=../cluster/versions.env
. "$kind_repo/test/cluster/versions.env"
# shellcheck source=versions.env
. "$kind_here/versions.env"
# shellcheck source=monitoring-versions.env
. "$kind_here/monitoring-versions.env"
# shellcheck source=../cluster/olm-versions.env
. "$kind_repo/test/cluster/olm-versions.env"

# The private dockerd's data root, exec root, pidfile, socket and log (under
# KIND_CACHE, scripts/lib.sh).
KIND_DOCKER_DIR=${KIND_DOCKER_DIR:-$KIND_CACHE/docker}
# Per checkout: kubeconfig and images.env (KIND_STATE_DIR moves it).
KIND_STATE_DIR=${KIND_STATE_DIR:-$kind_repo/.kind}
KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME:-memcached-operator-e2e}

# Local image names: never a public image's name.
LOCAL_REGISTRY=${LOCAL_REGISTRY:-memcached-operator.local}
KIND_IMAGE_REPO="$LOCAL_REGISTRY/k8s" # kubeadm imageRepository
ETCD_IMAGE_TAG=${ETCD_VERSION#v}
NODE_IMAGE="$LOCAL_REGISTRY/kind-node:$KUBE_VERSION-kind-$KIND_VERSION-$DEBIAN_SUITE"
NODE_BASE_IMAGE="$LOCAL_REGISTRY/kind-base:kind-$KIND_VERSION-$DEBIAN_SUITE"
DEBIAN_IMAGE="$LOCAL_REGISTRY/debian:$DEBIAN_SUITE"
NODE_BUILD_IMAGE="$LOCAL_REGISTRY/node:$NODE_VERSION-$DEBIAN_SUITE"
NODE_RUNTIME_IMAGE="$LOCAL_REGISTRY/nodejs-runtime:$NODE_VERSION"
MEMCACHED_LOCAL_IMAGE="$LOCAL_REGISTRY/memcached:$MEMCACHED_VERSION-$DEBIAN_SUITE"
# The same memcached image under a second tag: keep-the-cache's "image
# changed" row moves a Memcached to it (a new image name, the same memcached).
MEMCACHED_RETAG_IMAGE="$LOCAL_REGISTRY/memcached:$MEMCACHED_VERSION-$DEBIAN_SUITE-retag"
# Our own test image (not a stand-in for a public one): pylibmc and the
# cache-client script, keep-the-cache's consistent-hashing client.
CACHE_CLIENT_IMAGE="$LOCAL_REGISTRY/cache-client:pylibmc-$DEBIAN_SUITE"
PROMETHEUS_OPERATOR_IMAGE="$LOCAL_REGISTRY/prometheus-operator:$PROMETHEUS_OPERATOR_VERSION"
PROMETHEUS_CONFIG_RELOADER_IMAGE="$LOCAL_REGISTRY/prometheus-config-reloader:$PROMETHEUS_OPERATOR_VERSION"
PROMETHEUS_IMAGE="$LOCAL_REGISTRY/prometheus:$PROMETHEUS_VERSION"
# OLM v0 and its catalog tooling, built from the pinned Go modules
# (images.sh olm-images), and the registry next to the kind nodes.
OLM_LOCAL_IMAGE="$LOCAL_REGISTRY/olm:$OLM_VERSION"
OPM_LOCAL_IMAGE="$LOCAL_REGISTRY/opm:$OPM_VERSION"
SCORECARD_LOCAL_IMAGE="$LOCAL_REGISTRY/scorecard-test:$OPERATOR_SDK_VERSION"
REGISTRY_LOCAL_IMAGE="$LOCAL_REGISTRY/registry:$REGISTRY_VERSION"
# The registry container (one per dockerd, shared by its kind clusters): on
# the kind network under this name, published on the host's loopback.
# REGISTRY_CONTAINER and REGISTRY_HOST_PORT move it (a second registry on the
# same dockerd, e.g. to try a change without touching the shared one).
REGISTRY_CONTAINER=${REGISTRY_CONTAINER:-memcached-operator-registry}
REGISTRY_HOST_PORT=${REGISTRY_HOST_PORT:-5001}
# Its TLS: a test CA and the registry's serving certificate (kind.sh makes
# them with openssl on first use), kept with the bed's caches, never in git.
REGISTRY_TLS_DIR="$KIND_CACHE/registry-tls/$REGISTRY_CONTAINER"

# The apt mirror this machine is configured with (never written into the
# repository: read at run time from /etc/apt/sources.list*).
kind_apt_mirror() {
  local m=""
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | grep -m1 '/debian/\?$' || true)
  [ -n "$m" ] || die "no Debian mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR=<url of a Debian archive>"
  echo "${m%/}"
}

# The docker socket in use (written by dockerd.sh start).
kind_docker_env() {
  if [ -f "$KIND_DOCKER_DIR/env" ]; then
    # shellcheck disable=SC1091
    . "$KIND_DOCKER_DIR/env"
    export DOCKER_HOST
  fi
}
