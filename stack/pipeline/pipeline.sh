# The reference pipeline on the local stack. Sourced by stack/rtp-stack after
# lib.sh and the service modules.
#
#   MariaDB shop.orders + shop.rtp_heartbeat
#     └─ binlog ─► shop-cdc (JAR job, stack/jobs/cdc) ─► Kafka shop.orders (4 partitions, key id)
#                                                     └► Kafka shop.rtp_heartbeat (1 partition)
#   Kafka shop.orders ─┬► ods-orders-ingest (SQL job, ods-orders.sql, group rtp-ods-orders)
#                      │    ─► Iceberg lake.ods.orders, changelog mode (JDBC catalog in PostgreSQL)
#                      └► ods-orders-mirror-ingest (SQL job, ods-orders-mirror.sql, group rtp-ods-orders-mirror)
#                           ─► Iceberg lake.ods.orders_mirror, upsert mode, partitioned by id bucket
#
#   pipeline_up       schema, topics, job jars; submit each job that is not live; wait
#                     until all run and have completed a checkpoint
#   pipeline_down     cancel the jobs (their newest checkpoint is retained)
#   pipeline_status   one line per job
#   pipeline_jars     build the job jars, print their paths
#   generator_start [RATE [OPTION...]] / generator_stop   changes into shop.orders
#                     (options: stack/pipeline/generator.py --help, e.g. --hot-rows 20)
#
# A resubmitted job resumes from its newest retained checkpoint (after `pipeline
# down`, or after the stack was stopped under it). Starting fresh instead would
# take a new binlog snapshot (every row again) and re-read Kafka from the group
# offsets: the lake table, written in changelog mode, would get duplicates.

PL_DIR="$STACK_DIR/pipeline"
PL_JOBS_SRC="$STACK_DIR/jobs"
PL_STATE="$DATA_DIR/pipeline"
PL_FLINK_URL="http://$RTP_HOST:$FLINK_REST_PORT"
PL_GATEWAY_URL="http://$RTP_HOST:$FLINK_SQL_GATEWAY_PORT"
PL_KAFKA="$RTP_HOST:$KAFKA_PORT"

PL_CDC_JOB=shop-cdc
# The SQL ingestion jobs: "JOB_NAME STATEMENT_FILE (in $PL_DIR) TABLE" each.
PL_INGEST_JOBS=(
  "ods-orders-ingest ods-orders.sql ods.orders"
  "ods-orders-mirror-ingest ods-orders-mirror.sql ods.orders_mirror"
)
PL_CDC_MAIN=rtp.jobs.cdc.ShopCdcJob
PL_SMOKE_MAIN=rtp.jobs.smoke.SmokeJob
PL_MAINTENANCE_MAIN=rtp.jobs.maintenance.LakeCompactionJob
# Kafka into ClickHouse, flushed on every checkpoint (stack/jobs/clickhouse-sink); tests run it.
PL_CLICKHOUSE_SINK_MAIN=rtp.jobs.clickhousesink.ClickHouseSinkJob
PL_TOPICS=("shop.orders:4" "shop.rtp_heartbeat:1")
PL_READY_TIMEOUT=300
# Job name -> the retained checkpoint it was resumed from, for error messages.
declare -A PL_RESUMED=()

# ---------------------------------------------------------------- HTTP and JSON

# _pl_http METHOD URL [JSON_BODY]: the response body; dies on a transport or HTTP error.
_pl_http() {
  local method="$1" url="$2" body="${3-}" out
  local args=(-sS --fail-with-body --max-time 60 -X "$method")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  out="$(curl "${args[@]}" "$url" 2>&1)" || die "$method $url failed: $(_pl_errors <<<"$out")"
  printf '%s\n' "$out"
}

# _pl_json EXPR: evaluates the Python expression EXPR with d = the JSON document on stdin.
_pl_json() {
  python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print("" if v is None else v)' "$1"
}

# The readable part of a Flink REST error body (its "errors" list), else the text itself.
_pl_errors() {
  python3 -c 'import json, sys
text = sys.stdin.read()
try:
    errors = json.loads(text[text.index("{"):]).get("errors") or [text]
except ValueError:
    errors = [text]
lines = [l.strip() for e in errors for l in str(e).splitlines()]
causes = [l for l in lines if l.startswith("Caused by:")]
print(" | ".join(([lines[0]] if lines else []) + causes[-3:])[:3000])'
}

# ---------------------------------------------------------------- Flink jobs

# _pl_jobs NAME: "JOB_ID STATE" of every job named NAME, newest first.
_pl_jobs() {
  _pl_http GET "$PL_FLINK_URL/jobs/overview" | python3 -c 'import json, sys
jobs = [j for j in json.load(sys.stdin)["jobs"] if j["name"] == sys.argv[1]]
for j in sorted(jobs, key=lambda j: -j["start-time"]):
    print(j["jid"], j["state"])' "$1"
}

# _pl_live_job NAME: "JOB_ID STATE" of the newest job named NAME that has not ended.
_pl_live_job() {
  _pl_jobs "$1" | awk '$2 !~ /^(FINISHED|CANCELED|FAILED)$/ { print; exit }'
}

# _pl_checkpoints JOB_ID: "COMPLETED LATEST_ID LATEST_AGE_S" (latest id "-" when none).
_pl_checkpoints() {
  _pl_http GET "$PL_FLINK_URL/jobs/$1/checkpoints" | python3 -c 'import json, sys, time
d = json.load(sys.stdin)
latest = (d.get("latest") or {}).get("completed") or {}
age = int(time.time() - latest["latest_ack_timestamp"] / 1000) if latest else "-"
print(d["counts"]["completed"], latest.get("id", "-"), age)'
}

_pl_job_state() { _pl_http GET "$PL_FLINK_URL/jobs/$1" | _pl_json 'd["state"]'; }

# Why a job failed or restarts: the newest entry of its exception history.
_pl_job_exception() {
  curl -sS --max-time 10 "$PL_FLINK_URL/jobs/$1/exceptions" 2>/dev/null | python3 -c 'import json, sys
try:
    entries = json.load(sys.stdin)["exceptionHistory"]["entries"]
except (ValueError, KeyError):
    sys.exit(0)
if entries:
    lines = [l.strip() for l in entries[0]["stacktrace"].splitlines()]
    causes = [l for l in lines if l.startswith("Caused by:")]
    print(" | ".join([lines[0]] + causes[-2:])[:2000])' || true
}

# _pl_wait_ready NAME JOB_ID: until the job is RUNNING and has completed a checkpoint.
_pl_wait_ready() {
  local name="$1" jid="$2" end state="" completed=0 latest age hint=""
  if [ -n "${PL_RESUMED[$name]-}" ]; then
    hint=" (resumed from ${PL_RESUMED[$name]}; if that state no longer fits the job, start over with: stack/rtp-stack reset)"
  fi
  end=$((SECONDS + PL_READY_TIMEOUT))
  while ((SECONDS < end)); do
    state="$(_pl_job_state "$jid")"
    case "$state" in
      FAILED | CANCELED | FINISHED) die "$name ($jid) is $state: $(_pl_job_exception "$jid")$hint" ;;
      RUNNING)
        read -r completed latest age < <(_pl_checkpoints "$jid")
        if [ "$completed" -ge 1 ]; then
          log "$name RUNNING ($jid), checkpoint $latest completed"
          return 0
        fi ;;
    esac
    sleep 2
  done
  die "$name ($jid) not RUNNING with a completed checkpoint within ${PL_READY_TIMEOUT}s (state $state): $(_pl_job_exception "$jid")$hint"
}

# _pl_resume_path NAME: the newest retained checkpoint of job NAME, or nothing.
_pl_resume_path() {
  local dir="$PL_STATE/checkpoints/$1"
  [ -d "$dir" ] || return 0
  find "$dir" -path '*/chk-*/_metadata' -printf '%T@ %h\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2-
}

# ---------------------------------------------------------------- job jars

_pl_flink_lib() { echo "$RTP_CACHE/flink-$FLINK_VERSION/lib"; }

# _pl_build_jar NAME MAIN_CLASS: compiles stack/jobs/NAME/*.java against Flink's lib/
# into $RTP_CACHE/jobs/rtp-NAME.jar and sets PL_JAR to its path. Rebuilt only when
# the sources, the jars in lib/ or the JDK change.
_pl_build_jar() {
  local name="$1" main="$2" src="$PL_JOBS_SRC/$1" lib out stamp tmp
  lib="$(_pl_flink_lib)"
  [ -d "$lib" ] || die "Flink is not installed ($lib is missing; run: stack/rtp-stack install flink)"
  command -v javac >/dev/null 2>&1 || apt_ensure openjdk-17-jdk-headless
  require_cmd javac jar
  out="$RTP_CACHE/jobs/rtp-$name.jar"
  PL_JAR="$out"
  stamp="$({ cat "$src"/*.java; ls "$lib"; javac -version 2>&1; } | sha256sum | cut -c1-16)"
  if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  log "building $out"
  tmp="$(mktemp -d)"
  # Release 11: the oldest Java Flink 1.20 runs on.
  if ! javac --release 11 -nowarn -cp "$lib/*" -d "$tmp/classes" "$src"/*.java >"$LOG_DIR/javac-$name.log" 2>&1; then
    rm -rf "$tmp"
    cat "$LOG_DIR/javac-$name.log" >&2
    die "compiling $src failed"
  fi
  jar --create --file "$tmp/job.jar" --main-class "$main" -C "$tmp/classes" .
  mkdir -p "$(dirname "$out")"
  # Renamed into place: a concurrent reader never sees half a jar.
  mv -f "$tmp/job.jar" "$out"
  echo "$stamp" >"$out.stamp"
  rm -rf "$tmp"
}

pipeline_jars() {
  _pl_build_jar cdc "$PL_CDC_MAIN"
  echo "cdc=$PL_JAR"
  _pl_build_jar smoke "$PL_SMOKE_MAIN"
  echo "smoke=$PL_JAR"
  # The lake maintenance job the compaction operator submits (stack/jobs/maintenance).
  _pl_build_jar maintenance "$PL_MAINTENANCE_MAIN"
  echo "maintenance=$PL_JAR"
  _pl_build_jar clickhouse-sink "$PL_CLICKHOUSE_SINK_MAIN"
  echo "clickhouse-sink=$PL_JAR"
}

# ---------------------------------------------------------------- MariaDB and Kafka

_pl_mariadb() {
  MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb --no-defaults -h"$RTP_HOST" -P"$MARIADB_PORT" -uroot "$@"
}

_pl_schema() {
  _pl_mariadb <"$PL_DIR/mariadb-shop.sql" >>"$LOG_DIR/pipeline-schema.log" 2>&1 \
    || { tail -5 "$LOG_DIR/pipeline-schema.log" >&2; die "creating the shop schema failed (log: $LOG_DIR/pipeline-schema.log)"; }
  [ "$(_pl_mariadb -N -e 'SELECT @@event_scheduler')" = ON ] \
    || log "WARNING: MariaDB's event_scheduler is OFF: no heartbeats, the CDC watermark will not move"
}

_pl_kafka_tool() {
  local bin="$RTP_CACHE/kafka-$KAFKA_VERSION/bin" c
  for c in "$bin/$1" "$bin/$1.sh"; do
    [ -x "$c" ] && { echo "$c"; return 0; }
  done
  die "$1 not found in $bin (run: stack/rtp-stack install kafka)"
}

# Creates the topics that are missing; an existing topic is left as it is.
_pl_topics() {
  local tool existing spec topic partitions have
  tool="$(_pl_kafka_tool kafka-topics)"
  existing="$("$tool" --bootstrap-server "$PL_KAFKA" --list 2>>"$LOG_DIR/pipeline-kafka.log")" \
    || die "listing Kafka topics failed (log: $LOG_DIR/pipeline-kafka.log)"
  for spec in "${PL_TOPICS[@]}"; do
    topic="${spec%%:*}" partitions="${spec##*:}"
    if grep -qxF "$topic" <<<"$existing"; then
      have="$("$tool" --bootstrap-server "$PL_KAFKA" --describe --topic "$topic" 2>/dev/null | grep -oE 'PartitionCount: *[0-9]+' | grep -oE '[0-9]+' || true)"
      [ "$have" = "$partitions" ] || log "WARNING: topic $topic has ${have:-?} partitions, the pipeline expects $partitions"
      continue
    fi
    "$tool" --bootstrap-server "$PL_KAFKA" --create --if-not-exists --topic "$topic" \
      --partitions "$partitions" --replication-factor 1 >>"$LOG_DIR/pipeline-kafka.log" 2>&1 \
      || die "creating topic $topic failed (log: $LOG_DIR/pipeline-kafka.log)"
    log "created topic $topic ($partitions partitions)"
  done
}

# ---------------------------------------------------------------- the jobs

_pl_require_stack() {
  local var
  for var in MARIADB_PORT KAFKA_PORT POSTGRES_PORT FLINK_REST_PORT FLINK_SQL_GATEWAY_PORT; do
    port_in_use "${!var}" || die "nothing listens on $var=${!var}: start the stack first (stack/rtp-stack up)"
  done
  # Flink CDC 3.x ships without a JDBC driver; it must sit beside the connector in lib/.
  compgen -G "$(_pl_flink_lib)/mysql-connector-j*.jar" >/dev/null \
    || die "$(_pl_flink_lib) has no MySQL JDBC driver (com.mysql:mysql-connector-j), which flink-sql-connector-mysql-cdc needs"
}

# Sets PL_JOB_ID.
_pl_submit_cdc() {
  local jar resume upload jar_id body out
  _pl_build_jar cdc "$PL_CDC_MAIN"
  jar="$PL_JAR"
  resume="$(_pl_resume_path "$PL_CDC_JOB")"
  PL_RESUMED[$PL_CDC_JOB]="$resume"
  body="$(python3 -c 'import json, sys
main, resume, args = sys.argv[1], sys.argv[2], sys.argv[3:]
body = {"entryClass": main, "parallelism": 1, "programArgsList": args}
if resume:
    body["savepointPath"] = resume
print(json.dumps(body))' "$PL_CDC_MAIN" "$resume" \
    --job-name "$PL_CDC_JOB" \
    --mysql-host "$RTP_HOST" --mysql-port "$MARIADB_PORT" \
    --mysql-user "$MARIADB_CDC_USER" --mysql-password "$MARIADB_CDC_PASSWORD" \
    --database shop --table orders --heartbeat-table rtp_heartbeat --key-field id \
    --server-id 5401-5404 --server-time-zone UTC \
    --bootstrap-servers "$PL_KAFKA" --topic shop.orders --heartbeat-topic shop.rtp_heartbeat \
    --transactional-id-prefix "$PL_CDC_JOB" --transaction-timeout-ms 600000 \
    --checkpoint-interval-ms 10000 --checkpoint-dir "file://$PL_STATE/checkpoints/$PL_CDC_JOB")"

  upload="$(curl -sS --fail-with-body --max-time 120 -X POST -F "jarfile=@$jar" "$PL_FLINK_URL/jars/upload" 2>&1)" \
    || die "uploading $jar failed: $(_pl_errors <<<"$upload")"
  jar_id="$(basename "$(_pl_json 'd["filename"]' <<<"$upload")")"
  log "submitting $PL_CDC_JOB${resume:+ (resuming from $resume)}"
  # The jar is deleted whether or not the run succeeds: nothing of ours stays uploaded.
  out="$(curl -sS --fail-with-body --max-time 180 -X POST -H 'Content-Type: application/json' \
    --data-binary "$body" "$PL_FLINK_URL/jars/$jar_id/run" 2>&1)" || {
    curl -sS -X DELETE "$PL_FLINK_URL/jars/$jar_id" >/dev/null 2>&1 || true
    die "running $PL_CDC_JOB failed: $(_pl_errors <<<"$out")"
  }
  _pl_http DELETE "$PL_FLINK_URL/jars/$jar_id" >/dev/null
  PL_JOB_ID="$(_pl_json 'd["jobid"]' <<<"$out")"
}

# _pl_sql_statements FILE KEY=VALUE...: the file's statements with @KEY@ filled in,
# comment lines dropped, each terminated by a NUL byte.
_pl_sql_statements() {
  python3 - "$@" <<'PY'
import re
import sys

path, values = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])


def fill(match):
    if match.group(1) not in values:
        sys.exit(f"{path}: no value for @{match.group(1)}@")
    return values[match.group(1)]


text = "\n".join(line for line in open(path).read().splitlines() if not line.lstrip().startswith("--"))
text = re.sub(r"@([A-Z_]+)@", fill, text)
for statement in re.split(r";[ \t]*$", text, flags=re.M):
    if statement.strip():
        sys.stdout.write(statement.strip() + "\0")
PY
}

# _pl_gateway_run SESSION STATEMENT: runs one statement to its end; prints the id of
# the job it submitted, if any. Returns 1 (after logging Flink's error) on failure.
_pl_gateway_run() {
  local session="$1" statement="$2" base op status="" result i
  base="$PL_GATEWAY_URL/v1/sessions/$session"
  op="$(_pl_http POST "$base/statements" "$(python3 -c 'import json, sys; print(json.dumps({"statement": sys.argv[1]}))' "$statement")" \
    | _pl_json 'd["operationHandle"]')" || return 1
  for ((i = 0; i < 600; i++)); do
    status="$(_pl_http GET "$base/operations/$op/status" | _pl_json 'd["status"]')" || return 1
    case "$status" in FINISHED | ERROR | CANCELED | CLOSED | TIMEOUT) break ;; esac
    sleep 0.5
  done
  # A failed statement's result is Flink's error.
  result="$(curl -sS --fail-with-body --max-time 60 \
    "$PL_GATEWAY_URL/v2/sessions/$session/operations/$op/result/0?rowFormat=JSON" 2>&1)" || status=ERROR
  curl -sS -X DELETE "$base/operations/$op/close" >/dev/null 2>&1 || true
  if [ "$status" != FINISHED ]; then
    log "statement failed ($status): ${statement:0:200}"
    log "$(_pl_errors <<<"$result")"
    return 1
  fi
  _pl_json 'd.get("jobID")' <<<"$result"
}

# _pl_submit_ingest NAME STATEMENT_FILE: runs the file's statements as job NAME, resuming
# from NAME's newest retained checkpoint. Sets PL_JOB_ID.
_pl_submit_ingest() {
  local name="$1" file="$PL_DIR/$2" resume session statement jid="" out rc=0
  resume="$(_pl_resume_path "$name")"
  PL_RESUMED[$name]="$resume"
  mkdir -p "$DATA_DIR/warehouse"
  session="$(_pl_http POST "$PL_GATEWAY_URL/v1/sessions" \
    "$(python3 -c 'import json, sys
props = {"execution.savepoint.path": sys.argv[1]} if sys.argv[1] else {}
print(json.dumps({"sessionName": "rtp-pipeline", "properties": props}))' "$resume")" \
    | _pl_json 'd["sessionHandle"]')"
  log "submitting $name${resume:+ (resuming from $resume)}"
  while IFS= read -r -d '' statement; do
    out="$(_pl_gateway_run "$session" "$statement")" || { rc=1; break; }
    [ -n "$out" ] && jid="$out"
  done < <(_pl_sql_statements "$file" \
    "CHECKPOINT_DIR=file://$PL_STATE/checkpoints/$name" \
    "CATALOG_URI=jdbc:postgresql://$RTP_HOST:$POSTGRES_PORT/$POSTGRES_CATALOG_DB" \
    "CATALOG_USER=$POSTGRES_USER" "CATALOG_PASSWORD=$POSTGRES_PASSWORD" \
    "WAREHOUSE=file://$DATA_DIR/warehouse" "KAFKA_BOOTSTRAP=$PL_KAFKA")
  curl -sS -X DELETE "$PL_GATEWAY_URL/v1/sessions/$session" >/dev/null 2>&1 || true
  [ "$rc" = 0 ] || die "submitting $name failed"
  [ -n "$jid" ] || die "submitting $name returned no job id"
  PL_JOB_ID="$jid"
}

# _pl_ensure_job NAME SUBMIT_COMMAND...: sets PL_JOB_ID to NAME's live job, running
# SUBMIT_COMMAND (which sets PL_JOB_ID) if there is none.
_pl_ensure_job() {
  local name="$1" live
  shift
  live="$(_pl_live_job "$name")"
  if [ -n "$live" ]; then
    log "$name is already ${live#* } (${live%% *}): not submitted again"
    PL_JOB_ID="${live%% *}"
    return 0
  fi
  "$@"
}

# The ingestion jobs' names, one a line.
_pl_ingest_names() {
  local spec
  for spec in "${PL_INGEST_JOBS[@]}"; do echo "${spec%% *}"; done
}

# _pl_ingest_table NAME: the lake table ingestion job NAME writes (nothing for other jobs).
_pl_ingest_table() {
  local spec name file table
  for spec in "${PL_INGEST_JOBS[@]}"; do
    read -r name file table <<<"$spec"
    [ "$name" = "$1" ] && { echo "$table"; return 0; }
  done
  return 0
}

# ---------------------------------------------------------------- Iceberg

# _pl_iceberg_summary NAMESPACE.TABLE: snapshot count and the current snapshot's
# committed checkpoint of the lake table, read from the catalog row and its metadata file.
_pl_iceberg_summary() {
  local table="$1" location
  command -v psql >/dev/null 2>&1 || { echo "snapshots unknown (psql missing)"; return 0; }
  location="$(PGPASSWORD="$POSTGRES_PASSWORD" PGCONNECT_TIMEOUT=5 psql -XAtq -h "$RTP_HOST" -p "$POSTGRES_PORT" \
    -U "$POSTGRES_USER" -d "$POSTGRES_CATALOG_DB" -c "SELECT metadata_location FROM iceberg_tables
      WHERE catalog_name = 'lake' AND table_namespace = '${table%%.*}' AND table_name = '${table#*.}'" 2>/dev/null || true)"
  [ -n "$location" ] || { echo "lake.$table not created yet"; return 0; }
  python3 - "$location" "$table" <<'PY'
import gzip
import json
import sys
from urllib.parse import urlparse

path = urlparse(sys.argv[1]).path
with (gzip.open if ".gz." in path else open)(path, "rt") as f:
    meta = json.load(f)
snapshots = meta.get("snapshots", [])
current = next((s for s in snapshots if s["snapshot-id"] == meta.get("current-snapshot-id")), None)
checkpoint = (current or {}).get("summary", {}).get("flink.max-committed-checkpoint-id", "-")
print(f"lake.{sys.argv[2]} {len(snapshots)} snapshots, current covers checkpoint {checkpoint}")
PY
}

# ---------------------------------------------------------------- entry points

pipeline_up() {
  local spec name file table
  local -A ids=()
  _pl_require_stack
  _pl_schema
  _pl_topics
  pipeline_jars >/dev/null
  _pl_ensure_job "$PL_CDC_JOB" _pl_submit_cdc
  ids[$PL_CDC_JOB]="$PL_JOB_ID"
  for spec in "${PL_INGEST_JOBS[@]}"; do
    read -r name file table <<<"$spec"
    _pl_ensure_job "$name" _pl_submit_ingest "$name" "$file"
    ids[$name]="$PL_JOB_ID"
  done
  for name in "$PL_CDC_JOB" $(_pl_ingest_names); do
    _pl_wait_ready "$name" "${ids[$name]}"
  done
  log "pipeline is up"
}

pipeline_down() {
  local name jid state i
  port_in_use "$FLINK_REST_PORT" || { log "Flink is not running: no pipeline job to cancel"; return 0; }
  for name in $(_pl_ingest_names) "$PL_CDC_JOB"; do
    while read -r jid state; do
      [ -n "$jid" ] || continue
      log "cancelling $name ($jid, $state)"
      _pl_http PATCH "$PL_FLINK_URL/jobs/$jid?mode=cancel" >/dev/null
      for ((i = 0; i < 60; i++)); do
        [ "$(_pl_job_state "$jid")" = CANCELED ] && break
        sleep 1
      done
    done < <(_pl_jobs "$name" | awk '$2 !~ /^(FINISHED|CANCELED|FAILED)$/')
  done
}

pipeline_status() {
  local name jid state completed latest age detail table rc=0
  if ! port_in_use "$FLINK_REST_PORT"; then
    status_line pipeline down "Flink REST $PL_FLINK_URL not answering"
    return 1
  fi
  for name in "$PL_CDC_JOB" $(_pl_ingest_names); do
    read -r jid state < <(_pl_jobs "$name"; echo)
    if [ -z "$jid" ]; then
      status_line "$name" absent "never submitted (stack/rtp-stack pipeline up)"
      rc=1
      continue
    fi
    read -r completed latest age < <(_pl_checkpoints "$jid")
    detail="job $jid, checkpoint $latest"
    [ "$latest" = - ] || detail="$detail (${age}s ago)"
    table="$(_pl_ingest_table "$name")"
    [ -n "$table" ] && detail="$detail; $(_pl_iceberg_summary "$table")"
    status_line "$name" "$state" "$detail"
    [ "$state" = RUNNING ] || rc=1
  done
  if is_running generator; then
    status_line generator running "pid $(cat "$(pidfile generator)") (log: $LOG_DIR/generator.log)"
  fi
  return $rc
}

# generator_start [RATE [OPTION...]]: OPTIONs go to generator.py (e.g. --hot-rows 20).
generator_start() {
  local rate=5
  if [ $# -gt 0 ] && [[ "$1" != -* ]]; then rate="$1"; shift; fi
  [[ "$rate" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "generator rate must be changes per second, got '$rate'"
  port_in_use "$MARIADB_PORT" || die "MariaDB is not running (stack/rtp-stack up mariadb)"
  _pl_schema
  if is_running generator; then
    log "restarting the generator"
    stop_bg generator 15
  fi
  start_bg generator "$LOG_DIR/generator.log" env MYSQL_PWD="$MARIADB_ROOT_PASSWORD" \
    "${RTP_PYTHON:-python3}" "$PL_DIR/generator.py" --rate "$rate" \
    --host "$RTP_HOST" --port "$MARIADB_PORT" --user root --database shop "$@"
  sleep 1
  is_running generator || { tail -20 "$LOG_DIR/generator.log" >&2; die "the generator exited (log: $LOG_DIR/generator.log)"; }
  log "generator: $rate changes/s into shop.orders${*:+ ($*)} (log: $LOG_DIR/generator.log)"
}

generator_stop() {
  is_running generator || { rm -f "$(pidfile generator)"; return 0; }
  stop_bg generator 15
  log "generator stopped"
}
