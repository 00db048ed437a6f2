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
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(tr -d ' \nv' <"$root/.nvmrc")
major=${version%%.*}
cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
dir="$cache_root/node-$version/bin"

log() { echo "node.sh: $*" >&2; }

# system_ok: the node on PATH (if any) is the pinned version or newer.
system_ok() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  [ "$(printf '%s\n%s\n' "$version" "$v" | sort -V | head -1)" = "$version" ]
}

install() {
  [ -x "$dir/node" ] && return 0
  command -v npm >/dev/null 2>&1 || { log "error: Node $major+ is required and npm is missing to fetch it; install Node $version (https://nodejs.org)"; exit 1; }
  local arch
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) log "error: no node-linux package for $(uname -m); install Node $version yourself"; exit 1 ;;
  esac
  [ "$(uname -s)" = Linux ] || { log "error: only Linux is fetched automatically; install Node $version yourself"; exit 1; }
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
    system_ok || { install; printf 'export PATH=%q:"$PATH"\n' "$dir"; } ;;
  *)
    echo "usage: scripts/node.sh dir|install|env" >&2; exit 2 ;;
esac
