package rtp.jobs.maintenance;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.InstantiationUtil;
import org.apache.iceberg.BaseCombinedScanTask;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.CombinedScanTask;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.DeleteFile;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.ManifestFile;
import org.apache.iceberg.ManifestFiles;
import org.apache.iceberg.ManifestReader;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.StructLike;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.flink.CatalogLoader;
import org.apache.iceberg.flink.FlinkCatalogFactory;
import org.apache.iceberg.flink.TableLoader;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.util.PropertyUtil;
import org.apache.iceberg.util.BinPacking;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compacts chosen partitions of an Iceberg table beside its live Flink writer.
 *
 * <p>Planned in {@code main} on the current snapshot S: every live data file of each chosen
 * partition, read with its position and equality deletes applied, is rewritten into files of the
 * target size by parallel tasks; one committer then replaces, in a single {@code RewriteFiles}
 * commit validated from S, those data files and every delete file of those partitions that was
 * live at S.
 *
 * <p>Why this is safe while the writer keeps committing:
 *
 * <ul>
 *   <li>The new files get S's data sequence number. An equality delete applies to data files of
 *       a lower sequence number, so deletes the writer commits after S (higher numbers) still
 *       apply to the rewritten rows; Iceberg then skips its "new delete for replaced data file"
 *       check for equality deletes, the conflict that fails compactions committing with a fresh
 *       sequence number.
 *   <li>Delete files live at S have numbers at most S's: they cannot apply to the new files (same
 *       number) nor to files committed after S (higher), and the files they applied to are gone,
 *       so a compacted partition's scan plan carries none of them.
 *   <li>The Flink writer's position deletes only point at files of its own checkpoint, never at
 *       files live at S; if some other writer's did, the commit fails validation, the new files
 *       are deleted, and the job fails with Iceberg's message so the caller can run it again.
 * </ul>
 *
 * <p>The job writes no Flink state and commits once at the end of its input (batch mode): a
 * failed or cancelled run leaves the table as it was. The commit's summary carries {@code
 * rtp.maintenance.run-id}, by which the submitter finds its result.
 *
 * <p>Arguments: {@code --table ns.name --run-id ID [--catalog-name lake] [--catalog-property k=v
 * ...] [--partition PATH ...] [--all-partitions true] [--target-file-size-bytes N]
 * [--parallelism N]}. A partition is named by its path as Iceberg writes it ({@code
 * change_hour=2026-12-05-10}, {@code ""} for an unpartitioned table).
 */
public final class LakeCompactionJob {

    private static final Logger LOG = LoggerFactory.getLogger(LakeCompactionJob.class);
    private static final TypeInformation<byte[]> BYTES = PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;

    private LakeCompactionJob() {}

    public static void main(String[] argv) throws Exception {
        JobArgs args = new JobArgs(argv);
        LOG.info("lake compaction arguments: {}", args);
        String tableName = args.required("table");
        String runId = args.required("run-id");
        TableLoader loader =
                TableLoader.fromCatalog(
                        catalogLoader(args.optional("catalog-name", "lake"), args.properties("catalog-property")),
                        TableIdentifier.parse(tableName));
        loader.open();
        Table table = loader.loadTable();

        Snapshot start = table.currentSnapshot();
        if (start == null) {
            throw new IllegalArgumentException("table " + tableName + " has no snapshot: nothing to compact");
        }
        long targetSize =
                args.longValue(
                        "target-file-size-bytes",
                        PropertyUtil.propertyAsLong(
                                table.properties(),
                                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
                                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT));
        if (targetSize <= 0) {
            throw new IllegalArgumentException("--target-file-size-bytes must be positive, got " + targetSize);
        }

        Plan plan = plan(table, start, selection(args), targetSize);
        LOG.info(
                "compacting {} at snapshot {} (sequence number {}): partitions {}, {} data files, {} delete files, {} tasks",
                tableName,
                start.snapshotId(),
                start.sequenceNumber(),
                plan.partitions,
                plan.dataFiles.size(),
                plan.deleteFiles.size(),
                plan.tasks.size());

        List<byte[]> tasks = new ArrayList<>();
        for (CombinedScanTask task : plan.tasks) {
            tasks.add(InstantiationUtil.serializeObject(task));
        }
        if (tasks.isEmpty()) {
            // Only delete files to drop: one empty task keeps the graph (and its commit) the same.
            tasks.add(new byte[0]);
        }
        int parallelism = (int) Math.max(1, Math.min(args.longValue("parallelism", 1), Math.max(1, tasks.size())));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        RewriteCommitter committer =
                new RewriteCommitter(
                        loader,
                        start.snapshotId(),
                        start.sequenceNumber(),
                        plan.dataFiles,
                        plan.deleteFiles,
                        runId,
                        String.join(",", plan.partitions));
        env.fromData(tasks, BYTES)
                .name("planned rewrite tasks")
                .rebalance()
                .map(new RewriteTask(table, targetSize), BYTES)
                .name("rewrite with deletes applied")
                .setParallelism(parallelism)
                .transform("commit at the starting sequence number", Types.VOID, committer)
                .setParallelism(1)
                .setMaxParallelism(1)
                .sinkTo(new DiscardingSink<>())
                .setParallelism(1);
        env.execute();
    }

    /** The chosen partition paths, or {@code null} for every partition. */
    private static Set<String> selection(JobArgs args) {
        if (Boolean.parseBoolean(args.optional("all-partitions", "false"))) {
            return null;
        }
        List<String> partitions = args.all("partition");
        if (partitions.isEmpty()) {
            throw new IllegalArgumentException("name the partitions to compact (--partition PATH) or pass --all-partitions true");
        }
        return new LinkedHashSet<>(partitions);
    }

    static CatalogLoader catalogLoader(String name, Map<String, String> props) {
        Map<String, String> properties = new HashMap<>(props);
        org.apache.hadoop.conf.Configuration conf = FlinkCatalogFactory.clusterHadoopConf();
        String impl = properties.get(CatalogProperties.CATALOG_IMPL);
        if (impl != null) {
            return CatalogLoader.custom(name, properties, conf, impl);
        }
        String type = properties.getOrDefault("catalog-type", "hadoop");
        switch (type.toLowerCase()) {
            case "rest":
                return CatalogLoader.rest(name, conf, properties);
            case "hive":
                return CatalogLoader.hive(name, conf, properties);
            case "hadoop":
                return CatalogLoader.hadoop(name, conf, properties);
            default:
                throw new IllegalArgumentException("unknown catalog-type " + type + " (rest, hive, hadoop or catalog-impl)");
        }
    }

    static final class Plan {
        final List<String> partitions = new ArrayList<>();
        final List<DataFile> dataFiles = new ArrayList<>();
        final List<DeleteFile> deleteFiles = new ArrayList<>();
        final List<CombinedScanTask> tasks = new ArrayList<>();
    }

    static Plan plan(Table table, Snapshot start, Set<String> wanted, long targetSize) throws Exception {
        Map<Integer, PartitionSpec> specs = table.specs();
        Map<String, List<FileScanTask>> byPartition = new LinkedHashMap<>();
        try (CloseableIterable<FileScanTask> files =
                table.newScan().useSnapshot(start.snapshotId()).ignoreResiduals().planFiles()) {
            for (FileScanTask task : files) {
                String path = path(specs, task.file().specId(), task.file().partition());
                if (wanted == null || wanted.contains(path)) {
                    byPartition.computeIfAbsent(path, p -> new ArrayList<>()).add(task);
                }
            }
        }
        Map<String, List<DeleteFile>> deletes = new LinkedHashMap<>();
        for (ManifestFile manifest : start.deleteManifests(table.io())) {
            try (ManifestReader<DeleteFile> reader = ManifestFiles.readDeleteManifest(manifest, table.io(), specs)) {
                for (DeleteFile file : reader) {
                    String path = path(specs, file.specId(), file.partition());
                    if (wanted == null || wanted.contains(path)) {
                        deletes.computeIfAbsent(path, p -> new ArrayList<>()).add(file.copy());
                    }
                }
            }
        }
        Set<String> found = new TreeSet<>(byPartition.keySet());
        found.addAll(deletes.keySet());
        if (wanted != null && !found.containsAll(wanted)) {
            Set<String> missing = new TreeSet<>(wanted);
            missing.removeAll(found);
            throw new IllegalArgumentException(
                    "no such partition in " + table.name() + " at snapshot " + start.snapshotId() + ": " + missing);
        }
        long lookback =
                PropertyUtil.propertyAsInt(table.properties(), TableProperties.SPLIT_LOOKBACK, TableProperties.SPLIT_LOOKBACK_DEFAULT);
        long openCost =
                PropertyUtil.propertyAsLong(
                        table.properties(), TableProperties.SPLIT_OPEN_FILE_COST, TableProperties.SPLIT_OPEN_FILE_COST_DEFAULT);
        Plan plan = new Plan();
        plan.partitions.addAll(found);
        for (List<FileScanTask> group : byPartition.values()) {
            for (FileScanTask task : group) {
                plan.dataFiles.add(task.file().copy());
            }
            // Grouped per partition: a task never mixes partitions, so each writes files of one.
            // Packed by data file size only: a read plan (TableScanUtil.planTasks) also charges
            // an open cost per delete file a data file carries, so a partition with a hundred
            // equality deletes would get a task, and an output file, per data file.
            final long cost = openCost;
            for (List<FileScanTask> bin :
                    new BinPacking.ListPacker<FileScanTask>(targetSize, (int) lookback, false)
                            .pack(group, t -> Math.max(t.file().fileSizeInBytes(), cost))) {
                plan.tasks.add(new BaseCombinedScanTask(bin));
            }
        }
        deletes.values().forEach(plan.deleteFiles::addAll);
        return plan;
    }

    static String path(Map<Integer, PartitionSpec> specs, int specId, StructLike partition) {
        PartitionSpec spec = specs.get(specId);
        return spec.isUnpartitioned() ? "" : spec.partitionToPath(partition);
    }
}
