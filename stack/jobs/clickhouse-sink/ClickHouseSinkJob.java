package rtp.jobs.clickhousesink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.environment.CheckpointConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

/**
 * Kafka change events into one ClickHouse table, flushed on every checkpoint.
 *
 * <p>A {@link KafkaSource} with a consumer group reads the topic and commits its offsets to the
 * group when a checkpoint completes. {@link ChangeEventRows} turns each Debezium JSON record (as
 * the stack's CDC job writes them to {@code shop.orders}) into one JSON row; {@link
 * ClickHouseHttpSink} buffers rows and inserts them over HTTP, synchronously while the checkpoint
 * is taken (a failed insert fails the checkpoint) and whenever the buffer is full. So once a
 * checkpoint completed, every row read before its barrier is in ClickHouse. A failure after an
 * insert and before the checkpoint completes re-delivers rows: the table has to deduplicate (e.g.
 * a ReplacingMergeTree ordered by {@code _partition, _offset}), or its readers.
 *
 * <p>Arguments ({@code --key value}): bootstrap-servers, topic, group, clickhouse-url (the HTTP
 * interface, e.g. http://127.0.0.1:8123), table ({@code db.table}), fields (row fields copied
 * into columns of the same name, comma-separated; default id,customer_id,amount,status),
 * clickhouse-user, clickhouse-password, batch-size (rows; default 5000), checkpoint-interval-ms,
 * checkpoint-dir, job-name. Every row also gets {@code _op} (c, r, u, d), {@code _source_ts_ms}
 * (binlog time, 0 when absent), {@code _partition}, {@code _offset} and {@code _timestamp_ms} (the
 * Kafka record's).
 */
public final class ClickHouseSinkJob {

    private ClickHouseSinkJob() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        String topic = required(args, "topic");
        List<String> fields =
                new ArrayList<>(
                        Arrays.asList(
                                args.getOrDefault("fields", "id,customer_id,amount,status")
                                        .split(",")));
        fields.removeIf(String::isEmpty);

        Properties consumer = new Properties();
        // What a committed offset says is only true with it: offsets follow completed checkpoints.
        consumer.setProperty("commit.offsets.on.checkpoint", "true");
        consumer.setProperty("isolation.level", "read_committed");
        KafkaSource<String> source =
                KafkaSource.<String>builder()
                        .setBootstrapServers(required(args, "bootstrap-servers"))
                        .setTopics(topic)
                        .setGroupId(required(args, "group"))
                        .setStartingOffsets(
                                OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                        .setProperties(consumer)
                        .setDeserializer(new ChangeEventRows(fields))
                        .build();

        ClickHouseHttpSink sink =
                new ClickHouseHttpSink(
                        required(args, "clickhouse-url"),
                        required(args, "table"),
                        args.getOrDefault("clickhouse-user", "default"),
                        args.getOrDefault("clickhouse-password", ""),
                        Integer.parseInt(args.getOrDefault("batch-size", "5000")));

        Configuration conf = new Configuration();
        if (args.containsKey("checkpoint-dir")) {
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, args.get("checkpoint-dir"));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        if (args.containsKey("checkpoint-interval-ms")
                || !env.getCheckpointConfig().isCheckpointingEnabled()) {
            env.enableCheckpointing(
                    Long.parseLong(args.getOrDefault("checkpoint-interval-ms", "10000")),
                    CheckpointingMode.EXACTLY_ONCE);
        }
        CheckpointConfig checkpoints = env.getCheckpointConfig();
        checkpoints.setExternalizedCheckpointRetention(
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        checkpoints.setCheckpointTimeout(Duration.ofMinutes(5).toMillis());

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka " + topic)
                .uid("kafka-source")
                .addSink(sink)
                .name("clickhouse " + args.get("table"))
                .uid("clickhouse-sink");

        env.execute(args.getOrDefault("job-name", "clickhouse-sink"));
    }

    private static String required(Map<String, String> args, String key) {
        String value = args.get(key);
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("missing argument --" + key);
        }
        return value;
    }

    static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --key value pairs, got: " + argv[i]);
            }
            args.put(argv[i].substring(2), argv[++i]);
        }
        return args;
    }
}
