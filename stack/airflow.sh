# Airflow as users run it, beside the local stack: scheduler, dag-processor, triggerer and
# api-server, LocalExecutor, the stack's PostgreSQL as metadata DB, dags_examples/ as DAG folder.
# Sourced by ./dev after lib.sh: airflow_deploy up|down|status.
#
# It is its own installation: AIRFLOW_HOME $RTP_STATE/airflow-deploy and database airflow_deploy,
# never the `airflow` database that `airflow dags test` runs (./dev shell, tests/integration)
# write, so its scheduler never sees their runs. Connections live in its metadata DB, created
# with `airflow connections import` as the README tells users.

AIRFLOW_DEPLOY_DB=airflow_deploy
AIRFLOW_DEPLOY_COMPONENTS=(dag-processor scheduler triggerer api-server)

airflow_deploy_env() {
  local var
  # Only this file configures it: a caller's Airflow settings (./dev shell points at the `airflow`
  # database and sets connections by env) must not leak in.
  for var in $(compgen -e | grep -E '^AIRFLOW(__|_CONN_|_VAR_|_HOME$)' || true); do unset "$var"; done
  export AIRFLOW_HOME="$RTP_STATE/airflow-deploy"
  mkdir -p "$AIRFLOW_HOME"
  local base="http://$RTP_HOST:$AIRFLOW_API_PORT"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://$POSTGRES_USER:$POSTGRES_PASSWORD@$RTP_HOST:$POSTGRES_PORT/$AIRFLOW_DEPLOY_DB"
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
  export AIRFLOW__CORE__DAGS_FOLDER="$REPO_DIR/dags_examples"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$base/execution/"
  export AIRFLOW__API__BASE_URL="$base"
  export AIRFLOW__API__HOST="$RTP_HOST" AIRFLOW__API__PORT="$AIRFLOW_API_PORT"
  # The simple auth manager (Airflow's default) with one known admin from stack.env.
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$AIRFLOW_ADMIN_USER:admin"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
  printf '{"%s": "%s"}\n' "$AIRFLOW_ADMIN_USER" "$AIRFLOW_ADMIN_PASSWORD" >"$AIRFLOW_HOME/passwords.json"
  # Secrets every component must share (tokens the api-server issues to tasks, encrypted
  # connection passwords): made once per installation, kept beside it.
  if [ ! -f "$AIRFLOW_HOME/secrets.env" ]; then
    python - >"$AIRFLOW_HOME/secrets.env" <<'PY'
import secrets
from cryptography.fernet import Fernet
print(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(48)}")
print(f"AIRFLOW__API__SECRET_KEY={secrets.token_urlsafe(32)}")
print(f"AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
PY
    chmod 600 "$AIRFLOW_HOME/secrets.env"
  fi
  set -a
  # shellcheck source=/dev/null
  source "$AIRFLOW_HOME/secrets.env"
  set +a
  # Provider plugins (the Lake freshness page, docs/freshness.md) load only without lazy discovery.
  export AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS=False
  export AIRFLOW__RTP__PIPELINES_FILE="$REPO_DIR/stack/pipelines.yaml"
  export AIRFLOW__RTP__MAINTENANCE_JAR="$RTP_CACHE/jobs/rtp-maintenance.jar"
  # CPU: a 2-core machine shares it with the stack. One api-server worker; one parsing process,
  # each file parsed again at most every 2 minutes (new files are looked for every 2 minutes;
  # a reparse on demand: the UI's "Reparse" or PUT /api/v2/parseDagFile/{file_token});
  # at most 4 task processes at once (LocalExecutor); the scheduler checks for new work every
  # 2 s when idle instead of every second.
  export AIRFLOW__API__WORKERS=1
  export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
  export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=120
  export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=120
  export AIRFLOW__CORE__PARALLELISM=4
  export AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=2
}

# The database (the rtp role may create databases) and its schema, once per Airflow version.
airflow_deploy_db() {
  local version mark
  python - "$AIRFLOW_DEPLOY_DB" <<'PY'
import sys
import psycopg2
from tests.stack import host, port, stack_env

env = stack_env()
conn = psycopg2.connect(host=host(), port=port("POSTGRES_PORT"), user=env["POSTGRES_USER"],
                        password=env["POSTGRES_PASSWORD"], dbname="postgres")
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[1],))
    if cur.fetchone() is None:
        cur.execute(f'CREATE DATABASE "{sys.argv[1]}" ENCODING \'UTF8\'')
PY
  version="$(python -c 'import airflow; print(airflow.__version__)')"
  mark="$AIRFLOW_HOME/.migrated-$version"
  if [ ! -f "$mark" ]; then
    say "creating the deployment's metadata database $AIRFLOW_DEPLOY_DB (Airflow $version)"
    airflow db migrate >"$LOG_DIR/airflow-deploy-migrate.log" 2>&1 \
      || { tail -20 "$LOG_DIR/airflow-deploy-migrate.log" >&2; die "airflow db migrate failed"; }
    touch "$mark"
  fi
}

# The connections the example DAGs use, as a file for `airflow connections import` (the
# README's way; an existing connection of the same id is replaced).
airflow_deploy_connections() {
  local file="$AIRFLOW_HOME/connections.json"
  cat >"$file" <<EOF
{
  "rtp_default": {"conn_type": "rtp", "host": "http://$RTP_HOST:$FLINK_REST_PORT",
    "extra": {"sql_gateway_url": "http://$RTP_HOST:$FLINK_SQL_GATEWAY_PORT", "web_ui_url": "http://$RTP_HOST:$FLINK_REST_PORT"}},
  "kafka_default": {"conn_type": "kafka", "extra": {"bootstrap.servers": "$RTP_HOST:$KAFKA_PORT"}},
  "iceberg_default": {"conn_type": "iceberg", "host": "$RTP_HOST", "port": $POSTGRES_PORT,
    "login": "$POSTGRES_USER", "password": "$POSTGRES_PASSWORD", "schema": "$POSTGRES_CATALOG_DB",
    "extra": {"catalog_type": "sql", "catalog_name": "lake", "warehouse": "file://$RTP_STATE/data/warehouse"}}
}
EOF
  chmod 600 "$file"
  airflow connections import --overwrite "$file" >"$LOG_DIR/airflow-deploy-connections.log" 2>&1 \
    || { tail -20 "$LOG_DIR/airflow-deploy-connections.log" >&2; die "airflow connections import failed"; }
}

_airflow_pidname() { echo "airflow-$1"; }

airflow_deploy_up() {
  local c started=() args
  for c in "${AIRFLOW_DEPLOY_COMPONENTS[@]}"; do is_running "$(_airflow_pidname "$c")" || started+=("$c"); done
  if [ ${#started[@]} -gt 0 ]; then
    airflow_deploy_db
    [ ${#started[@]} -eq ${#AIRFLOW_DEPLOY_COMPONENTS[@]} ] && airflow_deploy_connections
    for c in "${started[@]}"; do
      args=()
      case "$c" in
        api-server) ensure_port_free "$AIRFLOW_API_PORT" "airflow api-server" ;;
        # One machine: the api-server reads task and trigger logs from their files. Without this
        # each would serve them on all interfaces.
        scheduler | triggerer) args=(--skip-serve-logs) ;;
      esac
      say "starting airflow $c (log: $LOG_DIR/airflow-$c.log)"
      start_bg "$(_airflow_pidname "$c")" "$LOG_DIR/airflow-$c.log" airflow "$c" "${args[@]}"
    done
  fi
  wait_port "$AIRFLOW_API_PORT" "airflow api-server" 180 "$LOG_DIR/airflow-api-server.log"
  airflow_deploy_wait_healthy 180
  say "Airflow UI: http://$RTP_HOST:$AIRFLOW_API_PORT  login: $AIRFLOW_ADMIN_USER / $AIRFLOW_ADMIN_PASSWORD"
  say "  DAGs: $REPO_DIR/dags_examples; CLI against it: ./dev airflow cli <args>; stop: ./dev airflow down"
}

# Until /api/v2/monitor/health reports every component healthy (their first heartbeats).
airflow_deploy_wait_healthy() {
  python - "http://$RTP_HOST:$AIRFLOW_API_PORT/api/v2/monitor/health" "$1" <<'PY' || die "Airflow did not become healthy (logs: $LOG_DIR/airflow-*.log)"
import json, sys, time, urllib.request

url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
health = {}
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            health = json.load(answer)
        if all(v.get("status") == "healthy" for k, v in health.items() if isinstance(v, dict)):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(2)
print(f"not healthy: {health}", file=sys.stderr)
sys.exit(1)
PY
}

airflow_deploy_down() {
  local c i
  for c in api-server triggerer scheduler dag-processor; do
    if is_running "$(_airflow_pidname "$c")"; then say "stopping airflow $c"; fi
    stop_bg "$(_airflow_pidname "$c")" 60
  done
  ! port_in_use "$AIRFLOW_API_PORT" \
    || die "port $AIRFLOW_API_PORT still in use after airflow down: $(ss -Hltnp "sport = :$AIRFLOW_API_PORT" | head -1)"
}

airflow_deploy_status() {
  local c rc=0
  for c in "${AIRFLOW_DEPLOY_COMPONENTS[@]}"; do
    if is_running "$(_airflow_pidname "$c")"; then
      status_line "airflow $c" up "pid $(cat "$(pidfile "$(_airflow_pidname "$c")")")"
    else
      status_line "airflow $c" down ""; rc=1
    fi
  done
  [ $rc -eq 0 ] && status_line "airflow ui" up "http://$RTP_HOST:$AIRFLOW_API_PORT ($AIRFLOW_ADMIN_USER / $AIRFLOW_ADMIN_PASSWORD)"
  return $rc
}

airflow_deploy() {
  local cmd="${1:-status}"
  shift || true
  airflow_deploy_env
  case "$cmd" in
    up) airflow_deploy_up ;;
    down) airflow_deploy_down ;;
    status) airflow_deploy_status ;;
    cli) exec airflow "$@" ;;
    *) die "unknown command '$cmd' (./dev airflow up|down|status|cli ARGS)" ;;
  esac
}
