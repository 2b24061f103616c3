package rtp.jobs.clickhousesink;

import java.io.IOException;
import java.util.List;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * One Debezium JSON change event into one JSONEachRow line.
 *
 * <p>The row image is {@code after}, or {@code before} for a delete; the configured fields are
 * copied as they are (a missing field is left out, so the column's default applies). Tombstones
 * (records without a value) give no row.
 */
final class ChangeEventRows implements KafkaRecordDeserializationSchema<String> {

    private static final long serialVersionUID = 1L;

    private final List<String> fields;
    private transient ObjectMapper mapper;

    ChangeEventRows(List<String> fields) {
        this.fields = fields;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<String> out)
            throws IOException {
        if (record.value() == null) {
            return;
        }
        if (mapper == null) {
            mapper = new ObjectMapper();
        }
        JsonNode root = mapper.readTree(record.value());
        String op = root.path("op").asText("");
        JsonNode image = "d".equals(op) ? root.path("before") : root.path("after");
        ObjectNode row = mapper.createObjectNode();
        for (String field : fields) {
            JsonNode value = image.get(field);
            if (value != null && !value.isNull()) {
                row.set(field, value);
            }
        }
        row.put("_op", op);
        row.put("_source_ts_ms", root.path("source").path("ts_ms").asLong(0));
        row.put("_partition", record.partition());
        row.put("_offset", record.offset());
        row.put("_timestamp_ms", record.timestamp());
        out.collect(mapper.writeValueAsString(row));
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return Types.STRING;
    }
}
