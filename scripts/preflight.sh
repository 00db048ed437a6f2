#!/usr/bin/env bash
# What a make target needs from the machine, checked in its first seconds,
# before anything long runs, each with an error that says what to do:
#
#   scripts/preflight.sh demo        Go's version (the local cluster's tools are
#                                    built from source)
#   scripts/preflight.sh test [E2E]  the same; Debian packages the suites run are
#                                    installable; and with E2E=kind (the
#                                    default), root and free disk for the kind bed
#   scripts/preflight.sh kind        root, Go and free disk for the kind bed
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kind_bed() { # WHAT INSTEAD
  need_root "$1" "The kind test bed installs Debian packages (docker), starts a dockerd and builds its nodes' root filesystem. $2"
}

# built: the tools make test builds from source are in the tools cache (the
# last of each script's), so Go's caches will not grow much more.
built() {
  [ -x "$("$repo_root/test/cluster/build-tools.sh" --dir)/kubectl" ] &&
    [ -x "$("$repo_root/test/cluster/build-olm-tools.sh" --dir)/scorecard-test" ] &&
    { [ "$1" = host ] || [ -x "$("$repo_root/test/kind/build-node-tools.sh" --dir)/coredns" ]; }
}

case ${1:-} in
  demo) check_go ;;
  test)
    check_go
    # memcached and promtool (scripts/install-deps.sh, run by the suites that
    # use them) come from apt: as root, or through sudo.
    if { [ ! -x /usr/bin/memcached ] || ! command -v promtool >/dev/null; } && ! as_root true 2>/dev/null; then
      die "make test runs memcached and promtool, and installs them with apt as root: install them first (sudo apt-get install memcached prometheus) or run as root"
    fi
    e2e=${2:-kind} need=0
    case $e2e in
      kind) kind_bed "make test's last step, the e2e specs on the kind test bed," \
        "Run make test as root (sudo make test), or, without root, run every other suite and the e2e deploy specs on the local kwok cluster instead: make test E2E=host"
        need=$KIND_MIN_FREE_GB ;;
      host) ;;
      *) die "E2E=$e2e: it is kind (the default: e2e on the kind test bed, as root) or host (the deploy specs on the local kwok cluster)" ;;
    esac
    built "$e2e" || need=$((need + GO_BUILDS_GB))
    [ "$need" = 0 ] || check_disk "$KIND_CACHE" "$need" "make test (the tools built from source, Go's caches, the kind test bed)" ;;
  kind)
    kind_bed "The kind test bed" "Run it as root (sudo, or a VM or CI machine where you are root)."
    check_disk "$KIND_CACHE" "$KIND_MIN_FREE_GB" "The kind test bed (its images and four running nodes take about 14 GB)"
    check_go ;;
  *) echo "usage: scripts/preflight.sh demo | test [kind|host] | kind" >&2; exit 2 ;;
esac
