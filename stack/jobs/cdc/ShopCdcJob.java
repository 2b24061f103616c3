package rtp.jobs.cdc;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.cdc.connectors.mysql.source.MySqlSource;
import org.apache.flink.cdc.connectors.mysql.table.StartupOptions;
import org.apache.flink.cdc.debezium.JsonDebeziumDeserializationSchema;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.environment.CheckpointConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Captures one MariaDB/MySQL database into Kafka as Debezium JSON.
 *
 * <p>The data table and the heartbeat table are read by the same binlog reader (one
 * {@link MySqlSource}). Binlog order is kept up to the Kafka sink, so a committed heartbeat
 * with time h proves that every change logged before it is committed in the data topic: that
 * is what the completeness check relies on. Two sources (e.g. two mysql-cdc SQL tables) would
 * read independently and prove nothing about each other.
 *
 * <p>Arguments ({@code --key value}): mysql-host, mysql-port, mysql-user, mysql-password,
 * database, table, heartbeat-table, key-field, server-id, server-time-zone, bootstrap-servers,
 * topic, heartbeat-topic, transactional-id-prefix, transaction-timeout-ms,
 * checkpoint-interval-ms, checkpoint-dir, job-name.
 */
public final class ShopCdcJob {

    private ShopCdcJob() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        String database = args.getOrDefault("database", "shop");
        String table = args.getOrDefault("table", "orders");
        String heartbeatTable = args.getOrDefault("heartbeat-table", "rtp_heartbeat");

        MySqlSource<String> source =
                MySqlSource.<String>builder()
                        .hostname(required(args, "mysql-host"))
                        .port(Integer.parseInt(required(args, "mysql-port")))
                        .username(required(args, "mysql-user"))
                        .password(required(args, "mysql-password"))
                        .databaseList(database)
                        .tableList(database + "." + table, database + "." + heartbeatTable)
                        // A fixed range: the server ids are how the database tells binlog
                        // clients apart; a restored job must come back with the same ones.
                        .serverId(args.getOrDefault("server-id", "5401-5404"))
                        .serverTimeZone(args.getOrDefault("server-time-zone", "UTC"))
                        .startupOptions(StartupOptions.initial())
                        // DECIMAL as JSON numbers (not base64 bytes) so that Flink's
                        // debezium-json format reads amounts as DECIMAL.
                        .deserializer(
                                new JsonDebeziumDeserializationSchema(
                                        false, Map.of("decimal.format", "NUMERIC")))
                        .build();

        Properties producer = new Properties();
        // Must not exceed the broker's transaction.max.timeout.ms (15 min by default), and
        // must outlive a checkpoint interval plus a restart.
        producer.setProperty(
                "transaction.timeout.ms", args.getOrDefault("transaction-timeout-ms", "600000"));

        KafkaSink<String> sink =
                KafkaSink.<String>builder()
                        .setBootstrapServers(required(args, "bootstrap-servers"))
                        .setKafkaProducerConfig(producer)
                        // Records become visible to read_committed consumers only when the
                        // checkpoint that covers them completes.
                        .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                        .setTransactionalIdPrefix(
                                args.getOrDefault("transactional-id-prefix", "shop-cdc"))
                        .setRecordSerializer(
                                new ChangeEventSerializer(
                                        table,
                                        args.getOrDefault("topic", database + "." + table),
                                        heartbeatTable,
                                        args.getOrDefault(
                                                "heartbeat-topic", database + "." + heartbeatTable),
                                        args.getOrDefault("key-field", "id"),
                                        args.getOrDefault("heartbeat-time-field", "ts")))
                        .build();

        Configuration conf = new Configuration();
        if (args.containsKey("checkpoint-dir")) {
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, args.get("checkpoint-dir"));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        // An explicit argument wins, then an interval set at submission, then 10 s.
        if (args.containsKey("checkpoint-interval-ms")
                || !env.getCheckpointConfig().isCheckpointingEnabled()) {
            env.enableCheckpointing(
                    Long.parseLong(args.getOrDefault("checkpoint-interval-ms", "10000")),
                    CheckpointingMode.EXACTLY_ONCE);
        }
        CheckpointConfig checkpoints = env.getCheckpointConfig();
        // Kept after cancel/kill so that the job can resume from its binlog position instead
        // of taking a new snapshot (which would re-emit every row).
        checkpoints.setExternalizedCheckpointRetention(
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        checkpoints.setCheckpointTimeout(Duration.ofMinutes(5).toMillis());

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "binlog " + database)
                .uid("mysql-binlog-source")
                .sinkTo(sink)
                .name("kafka " + database)
                .uid("kafka-sink");

        env.execute(args.getOrDefault("job-name", "shop-cdc"));
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
