package rtp.jobs.clickhousesink;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.sink.RichSinkFunction;

/**
 * Buffers JSONEachRow lines and inserts them into one ClickHouse table over HTTP.
 *
 * <p>The buffer is written synchronously in {@link #snapshotState}: the checkpoint completes only
 * after ClickHouse accepted every row received before its barrier, and an insert that fails
 * throws, which fails the checkpoint (so the group's offsets are not committed past those rows).
 * A full buffer is written at once. Nothing is kept in Flink's state: an empty buffer is what a
 * checkpoint holds.
 */
final class ClickHouseHttpSink extends RichSinkFunction<String> implements CheckpointedFunction {

    private static final long serialVersionUID = 1L;

    private final String url;
    private final String table;
    private final String user;
    private final String password;
    private final int batchSize;

    private transient List<String> buffer;
    private transient HttpClient http;

    ClickHouseHttpSink(String url, String table, String user, String password, int batchSize) {
        if (!table.matches("[A-Za-z_][A-Za-z0-9_]*\\.[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("--table must be db.table, got " + table);
        }
        this.url = url.endsWith("/") ? url : url + "/";
        this.table = table;
        this.user = user;
        this.password = password;
        this.batchSize = Math.max(1, batchSize);
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {
        buffer = new ArrayList<>();
    }

    @Override
    public void invoke(String row, Context context) throws Exception {
        buffer.add(row);
        if (buffer.size() >= batchSize) {
            flush();
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext context) throws Exception {
        flush();
    }

    @Override
    public void finish() throws Exception {
        flush();
    }

    private void flush() throws IOException, InterruptedException {
        if (buffer == null || buffer.isEmpty()) {
            return;
        }
        if (http == null) {
            http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        }
        String query = "INSERT INTO " + table + " FORMAT JSONEachRow";
        HttpRequest request =
                HttpRequest.newBuilder(
                                URI.create(
                                        url
                                                + "?query="
                                                + URLEncoder.encode(query, StandardCharsets.UTF_8)))
                        .timeout(Duration.ofMinutes(2))
                        .header("X-ClickHouse-User", user)
                        .header("X-ClickHouse-Key", password)
                        .POST(HttpRequest.BodyPublishers.ofString(String.join("\n", buffer)))
                        .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            String body = response.body();
            int trace = body.indexOf("Stack trace:");
            throw new IOException(
                    "ClickHouse insert of "
                            + buffer.size()
                            + " rows into "
                            + table
                            + " failed (HTTP "
                            + response.statusCode()
                            + "): "
                            + (trace >= 0 ? body.substring(0, trace) : body).trim());
        }
        buffer.clear();
    }
}
