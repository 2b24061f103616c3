#!/usr/bin/env bash
# Creates the reference pipeline's topics, RTP_TOPICS="name:partitions ...", on
# KAFKA_BOOTSTRAP. An existing topic is left as it is, so a rerun is harmless.
# Run once per `docker compose up` by the kafka-init service.
set -euo pipefail
tool=/opt/kafka/bin/kafka-topics.sh
for spec in $RTP_TOPICS; do
  topic="${spec%%:*}" partitions="${spec##*:}"
  "$tool" --bootstrap-server "$KAFKA_BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor 1
done
"$tool" --bootstrap-server "$KAFKA_BOOTSTRAP" --describe
