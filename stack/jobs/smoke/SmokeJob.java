package rtp.jobs.smoke;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

/**
 * A tiny checkpointed job for tests of submission, savepoints, upgrades and rescaling.
 *
 * <p>sequence source (rate limited) → keyed counter (ValueState) → discarding sink. Every
 * operator has a stable uid and max parallelism is fixed, so savepoints restore across
 * resubmission and rescaling.
 *
 * <p>Arguments: --name (job name, default rtp-smoke), --rate (records/s, default 10), --keys
 * (default 16), --checkpoint-interval-ms (default: the interval set at submission, else
 * 10000), --checkpoint-dir (optional).
 */
public final class SmokeJob {

    private SmokeJob() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parseArgs(argv);
        long rate = Long.parseLong(args.getOrDefault("rate", "10"));
        long keys = Long.parseLong(args.getOrDefault("keys", "16"));

        Configuration conf = new Configuration();
        if (args.containsKey("checkpoint-dir")) {
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, args.get("checkpoint-dir"));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setMaxParallelism(128);
        // An explicit argument wins, then an interval set at submission, then 10 s.
        if (args.containsKey("checkpoint-interval-ms")
                || !env.getCheckpointConfig().isCheckpointingEnabled()) {
            env.enableCheckpointing(
                    Long.parseLong(args.getOrDefault("checkpoint-interval-ms", "10000")),
                    CheckpointingMode.EXACTLY_ONCE);
        }
        env.getCheckpointConfig()
                .setExternalizedCheckpointRetention(
                        ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);

        DataGeneratorSource<Long> sequence =
                new DataGeneratorSource<>(
                        (GeneratorFunction<Long, Long>) index -> index,
                        Long.MAX_VALUE,
                        RateLimiterStrategy.perSecond(rate),
                        Types.LONG);

        env.fromSource(sequence, WatermarkStrategy.noWatermarks(), "sequence")
                .uid("smoke-sequence")
                .keyBy((KeySelector<Long, Long>) value -> value % keys, Types.LONG)
                .process(new CountPerKey())
                .name("count-per-key")
                .uid("smoke-counter")
                .sinkTo(new DiscardingSink<>())
                .name("discard")
                .uid("smoke-sink");

        env.execute(args.getOrDefault("name", "rtp-smoke"));
    }

    /** Counts records per key in keyed state; emits the running count. */
    static final class CountPerKey extends KeyedProcessFunction<Long, Long, Long> {
        private static final long serialVersionUID = 1L;

        private transient ValueState<Long> count;
        private transient Counter processed;

        @Override
        public void open(OpenContext openContext) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            processed = getRuntimeContext().getMetricGroup().counter("smokeProcessed");
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            processed.inc();
            out.collect(next);
        }
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
