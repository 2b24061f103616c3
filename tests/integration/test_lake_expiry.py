"""Snapshot expiry, hour tags and table properties on a private Flink-written table.

The table is fed by a private CDC + Flink ingestion pipeline (tests/integration/private_pipeline.py)
committing every 3 s, so every expiry here commits beside a running writer, and the shared
reference tables are never touched.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_rtp.completeness.snapshots import SnapshotObservation
from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.flink import HttpSettings, SqlGatewayClient
from airflow_provider_rtp.iceberg.commits import commit_with_retries, table_refs
from airflow_provider_rtp.iceberg.expiry import (
    DecisionRef,
    ExpiryPolicy,
    KeepReason,
    naive_expiry,
    restore_checkpoint,
    without,
)
from airflow_provider_rtp.iceberg.files import normalize
from airflow_provider_rtp.iceberg.maintenance import expire_snapshots
from airflow_provider_rtp.iceberg.properties import apply_table_properties, managed_properties
from airflow_provider_rtp.iceberg.snapshot_log import observe_table
from airflow_provider_rtp.iceberg.tags import tag_snapshot
from tests.integration.dagrun import returned, run_dag, start_dag, warm_runners
from tests.integration.dags.rtp_it_lake_expiry import NAME, TAG_PATTERN
from tests.integration.private_pipeline import PrivatePipeline
from tests.integration.test_reference_pipeline import catalog, lake_session_statements
from tests.stack import sql_gateway_url

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_lake_expiry.py"

OP_KEY = "flink.operator-id"


@pytest.fixture(scope="module")
def pp() -> Iterator[PrivatePipeline]:
    # Fixed names: the test DAGs (dags/rtp_it_lake_expiry.py) watch this pipeline.
    pipeline = PrivatePipeline(tag=NAME)
    _clear_leftovers(pipeline)
    try:
        yield pipeline.up()
    finally:
        pipeline.down()


def _clear_leftovers(pipeline: PrivatePipeline) -> None:
    """An interrupted earlier run may have left this pipeline's jobs, database, topics or table."""
    with pipeline.rest() as rest:
        for job in rest.list_jobs():
            if job.name in (pipeline.cdc_job, pipeline.ingest_job) and not job.state.is_terminal:
                pipeline.cancel(job.job_id)
    pipeline.down()


def flink_count(table: str, options: str = "") -> int:
    """``COUNT(*)`` of the table read by Flink in batch mode (it applies the equality deletes)."""
    hint = f" /*+ OPTIONS({options}) */" if options else ""
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        results = gateway.run_script(
            [
                *lake_session_statements(),
                "SET 'execution.runtime-mode' = 'batch'",
                f"SELECT COUNT(*) FROM lake.{table}{hint}",
            ],
            timeout=180,
        )
    finally:
        gateway.close()
    return int(results[-1].rows[0][0])


def source_count(pp: PrivatePipeline) -> int:
    with pp.db(pp.database) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM orders")
        return int(cur.fetchone()[0])


def await_snapshots(pp: PrivatePipeline, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(catalog().load_table(pp.table).metadata.snapshots) >= at_least:
            return
        time.sleep(1)
    raise AssertionError(f"{pp.table} has fewer than {at_least} snapshots after {timeout}s")


def await_lake_equals_source(pp: PrivatePipeline, timeout: float = 180) -> int:
    """Poll until Flink reads as many rows as MariaDB holds; a duplicate never lets them meet."""
    deadline = time.monotonic() + timeout
    lake = source = -1
    while time.monotonic() < deadline:
        source = source_count(pp)
        lake = flink_count(pp.table)
        if lake == source:
            return lake
        time.sleep(2)
    raise AssertionError(f"{pp.table}: lake has {lake} rows, source {source}, after {timeout}s")


def file_exists(path: str) -> bool:
    return Path(normalize(path)).exists()


@contextlib.contextmanager
def feeding(pp: PrivatePipeline) -> Iterator[None]:
    """Rows flow into the source while the block runs."""
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            pp.change(1)
            stop.wait(0.05)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def newest_commit(pp: PrivatePipeline, job: str) -> SnapshotObservation:
    log = observe_table(catalog().load_table(pp.table), pp.table)
    own = [s for s in log.snapshots if s.summary.get("flink.job-id") == job]
    return max(own, key=lambda s: s.timestamp_ms)


def stop_with_rows_in_the_savepoint(pp: PrivatePipeline, attempts: int = 5) -> tuple[str, str]:
    """Stop the ingestion job with a savepoint whose own checkpoint committed rows: the case a lost
    restore point breaks (the restored committer commits that checkpoint again, or fails on its
    deleted manifest). Rows arrive in bursts, so a savepoint may catch none: then run on and retry."""
    for _ in range(attempts):
        job = pp.ingest_job_id
        assert job is not None
        with feeding(pp):
            time.sleep(4)
            savepoint = pp.stop_with_savepoint(job)
        summary = catalog().load_table(pp.table).snapshot_by_id(newest_commit(pp, job).snapshot_id).summary
        if int(summary.additional_properties.get("added-records") or 0) > 0:
            return job, savepoint
        pp.start_ingest(savepoint)
    raise AssertionError(f"no savepoint with rows in its checkpoint in {attempts} attempts")


def _window_with_changes(pp: PrivatePipeline, seconds: float = 6) -> tuple[datetime, datetime]:
    start = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(max(0.0, (start - datetime.now(tz=UTC)).total_seconds()))
    pp.change(3)
    end = start + timedelta(seconds=seconds)
    time.sleep(max(0.0, (end - datetime.now(tz=UTC)).total_seconds()))
    return start, end


class TestLakeExpiry:
    """One unit of work: the tests run in order in one process, on one private pipeline."""

    def test_protected_snapshots_survive_an_expiry_beside_the_running_writer(
        self, pp: PrivatePipeline
    ) -> None:
        pp.change(3)
        await_snapshots(pp, 12)
        table = catalog().load_table(pp.table)
        old = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)[:6]
        tagged, branched, decided, stale = (s.snapshot_id for s in old[1:5])
        tag_snapshot(catalog(), pp.table, tagged, f"keep-{pp.tag}")
        commit_with_retries(
            catalog(),
            pp.table,
            lambda t: t.manage_snapshots().create_branch(branched, f"audit-{pp.tag}").commit(),
        )
        now = datetime.now(tz=UTC)
        decisions = [
            DecisionRef(decided, now - timedelta(hours=1)),
            DecisionRef(stale, now - timedelta(days=30)),
        ]
        manifest_lists = {
            s.snapshot_id: s.manifest_list for s in catalog().load_table(pp.table).metadata.snapshots
        }

        result = expire_snapshots(
            catalog(), pp.table, ExpiryPolicy(older_than=timedelta(0), retain_last=1), decisions=decisions
        )

        after = catalog().load_table(pp.table)
        kept = {s.snapshot_id for s in after.metadata.snapshots}
        assert result.committed and stale in result.plan.to_expire
        assert {tagged, branched, decided} <= kept
        assert stale not in kept
        assert result.plan.kept[tagged] == (KeepReason.TAG,)
        assert result.plan.kept[branched] == (KeepReason.BRANCH,)
        assert result.plan.kept[decided] == (KeepReason.DECISION,)
        # The running job's restore point survives with the chain above it: a restore finds it.
        job = pp.ingest_job_id
        assert job is not None
        log = observe_table(after, pp.table)
        op = next(s.summary[OP_KEY] for s in log.snapshots if s.summary.get("flink.job-id") == job)
        assert restore_checkpoint(log.snapshots, log.current_snapshot_id, job, op) is not None
        # Files only the expired snapshots reached are gone; the kept ones' are there.
        assert result.deleted and not result.failed
        assert not any(file_exists(manifest_lists[s]) for s in result.plan.to_expire)
        assert all(file_exists(manifest_lists[s]) for s in (tagged, branched, decided))
        assert await_lake_equals_source(pp) > 0

    def test_restored_job_after_expiry_does_not_commit_again(self, pp: PrivatePipeline) -> None:
        job, savepoint = stop_with_rows_in_the_savepoint(pp)
        table = catalog().load_table(pp.table)
        table.append(table.schema().as_arrow().empty_table())  # a maintenance commit on top: no flink keys
        before = observe_table(catalog().load_table(pp.table), pp.table)
        head = before.by_id()[before.current_snapshot_id]
        assert "flink.job-id" not in head.summary
        point = newest_commit(pp, job)
        op = point.summary[OP_KEY]
        expected = int(point.summary["flink.max-committed-checkpoint-id"])
        policy = ExpiryPolicy(older_than=timedelta(0), retain_last=1)
        # What this guards against: a naive expiry takes the restore point away.
        naive = naive_expiry(before, table_refs(table.metadata), policy, datetime.now(tz=UTC))
        lost = without(before, naive)
        assert restore_checkpoint(lost.snapshots, lost.current_snapshot_id, job, op) is None

        result = expire_snapshots(catalog(), pp.table, policy)

        assert result.committed and point.snapshot_id not in result.plan.to_expire
        assert KeepReason.RESTORE_POINT in result.plan.kept[point.snapshot_id]
        after = observe_table(catalog().load_table(pp.table), pp.table)
        assert restore_checkpoint(after.snapshots, after.current_snapshot_id, job, op) == expected
        pp.start_ingest(savepoint)  # waits for the restored job's first completed checkpoint
        pp.change(2)
        assert await_lake_equals_source(pp) == source_count(pp)

    def test_tag_is_idempotent_refuses_another_snapshot_and_flink_reads_it(self, pp: PrivatePipeline) -> None:
        await_snapshots(pp, 4)
        table = catalog().load_table(pp.table)
        head = table.metadata.current_snapshot_id
        other = next(s.snapshot_id for s in table.metadata.snapshots if s.snapshot_id != head)
        name = f"complete-{pp.tag}"

        first = tag_snapshot(catalog(), pp.table, head, name, max_age=timedelta(days=2))
        again = tag_snapshot(catalog(), pp.table, head, name)
        refs_before = dict(catalog().load_table(pp.table).metadata.refs)
        with pytest.raises(IcebergError, match="already names snapshot"):
            tag_snapshot(catalog(), pp.table, other, name)

        assert first.created and not again.created
        refs = catalog().load_table(pp.table).metadata.refs
        assert refs[name].snapshot_id == head and refs[name].max_ref_age_ms == 2 * 86_400_000
        assert refs[name] == refs_before[name]
        tagged_rows = flink_count(pp.table, f"'tag'='{name}'")
        assert tagged_rows == flink_count(pp.table, f"'snapshot-id'='{head}'")
        pp.change(3)
        await_lake_equals_source(pp)
        assert flink_count(pp.table, f"'tag'='{name}'") == tagged_rows  # the tag holds still

    def test_a_tag_past_its_max_age_is_removed_by_expiry(self, pp: PrivatePipeline) -> None:
        table = catalog().load_table(pp.table)
        head = table.metadata.current_snapshot_id
        name = f"short-{pp.tag}"
        tag_snapshot(catalog(), pp.table, head, name, max_age=timedelta(milliseconds=1))
        await_snapshots(pp, len(table.metadata.snapshots) + 2)  # the head moves on

        result = expire_snapshots(catalog(), pp.table, ExpiryPolicy(older_than=timedelta(0)))

        assert name in result.plan.refs_to_remove
        assert name not in catalog().load_table(pp.table).metadata.refs
        assert f"complete-{pp.tag}" not in result.plan.refs_to_remove  # two days to live

    def test_properties_are_applied_once_and_a_missing_column_changes_nothing(
        self, pp: PrivatePipeline
    ) -> None:
        wanted = managed_properties(previous_versions_max=20, bloom_filters={"customer_id": 0.02})
        first = apply_table_properties(catalog(), pp.table, wanted)
        second = apply_table_properties(catalog(), pp.table, wanted)
        props = dict(catalog().load_table(pp.table).metadata.properties)
        assert props["write.parquet.bloom-filter-enabled.column.customer_id"] == "true"
        assert props["write.metadata.previous-versions-max"] == "20"
        assert first.changed and second.changed == {}

        with pytest.raises(InvalidInputError, match="no column 'nope'"):
            apply_table_properties(catalog(), pp.table, managed_properties(bloom_filters=["nope"]))
        assert (
            "write.parquet.bloom-filter-enabled.column.nope"
            not in catalog().load_table(pp.table).metadata.properties
        )

    def test_sensor_tags_each_completed_window_and_expiry_keeps_the_decided_snapshots(
        self, pp: PrivatePipeline, tmp_path: Path
    ) -> None:
        start, end = _window_with_changes(pp)
        conf = {"start": start.isoformat(), "end": end.isoformat()}
        ok, log = run_dag(DAG_FILE, "rtp_it_lake_tag_poke", conf)
        assert ok, log[-3000:]
        polled = returned("rtp_it_lake_tag_poke", log)
        ok, log = run_dag(DAG_FILE, "rtp_it_lake_tag_poke", conf)  # decided again: same snapshot, same tag
        assert ok, log[-3000:]
        assert returned("rtp_it_lake_tag_poke", log)["tag"] == polled["tag"]
        # A window still open when the task starts: the sensor defers and succeeds in execute_complete.
        warm_runners(DAG_FILE, 1)
        d_start = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=30)
        d_end = d_start + timedelta(seconds=15)
        d_conf = {"start": d_start.isoformat(), "end": d_end.isoformat()}
        proc = start_dag(DAG_FILE, "rtp_it_lake_tag_deferrable", d_conf, tmp_path / "deferred.log")
        pp.wait(max(0.0, (d_start - datetime.now(tz=UTC)).total_seconds()) + 2)
        pp.change(2)
        assert proc.wait(timeout=300) == 0
        d_log = (tmp_path / "deferred.log").read_text()
        assert "state=success" in d_log and "→ WAITING" in d_log, d_log[-3000:]
        deferred = returned("rtp_it_lake_tag_deferrable", d_log)

        refs = catalog().load_table(pp.table).metadata.refs
        for xcom, window_start in ((polled, start), (deferred, d_start)):
            name = TAG_PATTERN.format(start=window_start.astimezone(UTC), end=None)
            assert xcom["tag"] == name
            assert refs[name].snapshot_id == xcom["snapshot_id"]
            assert refs[name].max_ref_age_ms == 86_400_000

        ok, log = run_dag(DAG_FILE, "rtp_it_lake_expire", {})
        assert ok, log[-3000:]
        expiry = returned("rtp_it_lake_expire", log)
        kept = expiry["kept"]  # the earlier, stopped job's restore chain keeps the rest (restore horizon)
        for xcom in (polled, deferred):  # found through the decision index in the asset's state store
            assert {"decision", "tag"} <= set(kept[str(xcom["snapshot_id"])])

    def test_bad_input_expires_nothing(self, pp: PrivatePipeline) -> None:
        with pytest.raises(IcebergError, match="does not exist"):
            expire_snapshots(catalog(), f"it.nope_{pp.tag}", ExpiryPolicy(older_than=timedelta(0)))
        with pytest.raises(InvalidInputError, match="non-negative"):
            ExpiryPolicy(older_than=timedelta(hours=-1))
        plain = f"it.plain_{pp.tag}"
        flink_written = catalog().load_table(pp.table)
        schema = flink_written.schema()
        location = flink_written.metadata.location.rsplit("/", 1)[0] + f"/plain_{pp.tag}"
        created = catalog().create_table(plain, schema, location=location)
        try:
            created.append(schema.as_arrow().empty_table())
            created.append(schema.as_arrow().empty_table())
            with pytest.raises(InvalidInputError, match="not written by the Flink Iceberg sink"):
                expire_snapshots(catalog(), plain, ExpiryPolicy(older_than=timedelta(0)))
            assert len(catalog().load_table(plain).metadata.snapshots) == 2
        finally:
            catalog().drop_table(plain)
