package rtp.jobs.cdc;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Routes a Debezium JSON change event to its topic, keyed and timestamped for the
 * completeness check.
 *
 * <ul>
 *   <li>key = the primary key value: all changes of a row land in one partition, in binlog
 *       order.
 *   <li>timestamp = the binlog time of the change ({@code source.ts_ms}); records of the
 *       initial snapshot have no binlog time (0) and get the capture time ({@code ts_ms}).
 *   <li>heartbeats get the heartbeat row's own time column (what the database wrote, ms
 *       precision), falling back to the binlog time.
 * </ul>
 *
 * <p>The value is the event unchanged.
 */
final class ChangeEventSerializer implements KafkaRecordSerializationSchema<String> {

    private static final long serialVersionUID = 1L;

    private final String table;
    private final String topic;
    private final String heartbeatTable;
    private final String heartbeatTopic;
    private final String keyField;
    private final String heartbeatTimeField;

    private transient ObjectMapper mapper;

    ChangeEventSerializer(
            String table,
            String topic,
            String heartbeatTable,
            String heartbeatTopic,
            String keyField,
            String heartbeatTimeField) {
        this.table = table;
        this.topic = topic;
        this.heartbeatTable = heartbeatTable;
        this.heartbeatTopic = heartbeatTopic;
        this.keyField = keyField;
        this.heartbeatTimeField = heartbeatTimeField;
    }

    @Override
    public void open(
            SerializationSchema.InitializationContext context, KafkaSinkContext sinkContext) {
        mapper = new ObjectMapper();
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(
            String event, KafkaSinkContext context, Long ignoredTimestamp) {
        if (mapper == null) {
            mapper = new ObjectMapper();
        }
        JsonNode root;
        try {
            root = mapper.readTree(event);
        } catch (Exception e) {
            throw new IllegalStateException("not a Debezium JSON event: " + abbreviate(event), e);
        }
        JsonNode source = root.path("source");
        String eventTable = source.path("table").asText();
        // Deletes carry only the before image.
        JsonNode row = "d".equals(root.path("op").asText()) ? root.path("before") : root.path("after");
        JsonNode keyNode = row.path(keyField);
        if (keyNode.isMissingNode() || keyNode.isNull()) {
            throw new IllegalStateException(
                    "event without key field '" + keyField + "': " + abbreviate(event));
        }
        byte[] key = keyNode.asText().getBytes(StandardCharsets.UTF_8);
        long changeTime = changeTime(root, source);

        String target;
        long timestamp;
        if (eventTable.equals(table)) {
            target = topic;
            timestamp = changeTime;
        } else if (eventTable.equals(heartbeatTable)) {
            target = heartbeatTopic;
            timestamp = heartbeatTime(row, changeTime);
        } else {
            throw new IllegalStateException("event of an unexpected table: " + eventTable);
        }
        return new ProducerRecord<>(
                target, null, timestamp, key, event.getBytes(StandardCharsets.UTF_8));
    }

    private static long changeTime(JsonNode root, JsonNode source) {
        long binlogTime = source.path("ts_ms").asLong(0);
        return binlogTime > 0 ? binlogTime : root.path("ts_ms").asLong(System.currentTimeMillis());
    }

    /** TIMESTAMP columns arrive as ISO-8601 UTC strings (Debezium ZonedTimestamp). */
    private long heartbeatTime(JsonNode row, long fallback) {
        JsonNode value = row.path(heartbeatTimeField);
        if (value.isTextual()) {
            try {
                return Instant.parse(value.asText()).toEpochMilli();
            } catch (DateTimeParseException e) {
                return fallback;
            }
        }
        return value.isNumber() ? value.asLong() : fallback;
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
