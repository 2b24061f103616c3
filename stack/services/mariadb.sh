# MariaDB from Debian, as our own server and datadir (never the system
# service): the OLTP source (database shop) whose binlog Flink CDC reads.
# Sourced by stack/rtp-stack after lib.sh.

MARIADBD=/usr/sbin/mariadbd

# Sets MARIA_DATA, MARIA_TMP, MARIA_SOCK, MARIA_CNF.
_maria_paths() {
  MARIA_DATA="$DATA_DIR/mariadb"
  MARIA_TMP="$DATA_DIR/mariadb-tmp"
  MARIA_CNF="$CONF_DIR/mariadb/my.cnf"
  MARIA_SOCK="$RUN_DIR/mariadb.sock"
  # A unix socket path may not exceed 107 bytes.
  if [ ${#MARIA_SOCK} -gt 100 ]; then
    MARIA_SOCK="/tmp/rtp-stack-$(printf %s "$RTP_STATE" | sha1sum | cut -c1-10)/mariadb.sock"
  fi
}

_maria_render() {
  local content var
  content="$(<"$1")"
  while [[ $content =~ @([A-Z0-9_]+)@ ]]; do
    var="${BASH_REMATCH[1]}"
    [ -n "${!var+x}" ] || die "template $1 uses @$var@, which is not set"
    content="${content//@$var@/${!var}}"
  done
  printf '%s\n' "$content" >"$2"
}

# A value as an SQL string literal.
_maria_quote() { local s="${1//\\/\\\\}"; printf "'%s'" "${s//\'/\\\'}"; }

# Admin client over the socket: root authenticates as the OS user (unix_socket).
_maria_sql() { mariadb --no-defaults --protocol=socket --socket="$MARIA_SOCK" -uroot; }

_maria_alive() {
  mariadb-admin --no-defaults --protocol=socket --socket="$MARIA_SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

mariadb_install() {
  local fresh=0
  dpkg-query -W -f='${Status}' mariadb-server 2>/dev/null | grep -q "install ok installed" || fresh=1
  apt_ensure mariadb-server mariadb-client
  [ -x "$MARIADBD" ] || die "$MARIADBD not found (package mariadb-server)"
  require_cmd mariadb mariadb-admin mariadb-install-db
  # Where the package's postinst started the system server, stop it: the
  # stack never uses it.
  if [ "$fresh" = 1 ] && [ -f /run/mysqld/mysqld.pid ] && kill -0 "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null; then
    log "stopping the system MariaDB server started by the package"
    /etc/init.d/mariadb stop >/dev/null 2>&1 || kill -TERM "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null || true
  fi
}

# Re-record the pid of a server of ours whose stack pid file was lost, so
# start does not trip over its port and stop does not leave it behind.
_maria_adopt() {
  local pid
  is_running mariadb && return 0
  pid="$(pgrep -o -x -f "$MARIADBD --defaults-file=$MARIA_CNF" 2>/dev/null)" || return 0
  echo "$pid" >"$(pidfile mariadb)"
}

_maria_init() {
  [ -f "$MARIA_DATA/.rtp-initialized" ] && return 0
  # A datadir without the marker is from an interrupted init: start over.
  rm -rf "$MARIA_DATA"
  mkdir -p "$MARIA_DATA"
  log "mariadb-install-db $MARIA_DATA"
  mariadb-install-db --defaults-file="$MARIA_CNF" --user=root --skip-test-db --skip-name-resolve \
    --auth-root-authentication-method=socket >"$LOG_DIR/mariadb-install-db.log" 2>&1 \
    || { tail -20 "$LOG_DIR/mariadb-install-db.log" >&2; die "mariadb-install-db failed (log: $LOG_DIR/mariadb-install-db.log)"; }
  touch "$MARIA_DATA/.rtp-initialized"
}

# Accounts and the shop database; idempotent, so it runs on every start.
_maria_bootstrap() {
  local Q_ROOT_PW Q_CDC_USER Q_CDC_PW
  Q_ROOT_PW="$(_maria_quote "$MARIADB_ROOT_PASSWORD")"
  Q_CDC_USER="$(_maria_quote "$MARIADB_CDC_USER")"
  Q_CDC_PW="$(_maria_quote "$MARIADB_CDC_PASSWORD")"
  _maria_render "$STACK_DIR/sql/mariadb-init.sql" "$CONF_DIR/mariadb/init.sql"
  _maria_sql <"$CONF_DIR/mariadb/init.sql" >>"$LOG_DIR/mariadb-init.log" 2>&1 \
    || { tail -20 "$LOG_DIR/mariadb-init.log" >&2; die "MariaDB bootstrap failed (log: $LOG_DIR/mariadb-init.log)"; }
}

mariadb_start() {
  local i
  [ -x "$MARIADBD" ] || die "MariaDB is not installed (run: stack/rtp-stack install mariadb)"
  _maria_paths
  mkdir -p "$MARIA_TMP" "$(dirname "$MARIA_SOCK")" "$CONF_DIR/mariadb"
  _maria_render "$STACK_DIR/conf/mariadb.cnf" "$MARIA_CNF"
  chmod 600 "$MARIA_CNF"
  _maria_adopt
  if is_running mariadb; then
    if _maria_alive; then
      log "mariadb already running (pid $(cat "$(pidfile mariadb)"))"
      _maria_bootstrap
      return 0
    fi
  else
    _maria_init
    ensure_port_free "$MARIADB_PORT" mariadb
    start_bg mariadb "$LOG_DIR/mariadb.log" "$MARIADBD" --defaults-file="$MARIA_CNF"
  fi
  for ((i = 0; i < 120; i++)); do
    _maria_alive && port_in_use "$MARIADB_PORT" && break
    is_running mariadb || { tail -20 "$LOG_DIR/mariadb.log" >&2; die "mariadb exited during startup (log: $LOG_DIR/mariadb.log)"; }
    sleep 0.5
  done
  _maria_alive || { tail -20 "$LOG_DIR/mariadb.log" >&2; die "mariadb not ready on port $MARIADB_PORT within 60s"; }
  _maria_bootstrap
  log "mariadb up on $RTP_HOST:$MARIADB_PORT (database shop, CDC user $MARIADB_CDC_USER)"
}

mariadb_stop() {
  _maria_paths
  _maria_adopt
  # SIGTERM is a clean shutdown for mariadbd (InnoDB flush can take a while).
  stop_bg mariadb 60
}

mariadb_status() {
  if MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb-admin --no-defaults -h"$RTP_HOST" -P"$MARIADB_PORT" -uroot \
    --connect-timeout=2 ping >/dev/null 2>&1; then
    status_line mariadb up "$RTP_HOST:$MARIADB_PORT (binlog ROW, database shop)"
  else
    status_line mariadb down "$RTP_HOST:$MARIADB_PORT not answering"
    return 1
  fi
}
