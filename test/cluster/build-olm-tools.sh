#!/usr/bin/env bash
# Builds the pinned OLM tooling from source into the same cache as the local
# cluster's binaries (see build-tools.sh), and prints the bin directory:
#   operator-sdk  validates the generated bundle (make bundle)
#   olm, catalog, package-server, cpb, copy-content
#                 OLM v0 as its release image ships it (test/kind/images.sh
#                 puts them in memcached-operator.local/olm); cpb and
#                 copy-content are what OLM's bundle-unpack job and catalog
#                 pod copy out of that image
#   opm           the catalog tool and catalog server, from the
#                 operator-registry version OLM pins (CGO, glibc: its sqlite)
#   grpc_health_probe  the catalog pod's probe, at operator-registry's pin
#   scorecard-test  operator-sdk's scorecard test runner (its image is built
#                 by test/kind/images.sh)
# and, into $REGISTRY_BIN (its own directory, named from its version), the
# distribution registry that runs next to the kind nodes. It copies OLM's
# release manifests (crds.yaml, olm.yaml), from the same pinned module, to
# ../manifests/olm-release for make olm-install.
# A warm cache builds nothing.
#
#   build-olm-tools.sh                 build what is missing, print the bin directory
#   build-olm-tools.sh --dir           print the bin directory only
#   build-olm-tools.sh --registry-dir  print the registry's bin directory only
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"

# shellcheck source=versions.env
. "$here/versions.env"
# shellcheck source=olm-versions.env
. "$here/olm-versions.env"

bin="$TOOLS_CACHE/operator-sdk-$OPERATOR_SDK_VERSION-olm-$OLM_VERSION/bin"
registry_bin="$TOOLS_CACHE/registry-$REGISTRY_VERSION/bin"
if [ "${1:-}" = "--dir" ]; then echo "$bin"; exit 0; fi
if [ "${1:-}" = "--registry-dir" ]; then echo "$registry_bin"; exit 0; fi

# shellcheck source=gobuild.sh
. "$here/gobuild.sh"
require_pin "$here/tools/operator-sdk/go.mod" github.com/operator-framework/operator-sdk "$OPERATOR_SDK_VERSION"
require_pin "$here/tools/olm/go.mod" github.com/operator-framework/operator-lifecycle-manager "$OLM_VERSION"
require_pin "$here/tools/olm/go.mod" github.com/operator-framework/operator-registry "$OPM_VERSION"
require_pin "$here/tools/registry/go.mod" github.com/distribution/distribution/v3 "$REGISTRY_VERSION"

mkdir -p "$bin" "$registry_bin"
# One build at a time: CI builds these in the background (kind.sh prepare)
# while the packaging test may ask for operator-sdk; the second caller waits
# for the first, then finds everything built.
lock_cache .build-olm-tools.lock

sdk=github.com/operator-framework/operator-sdk
sdk_version="-X $sdk/internal/version.Version=$OPERATOR_SDK_VERSION -X $sdk/internal/version.GitVersion=$OPERATOR_SDK_VERSION -X $sdk/internal/version.ImageVersion=$OPERATOR_SDK_VERSION"
GO_TAGS=containers_image_openpgp go_build "$here/tools/operator-sdk" "-s -w $sdk_version" operator-sdk=$sdk/cmd/operator-sdk
# operator-sdk's scorecard-test, from the very source operator-sdk was built from.
GO_TAGS=containers_image_openpgp go_build "$here/tools/operator-sdk" "-s -w" scorecard-test=$sdk/images/scorecard-test

olm=github.com/operator-framework/operator-lifecycle-manager
GO_TAGS=json1 go_build "$here/tools/olm" "-s -w -X $olm/pkg/version.OLMVersion=${OLM_VERSION#v}" \
  olm=$olm/cmd/olm catalog=$olm/cmd/catalog package-server=$olm/cmd/package-server \
  copy-content=$olm/cmd/copy-content cpb=$olm/util/cpb
# opm: CGO on (its sqlite registry backend), the tags upstream builds with.
reg=github.com/operator-framework/operator-registry
CGO_ENABLED=1 GO_TAGS=json1,containers_image_openpgp go_build "$here/tools/olm" \
  "-s -w -X $reg/cmd/opm/version.opmVersion=$OPM_VERSION" opm=$reg/cmd/opm
# The catalog pod's probe (OLM execs grpc_health_probe in the catalog image).
go_build "$here/tools/olm" "-s -w" grpc_health_probe=github.com/grpc-ecosystem/grpc-health-probe
bin=$registry_bin go_build "$here/tools/registry" \
  "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" \
  registry=github.com/distribution/distribution/v3/cmd/registry

# OLM's release manifests (what a user applies: the quickstart), same module.
release="$bin/../manifests/olm-release"
if [ ! -f "$release/.complete" ] || [ ! -d "$release/crds" ]; then
  olm_dir=$(go_module_dir "$here/tools/olm" "$olm")
  tmp="$release.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  # The CRDs from deploy/chart/crds: the quickstart's crds.yaml of v0.38.0
  # lacks OLMConfig, which the olm operator watches.
  mkdir -p "$tmp/crds"
  cp "$olm_dir"/deploy/chart/crds/*.yaml "$tmp/crds/"
  cp "$olm_dir"/deploy/upstream/quickstart/olm.yaml "$tmp/"
  chmod -R u+w "$tmp"
  touch "$tmp/.complete"
  rm -rf "$release" && mv "$tmp" "$release"
fi
echo "$bin"
