#!/usr/bin/env bash
# Renders a kustomization under config/ with the manager image set to IMG,
# through a throw-away overlay, so no tracked file is edited:
#   hack/render.sh config/default quay.io/org/memcached-operator:v0.1.0 [MEMCACHED_IMG]
# A non-empty MEMCACHED_IMG replaces the manager's RELATED_IMAGE_MEMCACHED
# (the memcached image of every Memcached that names none), as OLM does from
# the bundle's relatedImages; empty keeps config/manager's default.
# kustomize is kubectl's own (the pinned kubectl of the local cluster tools,
# or KUBECTL); nothing is downloaded.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
dir=${1:?usage: render.sh CONFIG_DIR IMG}
img=${2:?usage: render.sh CONFIG_DIR IMG [MEMCACHED_IMG]}
memcached_img=${3:-}
case $memcached_img in
  *[[:space:]\"]*) die "MEMCACHED_IMG '$memcached_img' is not an image reference" ;;
esac
kubectl=${KUBECTL:-$("$repo_root/test/cluster/build-tools.sh" --dir)/kubectl}
[ -x "$kubectl" ] || die "$kubectl not found; run test/cluster/build-tools.sh (or set KUBECTL)"

# Split IMG into name and tag or digest, as kustomize wants them.
name=$img tag="" digest=""
case $img in
  *@*) name=${img%@*} digest=${img#*@} ;;
  *) last=${img##*/}; case $last in *:*) name=${img%:*} tag=${img##*:} ;; esac ;;
esac

overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "- $(realpath --relative-to="$overlay" "$dir")"
  echo "images:"
  echo "- name: controller"
  echo "  newName: $name"
  [ -z "$tag" ] || echo "  newTag: \"$tag\""
  [ -z "$digest" ] || echo "  digest: $digest"
  if [ -n "$memcached_img" ]; then
    # A strategic-merge patch: env merges by name, so only this value changes.
    echo "patches:"
    echo "- target: {group: apps, kind: Deployment, name: .*controller-manager}"
    echo "  patch: |-"
    echo "    apiVersion: apps/v1"
    echo "    kind: Deployment"
    echo "    metadata: {name: controller-manager}"
    echo "    spec:"
    echo "      template:"
    echo "        spec:"
    echo "          containers:"
    echo "          - name: manager"
    echo "            env:"
    echo "            - name: RELATED_IMAGE_MEMCACHED"
    echo "              value: \"$memcached_img\""
  fi
} >"$overlay/kustomization.yaml"
"$kubectl" kustomize "$overlay"
