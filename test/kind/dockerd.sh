#!/usr/bin/env bash
# Starts and stops the dockerd of the kind test bed.
#
#   dockerd.sh start   use a healthy dockerd on the default socket if there is
#                      one; else start our own with its own data root, pidfile,
#                      socket and log under $KIND_DOCKER_DIR
#                      (~/.cache/memcached-operator/docker). Writes
#                      $KIND_DOCKER_DIR/env (DOCKER_HOST=...) for callers.
#   dockerd.sh stop    stop the dockerd that `start` started (never another).
#   dockerd.sh env     print the DOCKER_HOST line.
#
# On hosts where root lacks CAP_SYS_RESOURCE, `docker run --privileged` fails
# with "unable to apply caps: operation not permitted". start detects exactly
# that failure and only then restarts dockerd with runc-drop-sys-resource as its
# default runtime. A normal docker host never gets the wrapper.
# KIND_DOCKERD_FLAGS adds flags to our dockerd (e.g. --bip=...).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D=$KIND_DOCKER_DIR
pidfile="$D/dockerd.pid"
sock="$D/docker.sock"
logf="$D/dockerd.log"
exec_root=${KIND_DOCKER_EXEC_ROOT:-/run/memcached-operator/docker}
wrapper_name=runc-drop-sys-resource
probe_image="$LOCAL_REGISTRY/probe:privileged"

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

healthy() { DOCKER_HOST=$1 timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

write_env() { # DOCKER_HOST OWNED
  mkdir -p "$D"
  printf 'DOCKER_HOST=%s\nKIND_DOCKERD_OWNED=%s\nKIND_DOCKERD_PROBED_PID=%s\n' "$1" "$2" "$(running_pid || true)" >"$D/env.tmp"
  mv "$D/env.tmp" "$D/env"
}

log_tail() {
  echo "---- last lines of $logf ----" >&2
  tail -n 30 "$logf" >&2 2>/dev/null || echo "(no log)" >&2
  echo "----" >&2
}

launch() { # [wrapper]
  local extra=()
  if [ "${1:-}" = wrapper ]; then
    install -m 0755 "$kind_here/runc-drop-sys-resource" "$D/$wrapper_name"
    extra=(--add-runtime "$wrapper_name=$D/$wrapper_name" --default-runtime "$wrapper_name")
    log "dockerd: runtime $wrapper_name (this host's root lacks CAP_SYS_RESOURCE)"
  fi
  mkdir -p "$D/data" "$exec_root"
  echo "=== $(date -u +%FT%TZ) dockerd ${extra[*]:-}" >>"$logf"
  # setsid: it outlives make; kind-down stops it by its pidfile. 9>&-: it
  # must not inherit kind.sh's lock (fd 9), or it would hold that lock for
  # its whole life and every later kind.sh, kind-down included, would wait.
  # shellcheck disable=SC2086 # KIND_DOCKERD_FLAGS: extra flags, word-split
  setsid dockerd --data-root "$D/data" --exec-root "$exec_root" --pidfile "$pidfile" \
    -H "unix://$sock" "${extra[@]}" ${KIND_DOCKERD_FLAGS:-} </dev/null >>"$logf" 2>&1 9>&- &
  local pid=$!
  for _ in $(seq 1 60); do
    if healthy "unix://$sock"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "error: dockerd did not start (it exited; its log: $logf)"; log_tail; exit 1
    fi
    sleep 0.5
  done
  log "error: dockerd did not start: no answer on $sock within 30 s (its log: $logf)"; log_tail; exit 1
}

stop_ours() {
  local pid
  pid=$(running_pid) || { rm -f "$pidfile"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd $pid still running after 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$pidfile"
}

# probe: can this daemon run a privileged container? Prints docker's error.
probe() {
  local out tools
  if ! docker image inspect "$probe_image" >/dev/null 2>&1; then
    tools=$("$kind_here/build-node-tools.sh" --dir)
    if [ ! -x "$tools/pause" ]; then
      (cd "$kind_here/images/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$D/probe-pause" .)
    else
      cp "$tools/pause" "$D/probe-pause"
    fi
    tar -C "$D" --transform 's,^probe-pause$,pause,' -cf - probe-pause | docker import - "$probe_image" >/dev/null
    rm -f "$D/probe-pause"
  fi
  out=$(docker run --rm --pull never --privileged --network none "$probe_image" /pause --version 2>&1) && return 0
  echo "$out"
  return 1
}

start() {
  local out
  mkdir -p "$D"
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    die "docker is not installed (apt-get install docker.io; make kind-up installs it)"
  fi
  # A healthy dockerd on the default socket that we did not start: use it.
  if ! running_pid >/dev/null && healthy "unix:///var/run/docker.sock"; then
    export DOCKER_HOST=unix:///var/run/docker.sock
    if out=$(probe); then
      write_env "$DOCKER_HOST" 0
      log "using the running dockerd on /var/run/docker.sock"; return 0
    fi
    die "the running dockerd on /var/run/docker.sock cannot run privileged containers (kind needs them):
$out
Stop it (kind-up then starts its own) or register a runtime that can."
  fi
  export DOCKER_HOST="unix://$sock"
  local want=plain
  [ -f "$D/needs-wrapper" ] && want=wrapper
  if running_pid >/dev/null && healthy "$DOCKER_HOST"; then
    # Already probed, this very daemon: nothing more to check.
    if [ -f "$D/env" ] && [ "$(sed -n 's/^KIND_DOCKERD_PROBED_PID=//p' "$D/env")" = "$(running_pid)" ]; then
      return 0
    fi
    log "dockerd already running (pid $(running_pid))"
  else
    stop_ours
    launch "$want"
  fi
  if out=$(probe); then write_env "$DOCKER_HOST" 1; return 0; fi
  if [ "$want" = plain ] && grep -q 'unable to apply caps: operation not permitted' <<<"$out"; then
    log "privileged containers fail here (unable to apply caps); restarting dockerd with $wrapper_name"
    touch "$D/needs-wrapper"
    stop_ours
    launch wrapper
    if out=$(probe); then write_env "$DOCKER_HOST" 1; return 0; fi
  fi
  log "dockerd cannot run a privileged container (kind needs one):"
  echo "$out" >&2
  log_tail
  exit 1
}

case "${1:-}" in
  start) start; cat "$D/env" ;;
  stop)
    if running_pid >/dev/null; then log "stopping dockerd (pid $(running_pid))"; fi
    stop_ours; rm -f "$D/env" ;;
  env) [ -f "$D/env" ] && sed -n 's/^DOCKER_HOST=/DOCKER_HOST=/p' "$D/env" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
