#!/usr/bin/env bash
# Removes OLM v0 from the cluster KUBECONFIG names, with everything it
# installed, and waits until its API is gone:
#   hack/olm-uninstall.sh KUBECTL MANIFEST_DIR
# MANIFEST_DIR is what make olm-install applied (crds/ and olm.yaml of the
# pinned release). The order matters: OLM's own objects first, while OLM
# still runs to clean up after them (a CSV's RBAC, its copies in every
# namespace, the packageserver's APIService and RBAC); then what olm.yaml
# created (namespaces olm and operators, the operators' deployments,
# ClusterRoles and bindings); then whatever OLM made at run time and left
# (labelled olm.owner, and the bundles' ClusterRoles, olm.managed); then the
# CRDs. The operators OLM installed go with their CSVs, but their CRDs stay,
# as OLM leaves them: remove the custom resources first, while those
# operators still run to finalize them, and the CRDs after.
# Idempotent: a cluster without OLM is left as it is.
set -euo pipefail
kubectl=${1:?usage: olm-uninstall.sh KUBECTL MANIFEST_DIR}
manifests=${2:?usage: olm-uninstall.sh KUBECTL MANIFEST_DIR}
timeout=${OLM_UNINSTALL_TIMEOUT:-180s}
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
if [ ! -d "$manifests/crds" ] || [ ! -f "$manifests/olm.yaml" ]; then die "no crds/ and olm.yaml in $manifests (test/cluster/build-olm-tools.sh copies them there)"; fi
k() { "$kubectl" "$@"; }

served() { k get crd "$1.operators.coreos.com" >/dev/null 2>&1; }

# 1. OLM's custom resources, in every namespace, while OLM runs. Copied CSVs
#    go with the original; OperatorGroups last (OLM reads them to clean up).
for kind in subscriptions clusterserviceversions installplans catalogsources operatorgroups; do
  if served "$kind"; then
    log "deleting every $kind.operators.coreos.com"
    k delete "$kind.operators.coreos.com" --all --all-namespaces --ignore-not-found --wait=true --timeout="$timeout" >/dev/null \
      || die "$kind.operators.coreos.com were not deleted within $timeout (kubectl get $kind.operators.coreos.com -A)"
  fi
done

# 2. What olm.yaml created (images do not matter for a delete).
log "deleting OLM's deployments, namespaces olm and operators, and its RBAC"
k delete -f "$manifests/olm.yaml" --ignore-not-found --wait=true --timeout="$timeout" >/dev/null \
  || die "OLM's objects were not deleted within $timeout"

# 3. What OLM made at run time and nothing removed: objects labelled with
#    their OLM owner (the packageserver's APIService and RBAC, OperatorGroup
#    ClusterRoles), cluster-wide and in kube-system.
for kind in apiservices clusterroles clusterrolebindings; do
  k delete "$kind" -l olm.owner --ignore-not-found --wait=true --timeout="$timeout" >/dev/null
done
# The cluster-wide RBAC objects of the bundles OLM installed (a bundle's
# ClusterRoles beside its CSV: OLM labels them olm.managed and leaves them
# when the CSV goes). CRDs are left: deleting one deletes its data.
k delete clusterroles,clusterrolebindings -l olm.managed=true --ignore-not-found --wait=true --timeout="$timeout" >/dev/null
k delete roles,rolebindings -l olm.owner --all-namespaces --ignore-not-found --wait=true --timeout="$timeout" >/dev/null
# An APIService's auth-reader RoleBinding in kube-system (the packageserver's,
# <service>-service-auth-reader) is labelled olm.managed, not olm.owner.
k delete roles,rolebindings -l olm.managed=true --all-namespaces --ignore-not-found --wait=true --timeout="$timeout" >/dev/null
# The packages API is OLM's, whoever labelled it.
{ k get apiservices -o name | grep '\.packages\.operators\.coreos\.com$' || true; } | xargs -r "$kubectl" delete --ignore-not-found >/dev/null

# 4. The CRDs.
log "deleting OLM's CRDs"
k delete -f "$manifests/crds" --ignore-not-found --wait=true --timeout="$timeout" >/dev/null \
  || die "OLM's CRDs were not deleted within $timeout"

left=$( { k get crd -o name | grep '\.operators\.coreos\.com$' || true
          k get apiservices -o name | grep 'operators\.coreos\.com$' || true
          k get namespace olm operators -o name --ignore-not-found 2>/dev/null || true; } )
[ -z "$left" ] || die "OLM is still on the cluster: $(echo "$left" | tr '\n' ' ')"
log "OLM is gone (no operators.coreos.com CRD or APIService, no olm or operators namespace)"
