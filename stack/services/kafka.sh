# Apache Kafka 4.x, single node in KRaft mode (broker + controller in one JVM),
# run from the Maven Central jars: no tarball distribution is needed.

KAFKA_HOME="$RTP_CACHE/kafka-$KAFKA_VERSION"
KAFKA_DATA="$DATA_DIR/kafka"
KAFKA_CONF="$CONF_DIR/kafka"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DATA/.cluster-id"

# Resolve the broker and the CLI tools with every runtime dependency through a
# generated pom, so Maven does the transitive work and caches it in ~/.m2.
kafka_install() {
  require_cmd java mvn
  # The marker records the pins the install was resolved with; a changed pin re-resolves.
  local want="kafka_$SCALA_BINARY_VERSION $KAFKA_VERSION log4j $KAFKA_LOG4J_VERSION"
  [ -f "$KAFKA_HOME/.complete" ] && [ "$(cat "$KAFKA_HOME/.complete")" = "$want" ] && return 0
  log "resolving Kafka $KAFKA_VERSION from Maven Central"
  local tmp="$KAFKA_HOME.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/libs" "$tmp/bin"
  cat > "$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rtp.stack</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_BINARY_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$KAFKA_LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -q -B -f "$tmp/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" -DincludeScope=runtime \
    >"$LOG_DIR/kafka-install.log" 2>&1 || { tail -20 "$LOG_DIR/kafka-install.log" >&2; die "resolving Kafka $KAFKA_VERSION from Maven Central failed (log: $LOG_DIR/kafka-install.log)"; }
  # The CLI tools log warnings and errors to stderr only, so their stdout stays parseable.
  mkdir -p "$tmp/config"
  cat > "$tmp/config/tools-log4j2.properties" <<'EOF2'
status = error
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = stderr
EOF2
  # CLI wrappers named like the distribution's scripts (without .sh). C1 only: these
  # JVMs live for seconds, so start-up dominates.
  local name main
  while read -r name main; do
    cat > "$tmp/bin/$name" <<SH
#!/usr/bin/env bash
# Kafka $KAFKA_VERSION CLI: $main
KAFKA_HOME="\$(cd "\$(dirname "\$(readlink -f "\$0")")/.." && pwd)"
exec java -Xmx512m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="\$KAFKA_HOME/config/tools-log4j2.properties" \\
  -cp "\$KAFKA_HOME/libs/*" $main "\$@"
SH
    chmod +x "$tmp/bin/$name"
  done <<'TOOLS'
kafka-topics org.apache.kafka.tools.TopicCommand
kafka-consumer-groups org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
kafka-console-producer org.apache.kafka.tools.ConsoleProducer
kafka-console-consumer org.apache.kafka.tools.consumer.ConsoleConsumer
kafka-get-offsets org.apache.kafka.tools.GetOffsetShell
kafka-storage kafka.tools.StorageTool
TOOLS
  local jar
  for jar in "kafka_$SCALA_BINARY_VERSION-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar"; do
    [ -f "$tmp/libs/$jar" ] || die "Maven resolved no $jar (log: $LOG_DIR/kafka-install.log)"
  done
  echo "$want" > "$tmp/.complete"
  # Assembled aside and renamed, so a broken half-install is never used.
  rm -rf "$KAFKA_HOME"; mv "$tmp" "$KAFKA_HOME"
}

kafka_config() {
  mkdir -p "$KAFKA_CONF" "$KAFKA_DATA/log" "$LOG_DIR/kafka"
  cat > "$KAFKA_CONF/server.properties" <<EOF2
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$RTP_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$RTP_HOST:$KAFKA_PORT,CONTROLLER://$RTP_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$RTP_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA/log
num.partitions=1
# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Tests set short retention per topic; check it often so they don't wait long.
# Kafka 4 rejects segment.bytes below 1 MiB: small test topics roll by segment.ms
# (or the topic-level internal.segment.bytes) instead.
log.retention.check.interval.ms=5000
log.segment.delete.delay.ms=1000
auto.create.topics.enable=false
EOF2
  cat > "$KAFKA_CONF/log4j2.properties" <<EOF2
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOG_DIR/kafka/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF2
}

# The broker answers a metadata request (an open port alone can precede that).
kafka_healthy() {
  port_in_use "$KAFKA_PORT" && "$KAFKA_HOME/bin/kafka-topics" --bootstrap-server "$RTP_HOST:$KAFKA_PORT" --list \
    >/dev/null 2>&1
}

kafka_wait_healthy() {
  local timeout="$1" i
  for ((i = 0; i < timeout; i += 2)); do
    kafka_healthy && return 0
    is_running kafka || { tail -30 "$LOG_DIR/kafka.out" >&2; die "kafka exited during start (log: $LOG_DIR/kafka/server.log)"; }
    sleep 2
  done
  die "kafka did not answer on $RTP_HOST:$KAFKA_PORT within ${timeout}s (log: $LOG_DIR/kafka/server.log)"
}

kafka_start() {
  if is_running kafka; then
    kafka_wait_healthy 60
    return 0
  fi
  kafka_kill_strays
  ensure_port_free "$KAFKA_PORT" kafka
  ensure_port_free "$KAFKA_CONTROLLER_PORT" "kafka controller"
  kafka_config
  # Format once: meta.properties marks a formatted log dir.
  if [ ! -f "$KAFKA_DATA/log/meta.properties" ]; then
    local id; id="$("$KAFKA_HOME/bin/kafka-storage" random-uuid 2>/dev/null | tail -1)"
    [ -n "$id" ] || die "kafka-storage random-uuid failed"
    "$KAFKA_HOME/bin/kafka-storage" format -t "$id" -c "$KAFKA_CONF/server.properties" --standalone \
      >"$LOG_DIR/kafka-format.log" 2>&1 || { cat "$LOG_DIR/kafka-format.log" >&2; die "formatting Kafka storage failed"; }
    echo "$id" > "$KAFKA_CLUSTER_ID_FILE"
  fi
  start_bg kafka "$LOG_DIR/kafka.out" java -Xms512m -Xmx1g -XX:+UseG1GC $RTP_JVM_OPTS -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR/kafka" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_CONF/server.properties"
  wait_port "$KAFKA_PORT" kafka 90 "$LOG_DIR/kafka/server.log"
  kafka_wait_healthy 60
}

# A broker of this state dir that lost its pid file (e.g. the run dir was wiped):
# found by the server.properties path on its command line.
kafka_kill_strays() {
  local pat="$KAFKA_CONF/server.properties" pids i
  mapfile -t pids < <(pgrep -f -- "$pat" || true)
  [ ${#pids[@]} -gt 0 ] || return 0
  log "stopping stray kafka process(es): ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do pgrep -f -- "$pat" >/dev/null || return 0; sleep 0.5; done
  mapfile -t pids < <(pgrep -f -- "$pat" || true)
  [ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
}

kafka_stop() {
  # A clean shutdown (TERM) lets the next start skip log recovery.
  stop_bg kafka 60
  kafka_kill_strays
}

kafka_status() {
  if is_running kafka && kafka_healthy; then
    status_line kafka up "$RTP_HOST:$KAFKA_PORT (KRaft, $KAFKA_VERSION)"
  else
    status_line kafka DOWN "$RTP_HOST:$KAFKA_PORT"; return 1
  fi
}
