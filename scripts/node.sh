#!/usr/bin/env bash
# The pinned Node (.nvmrc) for machines whose system Node is older.
#
#   scripts/node.sh dir      prints the bin directory to put first on PATH, or
#                            nothing when the system Node is already the
#                            pinned version or newer (installs nothing)
#   scripts/node.sh install  the same, after installing the pinned Node into
#                            the tools cache when it is needed and missing
#   scripts/node.sh env      installs as above and prints a PATH export for
#                            eval "$(scripts/node.sh env)"
#
# The binary comes from the npm registry's node-linux-<arch> package (the
# official release binary, published there by the Node project), fetched with
# the system's npm, and lands in
# ~/.cache/memcached-operator/tools/node-<version>/bin. A user who already has
# the pinned version or newer gets nothing new.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
version=$(tr -d ' \nv' <"$repo_root/.nvmrc")
major=${version%%.*}
dir="$TOOLS_CACHE/node-$version/bin"

# system_ok: the node on PATH (if any) is the pinned version or newer.
system_ok() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  version_at_least "$v" "$version"
}

install() {
  [ -x "$dir/node" ] && return 0
  command -v npm >/dev/null 2>&1 || die "Node $major+ is required and npm is missing to fetch it; install Node $version (https://nodejs.org)"
  local arch
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no node-linux package for $(uname -m); install Node $version yourself" ;;
  esac
  [ "$(uname -s)" = Linux ] || die "only Linux is fetched automatically; install Node $version yourself"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "installing Node $version (node-linux-$arch) into $dir"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  tar -xzf "$tmp"/node-linux-"$arch"-"$version".tgz -C "$tmp" package/bin/node
  "$tmp/package/bin/node" --version >/dev/null
  mkdir -p "$dir"
  mv "$tmp/package/bin/node" "$dir/node.tmp"
  mv "$dir/node.tmp" "$dir/node"
}

case "${1:-}" in
  dir)
    system_ok || echo "$dir" ;;
  install)
    system_ok || { install; echo "$dir"; } ;;
  env)
    # shellcheck disable=SC2016 # $PATH is for the shell that evals this
    system_ok || { install; printf 'export PATH=%q:"$PATH"\n' "$dir"; } ;;
  *)
    echo "usage: scripts/node.sh dir|install|env" >&2; exit 2 ;;
esac
