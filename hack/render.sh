#!/usr/bin/env bash
# Renders a kustomization under config/ with the manager image set to IMG,
# through a throw-away overlay, so no tracked file is edited:
#   hack/render.sh config/default quay.io/org/memcached-operator:v0.1.0
# kustomize is kubectl's own (the pinned kubectl of the local cluster tools,
# or KUBECTL); nothing is downloaded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:?usage: render.sh CONFIG_DIR IMG}
img=${2:?usage: render.sh CONFIG_DIR IMG}
kubectl=${KUBECTL:-$("$root/test/cluster/build-tools.sh" --dir)/kubectl}
[ -x "$kubectl" ] || { echo "render: $kubectl not found; run make tools (or set KUBECTL)" >&2; exit 1; }

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
} >"$overlay/kustomization.yaml"
"$kubectl" kustomize "$overlay"
