# Two ClickHouse 18.16 servers from Debian (clickhouse1, clickhouse2): the two
# shards of cluster rtp_cluster. Never the system service. 18.16 runs as root
# without complaint, so no ownership juggling. Sourced by stack/rtp-stack after lib.sh.

CLICKHOUSE_SERVER=/usr/sbin/clickhouse-server
CLICKHOUSE_INSTANCES=(1 2)

_ch_render() {
  local content var
  content="$(<"$1")"
  while [[ $content =~ @([A-Z0-9_]+)@ ]]; do
    var="${BASH_REMATCH[1]}"
    [ -n "${!var+x}" ] || die "template $1 uses @$var@, which is not set"
    content="${content//@$var@/${!var}}"
  done
  printf '%s\n' "$content" >"$2"
}

# _ch_port N KIND (TCP|HTTP|INTERSERVER)
_ch_port() { local v="CLICKHOUSE${1}_${2}_PORT"; echo "${!v}"; }

_ch_ping() { [ "$(curl -s -m 2 "http://$RTP_HOST:$1/ping" 2>/dev/null)" = "Ok." ]; }

clickhouse_install() {
  local fresh=0
  dpkg-query -W -f='${Status}' clickhouse-server 2>/dev/null | grep -q "install ok installed" || fresh=1
  apt_ensure clickhouse-server clickhouse-client curl
  [ -x "$CLICKHOUSE_SERVER" ] || die "$CLICKHOUSE_SERVER not found (package clickhouse-server)"
  # Where the package's postinst started the system server (it runs as the
  # clickhouse user, ours as root), stop it: the stack never uses it.
  if [ "$fresh" = 1 ] && pgrep -u clickhouse -f "$CLICKHOUSE_SERVER" >/dev/null 2>&1; then
    log "stopping the system ClickHouse server started by the package"
    /etc/init.d/clickhouse-server stop >/dev/null 2>&1 || true
  fi
}

# Re-record the pid of a server of ours whose stack pid file was lost, so
# start does not trip over its ports and stop does not leave it behind.
_ch_adopt() {
  local name="$1" pid
  is_running "$name" && return 0
  pid="$(pgrep -o -x -f "$CLICKHOUSE_SERVER --config-file=$CONF_DIR/$name/config.xml" 2>/dev/null)" || return 0
  echo "$pid" >"$(pidfile "$name")"
}

_ch_start_one() {
  local n="$1" name="clickhouse$1" i
  local CH_NAME="$name" CH_SHARD="$1" CH_DIR="$DATA_DIR/$name" CH_CONF_DIR="$CONF_DIR/$name"
  local CH_TCP_PORT CH_HTTP_PORT CH_INTERSERVER_PORT
  CH_TCP_PORT="$(_ch_port "$n" TCP)"
  CH_HTTP_PORT="$(_ch_port "$n" HTTP)"
  CH_INTERSERVER_PORT="$(_ch_port "$n" INTERSERVER)"
  mkdir -p "$CH_DIR" "$CH_CONF_DIR"
  _ch_render "$STACK_DIR/conf/clickhouse-config.xml" "$CH_CONF_DIR/config.xml"
  _ch_render "$STACK_DIR/conf/clickhouse-users.xml" "$CH_CONF_DIR/users.xml"
  _ch_adopt "$name"
  if is_running "$name"; then
    if _ch_ping "$CH_HTTP_PORT"; then
      log "$name already running (pid $(cat "$(pidfile "$name")"))"
      return 0
    fi
  else
    ensure_port_free "$CH_TCP_PORT" "$name (TCP)"
    ensure_port_free "$CH_HTTP_PORT" "$name (HTTP)"
    ensure_port_free "$CH_INTERSERVER_PORT" "$name (interserver)"
    # Runs in the foreground (no --daemon); its own log goes to $LOG_DIR/$name.log.
    start_bg "$name" "$LOG_DIR/$name.stdout.log" "$CLICKHOUSE_SERVER" --config-file="$CH_CONF_DIR/config.xml"
  fi
  for ((i = 0; i < 120; i++)); do
    _ch_ping "$CH_HTTP_PORT" && port_in_use "$CH_TCP_PORT" && break
    if ! is_running "$name"; then
      tail -20 "$LOG_DIR/$name.stdout.log" "$LOG_DIR/$name.err.log" >&2 2>/dev/null || true
      die "$name exited during startup (logs: $LOG_DIR/$name.err.log, $LOG_DIR/$name.stdout.log)"
    fi
    sleep 0.5
  done
  _ch_ping "$CH_HTTP_PORT" || die "$name did not answer /ping on port $CH_HTTP_PORT within 60s (log: $LOG_DIR/$name.err.log)"
  log "$name up on $RTP_HOST:$CH_TCP_PORT (http $CH_HTTP_PORT, shard $CH_SHARD of rtp_cluster)"
}

clickhouse_start() {
  local n
  [ -x "$CLICKHOUSE_SERVER" ] || die "ClickHouse is not installed (run: stack/rtp-stack install clickhouse)"
  require_cmd curl
  for n in "${CLICKHOUSE_INSTANCES[@]}"; do _ch_start_one "$n"; done
}

clickhouse_stop() {
  local n f pid
  # Signal both instances first so their shutdowns overlap, then wait for each.
  for n in "${CLICKHOUSE_INSTANCES[@]}"; do
    _ch_adopt "clickhouse$n"
    f="$(pidfile "clickhouse$n")"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  done
  for n in "${CLICKHOUSE_INSTANCES[@]}"; do stop_bg "clickhouse$n" 30; done
}

clickhouse_status() {
  local n port rc=0
  for n in "${CLICKHOUSE_INSTANCES[@]}"; do
    port="$(_ch_port "$n" HTTP)"
    if _ch_ping "$port"; then
      status_line "clickhouse$n" up "$RTP_HOST:$(_ch_port "$n" TCP) (http $port, shard $n of rtp_cluster)"
    else
      status_line "clickhouse$n" down "$RTP_HOST:$port /ping did not answer Ok."
      rc=1
    fi
  done
  return $rc
}
