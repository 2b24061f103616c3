# PostgreSQL 15 from Debian, as our own cluster (never the system one): the
# Iceberg JDBC catalog database and Airflow's metadata database.
# Sourced by stack/rtp-stack after lib.sh.

PG_BIN=/usr/lib/postgresql/15/bin

# The cluster runs as the postgres OS user (it refuses root). That user must
# reach the data and socket directories; when $RTP_STATE sits below a directory
# it cannot traverse (a clone under /root) or the socket path would exceed the
# kernel's 107 bytes, the cluster lives under /var/lib/postgresql instead and
# $DATA_DIR/postgres is a symlink to it.
_pg_fallback_base() { echo "/var/lib/postgresql/rtp-stack-$(printf %s "$RTP_STATE" | sha1sum | cut -c1-10)"; }

# Sets PG_DATA and PG_SOCK_DIR for an existing or about-to-be-created cluster.
_pg_paths() {
  if [ -L "$DATA_DIR/postgres" ]; then
    PG_DATA="$(_pg_fallback_base)/data"; PG_SOCK_DIR="$(_pg_fallback_base)/run"
  else
    PG_DATA="$DATA_DIR/postgres"; PG_SOCK_DIR="$RUN_DIR/postgres"
  fi
}

# Run a PostgreSQL tool as the postgres user from a directory it can read
# (the tools fail when they cannot resolve the current directory).
_pg_as_postgres() { (cd / && runuser -u postgres -- "$@"); }

_pg_render() {
  local content var
  content="$(<"$1")"
  while [[ $content =~ @([A-Z0-9_]+)@ ]]; do
    var="${BASH_REMATCH[1]}"
    [ -n "${!var+x}" ] || die "template $1 uses @$var@, which is not set"
    content="${content//@$var@/${!var}}"
  done
  printf '%s\n' "$content" >"$2"
}

# Pid of the running postmaster of our cluster, if any.
_pg_pid() {
  local pid
  [ -f "$PG_DATA/postmaster.pid" ] || return 1
  pid="$(head -1 "$PG_DATA/postmaster.pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

_pg_ready() { "$PG_BIN/pg_isready" -q -h "$RTP_HOST" -p "$POSTGRES_PORT" -t 2 >/dev/null 2>&1; }

postgres_install() {
  local fresh=0
  dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed" || fresh=1
  apt_ensure postgresql
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 binaries not found in $PG_BIN (package postgresql-15)"
  id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (package postgresql-common)"
  # Where the package's postinst started the system cluster, stop it: the
  # stack never uses it.
  if [ "$fresh" = 1 ] && command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 *main .*online'; then
    log "stopping the system PostgreSQL cluster 15/main started by the package"
    pg_ctlcluster 15 main stop || true
  fi
}

# Directories, initdb (once) and configuration.
_pg_prepare() {
  local fb
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 is not installed (run: stack/rtp-stack install postgres)"
  fb="$(_pg_fallback_base)"
  if [ ! -e "$DATA_DIR/postgres" ] && [ ! -L "$DATA_DIR/postgres" ]; then
    # New cluster: our state directories may need o+x for the postgres user.
    chmod a+x "$RTP_STATE" "$DATA_DIR" "$RUN_DIR"
    if runuser -u postgres -- test -x "$DATA_DIR" -a -x "$RUN_DIR" && [ $((${#RUN_DIR} + 30)) -le 107 ]; then
      mkdir -p "$DATA_DIR/postgres"
    else
      # The state was reset (symlink gone): the old fallback cluster is stale.
      if [ -d "$fb" ]; then
        [ -f "$fb/data/postmaster.pid" ] && kill -0 "$(head -1 "$fb/data/postmaster.pid")" 2>/dev/null \
          && die "a stale PostgreSQL cluster in $fb is still running; stop it first"
        rm -rf "$fb"
      fi
      log "postgres cannot reach $DATA_DIR; cluster placed in $fb (linked from $DATA_DIR/postgres)"
      mkdir -p "$fb/data"
      chown postgres:postgres "$fb"
      ln -sfn "$fb/data" "$DATA_DIR/postgres"
    fi
  fi
  _pg_paths
  mkdir -p "$PG_DATA" "$PG_SOCK_DIR" "$CONF_DIR/postgres"
  chown postgres:postgres "$PG_DATA" "$PG_SOCK_DIR"
  chmod 700 "$PG_DATA"
  chmod 755 "$PG_SOCK_DIR"

  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    # An earlier initdb that died half-way leaves files behind; initdb wants an empty directory.
    find "$PG_DATA" -mindepth 1 -delete
    log "initdb $PG_DATA"
    _pg_as_postgres "$PG_BIN/initdb" -D "$PG_DATA" --username=postgres --encoding=UTF8 --no-locale \
      --auth-local=peer --auth-host=scram-sha-256 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
      || { tail -20 "$LOG_DIR/postgres-initdb.log" >&2; die "initdb of $PG_DATA failed (log: $LOG_DIR/postgres-initdb.log)"; }
  fi

  # Our settings live in rtp.conf, included last, so initdb's defaults stay untouched.
  _pg_render "$STACK_DIR/conf/postgres.conf" "$CONF_DIR/postgres/rtp.conf"
  _pg_render "$STACK_DIR/conf/postgres-hba.conf" "$CONF_DIR/postgres/pg_hba.conf"
  install -o postgres -g postgres -m 600 "$CONF_DIR/postgres/rtp.conf" "$PG_DATA/rtp.conf"
  install -o postgres -g postgres -m 600 "$CONF_DIR/postgres/pg_hba.conf" "$PG_DATA/pg_hba.conf"
  grep -qx "include 'rtp.conf'" "$PG_DATA/postgresql.conf" || echo "include 'rtp.conf'" >>"$PG_DATA/postgresql.conf"
}

# Role and databases; idempotent, so it runs on every start.
_pg_bootstrap() {
  _pg_as_postgres "$PG_BIN/psql" -X -q -h "$PG_SOCK_DIR" -p "$POSTGRES_PORT" -U postgres -d postgres \
    -v rtp_user="$POSTGRES_USER" -v rtp_password="$POSTGRES_PASSWORD" -v catalog_db="$POSTGRES_CATALOG_DB" \
    -f - <"$STACK_DIR/sql/postgres-init.sql" >>"$LOG_DIR/postgres-init.log" 2>&1 \
    || { tail -20 "$LOG_DIR/postgres-init.log" >&2; die "PostgreSQL bootstrap failed (log: $LOG_DIR/postgres-init.log)"; }
}

postgres_start() {
  local pid i
  _pg_prepare
  if pid="$(_pg_pid)"; then
    echo "$pid" >"$(pidfile postgres)"
    if _pg_ready; then
      log "postgres already running (pid $pid)"
      _pg_bootstrap
      return 0
    fi
  else
    ensure_port_free "$POSTGRES_PORT" postgres
    # setpriv execs in place, so the recorded pid is the postmaster's.
    start_bg postgres "$LOG_DIR/postgres.log" \
      setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" -D "$PG_DATA"
  fi
  for ((i = 0; i < 120; i++)); do
    _pg_ready && break
    is_running postgres || { tail -20 "$LOG_DIR/postgres.log" >&2; die "postgres exited during startup (log: $LOG_DIR/postgres.log)"; }
    sleep 0.5
  done
  _pg_ready || { tail -20 "$LOG_DIR/postgres.log" >&2; die "postgres not ready on port $POSTGRES_PORT within 60s"; }
  _pg_bootstrap
  log "postgres up on $RTP_HOST:$POSTGRES_PORT (databases $POSTGRES_CATALOG_DB, airflow)"
}

postgres_stop() {
  _pg_paths
  if _pg_pid >/dev/null; then
    # Fast shutdown: open client sessions (Airflow, Flink) must not hold it up.
    _pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 60 >/dev/null 2>&1 \
      || log "pg_ctl stop failed; killing the postgres process group"
  fi
  stop_bg postgres 10
}

postgres_status() {
  if _pg_ready; then
    status_line postgres up "$RTP_HOST:$POSTGRES_PORT (databases $POSTGRES_CATALOG_DB, airflow)"
  else
    status_line postgres down "$RTP_HOST:$POSTGRES_PORT not accepting connections"
    return 1
  fi
}
