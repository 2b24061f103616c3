package rtp.jobs.maintenance;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.InstantiationUtil;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.DeleteFile;
import org.apache.iceberg.RewriteFiles;
import org.apache.iceberg.Table;
import org.apache.iceberg.flink.TableLoader;

/**
 * Collects the rewritten files and commits them once, at the end of the input, as one {@code
 * RewriteFiles} validated from the starting snapshot and carrying its data sequence number (see
 * {@link LakeCompactionJob} for why). If the commit fails, the new files are deleted.
 */
final class RewriteCommitter extends AbstractStreamOperator<Void>
        implements OneInputStreamOperator<byte[], Void>, BoundedOneInput {

    private static final long serialVersionUID = 1L;
    static final String RUN_ID = "rtp.maintenance.run-id";
    static final String PARTITIONS = "rtp.maintenance.partitions";
    static final String FLINK_JOB = "rtp.maintenance.flink-job-id";
    static final String START_SNAPSHOT = "rtp.maintenance.start-snapshot-id";
    static final String START_SEQUENCE = "rtp.maintenance.start-sequence-number";

    private final TableLoader loader;
    private final long startSnapshotId;
    private final long startSequenceNumber;
    private final List<DataFile> replacedData;
    private final List<DeleteFile> replacedDeletes;
    private final String runId;
    private final String partitions;
    private transient List<DataFile> written;

    RewriteCommitter(
            TableLoader loader,
            long startSnapshotId,
            long startSequenceNumber,
            List<DataFile> replacedData,
            List<DeleteFile> replacedDeletes,
            String runId,
            String partitions) {
        this.loader = loader;
        this.startSnapshotId = startSnapshotId;
        this.startSequenceNumber = startSequenceNumber;
        this.replacedData = new ArrayList<>(replacedData);
        this.replacedDeletes = new ArrayList<>(replacedDeletes);
        this.runId = runId;
        this.partitions = partitions;
    }

    @Override
    public void open() throws Exception {
        super.open();
        written = new ArrayList<>();
    }

    @Override
    public void processElement(StreamRecord<byte[]> element) throws Exception {
        List<DataFile> files = InstantiationUtil.deserializeObject(element.getValue(), getClass().getClassLoader());
        written.addAll(files);
    }

    @Override
    public void endInput() throws Exception {
        if (replacedData.isEmpty() && replacedDeletes.isEmpty()) {
            LOG.info("nothing to compact: the chosen partitions hold no files");
            return;
        }
        if (!loader.isOpen()) {
            loader.open();
        }
        Table table = loader.loadTable();
        RewriteFiles rewrite =
                table.newRewrite().validateFromSnapshot(startSnapshotId).dataSequenceNumber(startSequenceNumber);
        replacedData.forEach(rewrite::deleteFile);
        replacedDeletes.forEach(rewrite::deleteFile);
        written.forEach(rewrite::addFile);
        rewrite.set(RUN_ID, runId);
        rewrite.set(PARTITIONS, partitions);
        rewrite.set(START_SNAPSHOT, Long.toString(startSnapshotId));
        rewrite.set(START_SEQUENCE, Long.toString(startSequenceNumber));
        rewrite.set(FLINK_JOB, getContainingTask().getEnvironment().getJobID().toString());
        try {
            rewrite.commit();
        } catch (RuntimeException e) {
            LOG.warn("compaction commit failed, deleting the {} files it wrote", written.size());
            for (DataFile file : written) {
                try {
                    table.io().deleteFile(file.location());
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
        LOG.info(
                "compaction committed snapshot {}: {} data files and {} delete files replaced by {} data files",
                table.currentSnapshot().snapshotId(),
                replacedData.size(),
                replacedDeletes.size(),
                written.size());
    }

    @Override
    public void close() throws Exception {
        super.close();
        loader.close();
    }
}
