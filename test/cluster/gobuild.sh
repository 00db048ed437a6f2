# shellcheck shell=bash
# Sourced (not run) by the scripts that build pinned Go tools into the tools
# cache: build-tools.sh, build-olm-tools.sh, build-monitoring-tools.sh and
# test/kind/build-node-tools.sh. Before sourcing, source scripts/lib.sh and
# versions.env, and set $bin (the output directory).
# shellcheck disable=SC2154 # $bin comes from the sourcing script

check_go

# Static binaries, reproducible paths, and go.sum as the only source of module
# versions. openshift/api and operator-framework publish pseudo-versions that
# are not in the checksum database, so go.sum in each wrapper module under
# tools/ is what verifies them.
export CGO_ENABLED=0
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/openshift/*,github.com/operator-framework/*"
export GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"

# go_build MODULE_DIR LDFLAGS NAME=PACKAGE... builds each binary missing from
# $bin, with the build tags in GO_TAGS (CGO_ENABLED=1 go_build ... links one
# against glibc).
go_build() {
  local dir=$1 ldflags=$2; shift 2
  local pair name pkg t0
  for pair in "$@"; do
    name=${pair%%=*} pkg=${pair#*=}
    [ -x "$bin/$name" ] && continue
    log "building $name (a cold build takes minutes on 2 cores)"
    t0=$SECONDS
    (cd "$dir" && go build -tags "${GO_TAGS:-}" -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg")
    mv "$bin/$name.tmp" "$bin/$name"
    log "built $name in $((SECONDS - t0)) s"
  done
}

# require_pin GO_MOD MODULE VERSION: the wrapper module requires MODULE at the
# VERSION the versions file names.
require_pin() {
  grep -qE "^(require )?[[:space:]]*$2 $3( |\$)" "$1" ||
    die "$1 does not require $2 $3 (the versions file says so): update one or the other"
}

# The version stamp Kubernetes binaries report (kubectl version, /version).
kube_ldflags="-s -w"
kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
