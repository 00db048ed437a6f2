#!/usr/bin/env bash
# Builds the pinned OLM tooling from source into the same cache as the local
# cluster's binaries (see build-tools.sh), and prints the bin directory:
#   operator-sdk  validates the generated bundle (make bundle)
#   olm           OLM's olm operator, run out of cluster by the OLM proof
#   csvrbac       the InstallPlan RBAC for a CSV, from OLM's own resolver
# and copies OLM's CRDs, from the same pinned module, to ../manifests/olm-crds.
# A warm cache builds nothing.
#
#   build-olm-tools.sh          build what is missing, print the bin directory
#   build-olm-tools.sh --dir    print the bin directory only
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
bin="$cache_root/operator-sdk-$OPERATOR_SDK_VERSION-olm-$OLM_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi

log() { echo "build-olm-tools: $*" >&2; }
die() { echo "build-olm-tools: error: $*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
  die "Go is not installed. Install Go 1.26 or newer (https://go.dev/doc/install) and retry."
fi

# The wrapper modules must pin the versions named above.
check_pin() {
  local dir=$1 module=$2 version=$3
  grep -qE "^require $module $version\$|^[[:space:]]$module $version\$" "$here/tools/$dir/go.mod" ||
    die "tools/$dir/go.mod does not require $module $version; update one or the other"
}
check_pin operator-sdk github.com/operator-framework/operator-sdk "$OPERATOR_SDK_VERSION"
check_pin olm github.com/operator-framework/operator-lifecycle-manager "$OLM_VERSION"

mkdir -p "$bin"
export CGO_ENABLED=0
# go.sum in each wrapper module is what verifies these modules.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/operator-framework/*,github.com/openshift/*"
export GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"

# build MODULE_DIR TAGS LDFLAGS NAME PACKAGE builds the binary when it is missing.
build() {
  local dir=$1 tags=$2 ldflags=$3 name=$4 pkg=$5
  [ -x "$bin/$name" ] && return 0
  log "building $name (a cold build takes minutes on 2 cores)"
  local t0=$SECONDS
  (cd "$here/tools/$dir" && go build -tags "$tags" -ldflags "$ldflags" -o "$bin/$name.tmp.$$" "$pkg")
  mv "$bin/$name.tmp.$$" "$bin/$name"
  log "built $name in $((SECONDS - t0))s"
}

sdk=github.com/operator-framework/operator-sdk
build operator-sdk containers_image_openpgp \
  "-s -w -X $sdk/internal/version.Version=$OPERATOR_SDK_VERSION -X $sdk/internal/version.GitVersion=$OPERATOR_SDK_VERSION -X $sdk/internal/version.ImageVersion=$OPERATOR_SDK_VERSION" \
  operator-sdk "$sdk/cmd/operator-sdk"

olm=github.com/operator-framework/operator-lifecycle-manager
build olm json1 \
  "-s -w -X $olm/pkg/version.OLMVersion=${OLM_VERSION#v}" \
  olm "$olm/cmd/olm"
# The RBAC OLM's catalog operator would create for a CSV (see tools/olm/csvrbac).
build olm "" "-s -w" csvrbac memcached-operator/test/cluster/tools/olm/csvrbac

# OLM's CRDs, from the very module the olm binary was built from.
crds="$bin/../manifests/olm-crds"
if [ ! -f "$crds/.complete" ]; then
  olm_dir=$(cd "$here/tools/olm" && go mod download -json "$olm" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$olm_dir/deploy/chart/crds" ] || die "no deploy/chart/crds in $olm_dir"
  tmp="$crds.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$olm_dir"/deploy/chart/crds/*.yaml "$tmp/"
  chmod u+w "$tmp"/*.yaml
  touch "$tmp/.complete"
  rm -rf "$crds" && mv "$tmp" "$crds"
fi
# On a profile with OpenShift's config API (Infrastructure), OLM also watches
# config.openshift.io Proxies, as on OpenShift: the real Proxy CRD, from the
# openshift/api version the cluster tools pin.
proxy_crd="$bin/../manifests/proxies.config.openshift.io.crd.yaml"
if [ ! -f "$proxy_crd" ]; then
  api_dir=$(cd "$here/tools/kubernetes" && go mod download -json github.com/openshift/api | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$api_dir/config/v1/zz_generated.crd-manifests/0000_03_config-operator_01_proxies.crd.yaml" "$proxy_crd.tmp.$$"
  chmod u+w "$proxy_crd.tmp.$$"
  mv "$proxy_crd.tmp.$$" "$proxy_crd"
fi
echo "$bin"
