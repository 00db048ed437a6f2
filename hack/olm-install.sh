#!/usr/bin/env bash
# Installs OLM v0 onto the cluster KUBECONFIG names, from its pinned release
# manifests (deploy/upstream/quickstart/olm.yaml and deploy/chart/crds of the OLM module that
# test/cluster/build-olm-tools.sh builds from), and waits until it is ready:
# the olm and catalog operators rolled out, the packageserver CSV Succeeded
# and its APIService Available.
#   hack/olm-install.sh KUBECTL MANIFEST_DIR OLM_IMG OPM_IMG
# The manifests' images are rewritten to OLM_IMG (olm, catalog,
# package-server, the bundle-unpack util image) and OPM_IMG (the bundle
# extractor, -opmImage); both must be pullable by the cluster's nodes (on the
# kind bed: pushed to REGISTRY, which make olm-install does). The quickstart's
# operatorhubio CatalogSource (a public catalog) is left out.
set -euo pipefail
kubectl=${1:?usage: olm-install.sh KUBECTL MANIFEST_DIR OLM_IMG OPM_IMG}
manifests=${2:?} olm_img=${3:?} opm_img=${4:?}
timeout=${OLM_INSTALL_TIMEOUT:-300s}
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
if [ ! -d "$manifests/crds" ] || [ ! -f "$manifests/olm.yaml" ]; then die "no crds/ and olm.yaml in $manifests (test/cluster/build-olm-tools.sh copies them there)"; fi

apply() { "$kubectl" apply --server-side --force-conflicts --field-manager=memcached-operator-olm-install -f "${1:--}"; }

log "OLM CRDs"
apply "$manifests/crds" >/dev/null
"$kubectl" wait --for=condition=Established --timeout="$timeout" -f "$manifests/crds" >/dev/null

log "OLM (images: $olm_img, opm $opm_img)"
node "$(dirname "${BASH_SOURCE[0]}")/olm-manifests.js" "$manifests/olm.yaml" "$olm_img" "$opm_img" | apply >/dev/null

show() {
  "$kubectl" -n olm get deploy,pods,csv -o wide >&2 || true
  "$kubectl" -n olm get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
}
for d in olm-operator catalog-operator; do
  "$kubectl" -n olm rollout status "deployment/$d" --timeout="$timeout" >/dev/null || { show; die "deployment $d did not roll out within $timeout"; }
done
# The packageserver CSV is created by the olm operator: wait for it to exist.
for _ in $(seq 1 120); do
  "$kubectl" -n olm get csv packageserver >/dev/null 2>&1 && break
  sleep 1
done
"$kubectl" -n olm wait --for=jsonpath='{.status.phase}'=Succeeded csv/packageserver --timeout="$timeout" >/dev/null \
  || { show; die "the packageserver CSV did not reach Succeeded within $timeout"; }
"$kubectl" wait --for=condition=Available apiservice/v1.packages.operators.coreos.com --timeout="$timeout" >/dev/null \
  || { show; die "the packages.operators.coreos.com APIService is not Available within $timeout"; }
log "OLM $("$kubectl" -n olm get deploy olm-operator -o jsonpath='{.spec.template.spec.containers[0].image}') is ready (packageserver Available)"
