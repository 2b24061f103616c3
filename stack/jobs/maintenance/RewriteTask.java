package rtp.jobs.maintenance;

import java.util.ArrayList;
import java.util.Collections;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.InstantiationUtil;
import org.apache.iceberg.CombinedScanTask;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.FileFormat;
import org.apache.iceberg.Schema;
import org.apache.iceberg.SerializableTable;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.flink.FlinkSchemaUtil;
import org.apache.iceberg.flink.sink.RowDataTaskWriterFactory;
import org.apache.iceberg.flink.source.DataIterator;
import org.apache.iceberg.flink.source.RowDataFileScanTaskReader;
import org.apache.iceberg.io.TaskWriter;
import org.apache.iceberg.mapping.NameMappingParser;
import org.apache.iceberg.util.PropertyUtil;

/**
 * Rewrites one planned task: reads its data files with their deletes applied (Iceberg's Flink
 * reader), writes the live rows into new data files of the target size, and emits the new files
 * (Java-serialised {@code ArrayList<DataFile>}). Nothing is committed here.
 */
final class RewriteTask extends RichMapFunction<byte[], byte[]> {

    private static final long serialVersionUID = 1L;

    private final Table table;
    private final long targetFileSize;
    private transient RowDataTaskWriterFactory writers;
    private transient RowDataFileScanTaskReader reader;

    RewriteTask(Table table, long targetFileSize) {
        this.table = SerializableTable.copyOf(table);
        this.targetFileSize = targetFileSize;
    }

    @Override
    public void open(OpenContext context) {
        Schema schema = table.schema();
        String nameMapping = table.properties().get(TableProperties.DEFAULT_NAME_MAPPING);
        if (nameMapping != null) {
            NameMappingParser.fromJson(nameMapping); // fail early on a malformed mapping
        }
        reader = new RowDataFileScanTaskReader(schema, schema, nameMapping, true, Collections.emptyList());
        FileFormat format =
                FileFormat.fromString(
                        PropertyUtil.propertyAsString(
                                table.properties(),
                                TableProperties.DEFAULT_FILE_FORMAT,
                                TableProperties.DEFAULT_FILE_FORMAT_DEFAULT));
        // No equality fields, no upsert: a plain writer of the rows it is given, per partition.
        writers =
                new RowDataTaskWriterFactory(
                        table, FlinkSchemaUtil.convert(schema), targetFileSize, format, table.properties(), null, false);
        writers.initialize(
                getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                getRuntimeContext().getTaskInfo().getAttemptNumber());
    }

    @Override
    public byte[] map(byte[] serialized) throws Exception {
        ArrayList<DataFile> written = new ArrayList<>();
        if (serialized.length == 0) {
            return InstantiationUtil.serializeObject(written);
        }
        CombinedScanTask task = InstantiationUtil.deserializeObject(serialized, getClass().getClassLoader());
        TaskWriter<RowData> writer = writers.create();
        try (DataIterator<RowData> rows = new DataIterator<>(reader, task, table.io(), table.encryption())) {
            while (rows.hasNext()) {
                writer.write(rows.next());
            }
            Collections.addAll(written, writer.dataFiles());
        } catch (Exception e) {
            writer.abort(); // deletes the files this task wrote
            throw e;
        }
        return InstantiationUtil.serializeObject(written);
    }
}
