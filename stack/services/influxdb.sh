# Two InfluxDB 1.x servers from Debian (influxdb1, influxdb2): the metric
# shards. Flink's reporter writes into them; the lag monitoring code shards
# across both. Never the system service. Sourced by stack/rtp-stack after lib.sh.

INFLUXD=/usr/bin/influxd
INFLUX_INSTANCES=(1 2)

_influx_render() {
  local content var
  content="$(<"$1")"
  while [[ $content =~ @([A-Z0-9_]+)@ ]]; do
    var="${BASH_REMATCH[1]}"
    [ -n "${!var+x}" ] || die "template $1 uses @$var@, which is not set"
    content="${content//@$var@/${!var}}"
  done
  printf '%s\n' "$content" >"$2"
}

_influx_http_port() { local v="INFLUX${1}_PORT"; echo "${!v}"; }
_influx_rpc_port() { local v="INFLUX${1}_RPC_PORT"; echo "${!v}"; }

# /ping answers 204 once the HTTP service is up.
_influx_ping() {
  [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$RTP_HOST:$1/ping" 2>/dev/null)" = 204 ]
}

influxdb_install() {
  local fresh=0 pid
  dpkg-query -W -f='${Status}' influxdb 2>/dev/null | grep -q "install ok installed" || fresh=1
  apt_ensure influxdb curl
  [ -x "$INFLUXD" ] || die "$INFLUXD not found (package influxdb)"
  # Where the package's postinst started the system server, stop it: the
  # stack never uses it.
  if [ "$fresh" = 1 ] && [ -f /var/run/influxdb/influxd.pid ]; then
    pid="$(cat /var/run/influxdb/influxd.pid)"
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping the system InfluxDB server started by the package"
      /etc/init.d/influxdb stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    fi
  fi
}

# Re-record the pid of a server of ours whose stack pid file was lost, so
# start does not trip over its ports and stop does not leave it behind.
_influx_adopt() {
  local name="$1" pid
  is_running "$name" && return 0
  pid="$(pgrep -o -x -f "$INFLUXD run -config $CONF_DIR/$name/influxdb.conf" 2>/dev/null)" || return 0
  echo "$pid" >"$(pidfile "$name")"
}

# CREATE DATABASE is idempotent in InfluxDB 1.x.
_influx_create_db() {
  local port="$1" out
  out="$(curl -s -m 10 -X POST "http://$RTP_HOST:$port/query" --data-urlencode "q=CREATE DATABASE \"$INFLUX_DB\"")" \
    || die "InfluxDB on port $port: CREATE DATABASE $INFLUX_DB failed (no answer)"
  case "$out" in *'"error"'*) die "InfluxDB on port $port: CREATE DATABASE $INFLUX_DB failed: $out" ;; esac
}

_influx_start_one() {
  local n="$1" name="influxdb$1" INFLUX_NAME INFLUX_DIR INFLUX_HTTP INFLUX_RPC conf i
  INFLUX_NAME="$name"
  INFLUX_DIR="$DATA_DIR/$name"
  INFLUX_HTTP="$(_influx_http_port "$n")"
  INFLUX_RPC="$(_influx_rpc_port "$n")"
  conf="$CONF_DIR/$name/influxdb.conf"
  mkdir -p "$INFLUX_DIR" "$CONF_DIR/$name"
  _influx_render "$STACK_DIR/conf/influxdb.conf" "$conf"
  _influx_adopt "$name"
  if is_running "$name"; then
    if _influx_ping "$INFLUX_HTTP"; then
      log "$name already running (pid $(cat "$(pidfile "$name")"))"
      _influx_create_db "$INFLUX_HTTP"
      return 0
    fi
  else
    ensure_port_free "$INFLUX_HTTP" "$name (HTTP)"
    ensure_port_free "$INFLUX_RPC" "$name (RPC)"
    start_bg "$name" "$LOG_DIR/$name.log" "$INFLUXD" run -config "$conf"
  fi
  for ((i = 0; i < 120; i++)); do
    _influx_ping "$INFLUX_HTTP" && break
    is_running "$name" || { tail -20 "$LOG_DIR/$name.log" >&2; die "$name exited during startup (log: $LOG_DIR/$name.log)"; }
    sleep 0.5
  done
  _influx_ping "$INFLUX_HTTP" || { tail -20 "$LOG_DIR/$name.log" >&2; die "$name did not answer /ping on port $INFLUX_HTTP within 60s"; }
  _influx_create_db "$INFLUX_HTTP"
  log "$name up on $RTP_HOST:$INFLUX_HTTP (database $INFLUX_DB)"
}

influxdb_start() {
  local n
  [ -x "$INFLUXD" ] || die "InfluxDB is not installed (run: stack/rtp-stack install influxdb)"
  require_cmd curl
  for n in "${INFLUX_INSTANCES[@]}"; do _influx_start_one "$n"; done
}

influxdb_stop() {
  local n f pid
  # Signal both instances first so their shutdowns overlap, then wait for each.
  for n in "${INFLUX_INSTANCES[@]}"; do
    _influx_adopt "influxdb$n"
    f="$(pidfile "influxdb$n")"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  done
  for n in "${INFLUX_INSTANCES[@]}"; do stop_bg "influxdb$n" 30; done
}

influxdb_status() {
  local n port rc=0
  for n in "${INFLUX_INSTANCES[@]}"; do
    port="$(_influx_http_port "$n")"
    if _influx_ping "$port"; then
      status_line "influxdb$n" up "$RTP_HOST:$port (database $INFLUX_DB)"
    else
      status_line "influxdb$n" down "$RTP_HOST:$port /ping did not answer 204"
      rc=1
    fi
  done
  return $rc
}
