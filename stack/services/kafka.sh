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
  [ -f "$KAFKA_HOME/.complete" ] && return 0
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
  # CLI wrappers named like the distribution's scripts (without .sh).
  local name main
  while read -r name main; do
    cat > "$tmp/bin/$name" <<SH
#!/usr/bin/env bash
# Kafka $KAFKA_VERSION CLI: $main
KAFKA_HOME="\$(cd "\$(dirname "\$(readlink -f "\$0")")/.." && pwd)"
exec java -Xmx512m -Dlog4j2.level=WARN -cp "\$KAFKA_HOME/libs/*" $main "\$@"
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
  touch "$tmp/.complete"
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

kafka_healthy() {
  port_in_use "$KAFKA_PORT" && "$KAFKA_HOME/bin/kafka-topics" --bootstrap-server "$RTP_HOST:$KAFKA_PORT" --list \
    --command-config /dev/null >/dev/null 2>&1
}

kafka_start() {
  if is_running kafka; then
    wait_port "$KAFKA_PORT" kafka 60 "$LOG_DIR/kafka.out"
    return 0
  fi
  ensure_port_free "$KAFKA_PORT" kafka
  ensure_port_free "$KAFKA_CONTROLLER_PORT" "kafka controller"
  kafka_config
  if [ ! -f "$KAFKA_CLUSTER_ID_FILE" ]; then
    local id; id="$(java -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    [ -n "$id" ] || die "kafka-storage random-uuid failed"
    "$KAFKA_HOME/bin/kafka-storage" format -t "$id" -c "$KAFKA_CONF/server.properties" --standalone \
      >"$LOG_DIR/kafka-format.log" 2>&1 || { cat "$LOG_DIR/kafka-format.log" >&2; die "formatting Kafka storage failed"; }
    echo "$id" > "$KAFKA_CLUSTER_ID_FILE"
  fi
  start_bg kafka "$LOG_DIR/kafka.out" java -Xms512m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR/kafka" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_CONF/server.properties"
  wait_port "$KAFKA_PORT" kafka 90 "$LOG_DIR/kafka/server.log"
  is_running kafka || { tail -30 "$LOG_DIR/kafka.out" >&2; die "kafka exited during start"; }
}

kafka_stop() {
  stop_bg kafka 60
}

kafka_status() {
  if is_running kafka && kafka_healthy; then
    status_line kafka up "$RTP_HOST:$KAFKA_PORT (KRaft, $KAFKA_VERSION)"
  else
    status_line kafka DOWN "$RTP_HOST:$KAFKA_PORT"; return 1
  fi
}
