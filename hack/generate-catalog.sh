#!/usr/bin/env bash
# Writes a file-based catalog (FBC) with opm, and DIR.Dockerfile to serve it:
#   hack/generate-catalog.sh DIR PACKAGE DEFAULT_CHANNEL CHANNELS OPM OPM_IMG BUNDLE_IMG...
# Each BUNDLE_IMG must be pushed already: opm render reads its manifests from
# the registry, so the catalog holds exactly what OLM will unpack. The
# bundles form one upgrade chain in every channel of CHANNELS (comma
# separated), in the order given: each one replaces the one before it.
# OPM_IMG is the catalog image's base (opm serves the catalog). opm reads
# registries over HTTPS, trusting the system CAs or SSL_CERT_FILE (the kind
# bed's registry: make sets it to the bed's CA bundle); a registry on
# loopback (localhost:PORT, 127.0.0.1:PORT) that answers HTTPS with an error
# is read again over plain HTTP, as docker treats loopback registries.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
usage="usage: generate-catalog.sh DIR PACKAGE DEFAULT_CHANNEL CHANNELS OPM OPM_IMG BUNDLE_IMG..."
[ $# -ge 7 ] || { echo "$usage" >&2; exit 2; }
dir=$1 package=$2 default_channel=$3 channels=$4 opm=$5 opm_img=$6
shift 6
[ -x "$opm" ] || die "$opm is not executable (test/cluster/build-olm-tools.sh builds opm)"

# opm pulls through containers/image, which wants a signature policy; a
# machine without one (no podman, no skopeo) gets the default policy of
# containers-policy.json(5), "insecureAcceptAnything", in a throw-away HOME.
if [ ! -f /etc/containers/policy.json ] && [ ! -f "${HOME:-/nonexistent}/.config/containers/policy.json" ]; then
  tmp_home=$(mktemp -d)
  trap 'rm -rf "$tmp_home"' EXIT
  mkdir -p "$tmp_home/.config/containers"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$tmp_home/.config/containers/policy.json"
  export HOME=$tmp_home
fi
rm -rf "$dir" "$dir.Dockerfile"
mkdir -p "$dir/$package"
out="$dir/$package/catalog.yaml"
"$opm" init "$package" --default-channel="$default_channel" --output=yaml >"$out"
names=()
for img in "$@"; do
  if ! rendered=$("$opm" render "$img" --output=yaml); then
    case $img in
      localhost:*|127.0.0.1:*) rendered=$("$opm" render "$img" --use-http --output=yaml) || rendered="" ;;
      *) rendered="" ;;
    esac
    [ -n "$rendered" ] || die "opm render $img failed: is it pushed (make bundle-push BUNDLE_IMG=$img)? Is its registry's CA trusted (SSL_CERT_FILE)?"
  fi
  name=$(sed -n 's/^name: //p' <<<"$rendered" | head -n1)
  [ -n "$name" ] || die "opm render $img gave no bundle name"
  names+=("$name")
  printf '%s\n' "$rendered" >>"$out"
done
for ch in ${channels//,/ }; do
  printf -- '---\nschema: olm.channel\npackage: %s\nname: %s\nentries:\n' "$package" "$ch"
  prev=""
  for name in "${names[@]}"; do
    printf -- '- name: %s\n' "$name"
    [ -z "$prev" ] || printf -- '  replaces: %s\n' "$prev"
    prev=$name
  done
done >>"$out"
"$opm" validate "$dir"
"$opm" generate dockerfile "$dir" --base-image="$opm_img" --builder-image="$opm_img" >/dev/null
log "wrote $out (${names[*]}) and $dir.Dockerfile (base $opm_img)"
