# shellcheck shell=bash disable=SC2034 # the names are for the scripts that source this
# The one shell library of the repository's scripts: logging and dying, the
# caches outside the repository, and the checks of what a machine must have
# (Go's version, free disk, root, Debian packages). Source it; it sets no shell
# options. Messages start with the script's name (log_name overrides it).

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log_name=${log_name:-$(basename "$0" .sh)}

log() { echo "$log_name: $*" >&2; }
die() { echo "$log_name: error: $*" >&2; exit 1; }

# Everything built or fetched lives outside the repository, keyed by version,
# so every clone and worktree shares it. MEMCACHED_OPERATOR_TOOLS_CACHE moves
# the Go tools and Node; MEMCACHED_OPERATOR_KIND_CACHE the kind bed's images,
# dockerd and downloads (make/packaging.mk names TOOLS_CACHE the same way).
cache_home=${XDG_CACHE_HOME:-$HOME/.cache}/memcached-operator
TOOLS_CACHE=${MEMCACHED_OPERATOR_TOOLS_CACHE:-$cache_home/tools}
KIND_CACHE=${MEMCACHED_OPERATOR_KIND_CACHE:-$cache_home}

# Free disk, from a measured cold run; the README states these numbers. The
# kind bed asks for KIND_MIN_FREE_GB before it builds anything: its images
# take about 3.5 GB, and its four nodes about 10 GB while they run. A run
# that still has to build the tools from source needs GO_BUILDS_GB more: Go's
# module and build caches grow by about 17 GB, the tools take about 2 GB.
KIND_MIN_FREE_GB=15
GO_BUILDS_GB=20

# version_at_least HAVE WANT: HAVE is WANT or newer (dotted numbers).
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# The Go the from-source builds need: the newest `go` directive of the
# repository's Go modules (the pinned tools' wrappers and the bench peer).
go_min_version() {
  sed -n 's/^go \([0-9.]*\)$/\1/p' "$repo_root"/test/cluster/tools/*/go.mod "$repo_root"/bench/peer-go/go.mod |
    sort -V | tail -n1
}

# check_go: go is on PATH and at least go_min_version; dies saying which
# version is there and which is needed.
check_go() {
  local want have
  want=$(go_min_version)
  command -v go >/dev/null 2>&1 ||
    die "Go $want or newer is needed (the local cluster's tools are built from source) and there is no go on PATH: install it (https://go.dev/doc/install)"
  # The local toolchain's version, not one a go.mod would switch to.
  have=$(cd / && GOTOOLCHAIN=local go version | awk '{print $3}')
  have=${have#go}
  version_at_least "$have" "$want" ||
    die "Go $want or newer is needed (the local cluster's tools are built from source); $(command -v go) is Go $have: install a newer one (https://go.dev/doc/install)"
}

# go_module_dir WRAPPER_DIR MODULE[@VERSION]: the module's directory in Go's
# module cache, downloaded (and verified by WRAPPER_DIR's go.sum) if missing.
go_module_dir() {
  (cd "$1" && go mod download -json "$2" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
}

# check_disk DIR GB WHAT: the filesystem of DIR (created if missing) has GB
# gigabytes free, or WHAT cannot go on.
check_disk() {
  local dir=$1 gb=$2 what=$3 avail mount
  mkdir -p "$dir"
  avail=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
  mount=$(df -P "$dir" | awk 'NR == 2 {print $6}')
  [ "$avail" -ge $((gb * 1000 * 1000)) ] ||
    die "$what needs $gb GB free on $mount (where $dir is) and $((avail / 1000 / 1000)) GB are free: free some space (make kind-clean drops the kind bed's caches)"
}

# need_root WHAT INSTEAD: die unless root, saying what needs it and what to run
# instead.
need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root. $2"
}

# as_root COMMAND...: runs it as root, through sudo when not root already.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# ensure_packages NAME=PACKAGE...: installs (apt) the Debian PACKAGE of each
# NAME that is missing; NAME is a command, or an absolute path to a file.
# As root, or through sudo when it needs no password.
ensure_packages() {
  local pair name pkgs=()
  for pair in "$@"; do
    name=${pair%%=*}
    case $name in
      /*) [ -e "$name" ] || pkgs+=("${pair#*=}") ;;
      *) command -v "$name" >/dev/null 2>&1 || pkgs+=("${pair#*=}") ;;
    esac
  done
  [ ${#pkgs[@]} -gt 0 ] || return 0
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${pkgs[*]} (Debian package names) and this machine has no apt-get: install them yourself"
  as_root true 2>/dev/null ||
    die "missing the Debian packages ${pkgs[*]}: run as root, or install them first (sudo apt-get install ${pkgs[*]})"
  log "installing ${pkgs[*]} (apt)"
  # Another apt run (the kind bed's, in the background) holds dpkg's lock for
  # a while: wait for it rather than fail.
  if ! { as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${pkgs[@]}" >/dev/null; }; then
    die "apt-get install ${pkgs[*]} failed"
  fi
}

# lock_cache FILE: hold an exclusive lock on FILE in the tools cache until the
# script exits, so two builds of the same tools (a background warm-up and a
# test, two worktrees) take turns; the second finds everything built.
lock_cache() {
  local fd lock=$TOOLS_CACHE/$1
  mkdir -p "$TOOLS_CACHE"
  exec {fd}>"$lock"
  if ! flock -n "$fd"; then
    log "another build holds $lock; waiting for it"
    flock "$fd"
  fi
}
