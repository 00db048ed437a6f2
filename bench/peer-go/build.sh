#!/usr/bin/env bash
# Builds the Go peer (bench/peer-go) into the tools cache outside the
# repository, keyed by a hash of its sources, the Go version and the build
# flags (not of this script, so an edit that leaves the build alone keeps the
# binary), and prints the binary's path. A warm cache builds nothing; a cold
# one downloads
# controller-runtime and its dependencies from the Go module proxy and
# compiles them (minutes on 2 cores: see docs/benchmarks.md).
#
#   bench/peer-go/build.sh          build if needed, print the binary
#   bench/peer-go/build.sh --path   print where the binary is or would be
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log_name=peer-go
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
check_go

build_env=(CGO_ENABLED=0 "GOFLAGS=${GOFLAGS:-} -mod=readonly -trimpath")
ldflags="-s -w"
key=$( (cd "$here" && cat go.mod go.sum ./*.go && go env GOVERSION && echo "${build_env[*]} $ldflags") | sha256sum | cut -c1-16)
bin="$TOOLS_CACHE/peer-go-$key/bin/peer-go"
if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi
[ -x "$bin" ] && { echo "$bin"; exit 0; }

mkdir -p "$(dirname "$bin")"
# Two builds at once (a bench run and the smoke) would both pay minutes: the
# second waits for the first and finds its binary.
lock_cache peer-go.lock
[ -x "$bin" ] && { echo "$bin"; exit 0; }

log "building $bin (a cold build takes minutes on 2 cores)"
start=$(date +%s)
(cd "$here" && env "${build_env[@]}" go build -ldflags "$ldflags" -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
log "built in $(( $(date +%s) - start )) s"
echo "$bin"
