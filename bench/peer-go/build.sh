#!/usr/bin/env bash
# Builds the Go peer (bench/peer-go) into the tools cache outside the
# repository, keyed by a hash of its sources and the Go version, and prints
# the binary's path. A warm cache builds nothing; a cold one downloads
# controller-runtime and its dependencies from the Go module proxy and
# compiles them (minutes on 2 cores: see docs/benchmarks.md).
#
#   bench/peer-go/build.sh          build if needed, print the binary
#   bench/peer-go/build.sh --path   print where the binary is or would be
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is not installed. Install Go 1.26 or newer and retry." >&2
  exit 1
fi

cache_root=${MEMCACHED_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator/tools}
key=$( (cd "$here" && cat go.mod go.sum ./*.go build.sh && go env GOVERSION) | sha256sum | cut -c1-16)
bin="$cache_root/peer-go-$key/bin/peer-go"
if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi
[ -x "$bin" ] && { echo "$bin"; exit 0; }

mkdir -p "$(dirname "$bin")"
# Two builds at once (a bench run and the smoke) would both pay minutes: the
# second waits for the first and finds its binary.
exec 9>"$cache_root/peer-go.lock"
flock 9
[ -x "$bin" ] && { echo "$bin"; exit 0; }

echo "peer-go: building $bin (a cold build takes minutes on 2 cores)" >&2
start=$(date +%s)
(cd "$here" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" go build -ldflags "-s -w" -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
echo "peer-go: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
