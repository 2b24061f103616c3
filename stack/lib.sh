# Shared helpers of the local stack scripts. Sourced, never executed.
# Conventions:
#   RTP_CACHE  downloads and assembled installs (outlive a clone)
#   RTP_STATE  everything a running stack writes: data/, logs/, run/ (pids), conf/
# A service module stack/services/NAME.sh defines NAME_install, NAME_start,
# NAME_stop and NAME_status; start and install are idempotent.

set -euo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$STACK_DIR/.." && pwd)"
# shellcheck source=/dev/null
source "$STACK_DIR/versions.env"
# shellcheck source=/dev/null
source "$STACK_DIR/stack.env"

RTP_CACHE="${RTP_CACHE:-$HOME/.cache/rtp-stack}"
RTP_STATE="${RTP_STATE:-$REPO_DIR/.stack}"
RUN_DIR="$RTP_STATE/run"
LOG_DIR="$RTP_STATE/logs"
DATA_DIR="$RTP_STATE/data"
CONF_DIR="$RTP_STATE/conf"
# JVM options of the stack's long-running JVMs (Flink's three, the Kafka broker). Their work is
# light and ever new (each test plans SQL, generates and loads classes): the C2 compiler took
# about half of their CPU on a 2-core machine, so they run on the C1 compiler only.
RTP_JVM_OPTS="${RTP_JVM_OPTS:--XX:TieredStopAtLevel=1}"
mkdir -p "$RTP_CACHE" "$RUN_DIR" "$LOG_DIR" "$DATA_DIR" "$CONF_DIR"
export RTP_CACHE RTP_STATE

log() { printf '[rtp-stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[rtp-stack] ERROR: %s\n' "$*" >&2; exit 1; }

require_cmd() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || die "command '$c' not found (run: stack/rtp-stack install)"; done
}

# Debian packages: install only what is missing; apt's own cache lives in
# /var/cache/apt, outside the clone.
apt_ensure() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq || die "apt-get update failed"
  fi
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Fail loudly when a port we are about to bind is taken by someone else.
ensure_port_free() {
  local port="$1" who="$2"
  if port_in_use "$port"; then
    die "port $port (needed by $who) is already in use: $(ss -Hltnp "sport = :$port" | head -1)"
  fi
}

wait_port() {
  local port="$1" name="$2" timeout="${3:-60}" logfile="${4:-}" i
  for ((i = 0; i < timeout * 2; i++)); do
    port_in_use "$port" && return 0
    sleep 0.5
  done
  [ -n "$logfile" ] && [ -f "$logfile" ] && tail -30 "$logfile" >&2
  die "$name did not listen on port $port within ${timeout}s${logfile:+ (log: $logfile)}"
}

pidfile() { echo "$RUN_DIR/$1.pid"; }

# alive PID: running and not a zombie (pid 1 here may reap exited children late,
# and kill -0 still succeeds on an unreaped one).
alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "${st:0:1}" != "Z" ]
}

is_running() {
  local f; f="$(pidfile "$1")"
  [ -f "$f" ] && alive "$(cat "$f")"
}

# start_bg NAME LOGFILE CMD...: run CMD detached in its own session, record pid.
start_bg() {
  local name="$1" logfile="$2"; shift 2
  setsid nohup "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
}

# stop_bg NAME [TIMEOUT]: TERM the process group, then KILL.
stop_bg() {
  local name="$1" timeout="${2:-30}" f pid i
  f="$(pidfile "$name")"
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 2; i++)); do alive "$pid" || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# maven_fetch GROUP:ARTIFACT:VERSION[:classifier] DEST_DIR: one jar, no
# transitive deps, cached in ~/.m2.
maven_fetch() {
  local coord="$1" dest="$2"
  mkdir -p "$dest"
  mvn -q -B dependency:copy -Dartifact="$coord" -DoutputDirectory="$dest" -Dmdep.overWriteIfNewer=true \
    >"$LOG_DIR/mvn-fetch.log" 2>&1 || { tail -20 "$LOG_DIR/mvn-fetch.log" >&2; die "download of $coord from Maven Central failed"; }
}

status_line() { printf '  %-14s %-8s %s\n' "$1" "$2" "$3"; }
