"""Lake maintenance beside two live Flink writers: compaction, then nothing lost or duplicated.

One private pipeline (own database, topic, jobs and tables) for the whole module: the steps
build on each other, in order, and never touch the shared reference tables.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.manifest import DataFileContent

from airflow_provider_rtp.completeness import Verdict, Window
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.expiry import ExpiryPolicy
from airflow_provider_rtp.iceberg.health_read import partition_path
from airflow_provider_rtp.iceberg.maintenance import expire_snapshots
from airflow_provider_rtp.iceberg.orphans import OrphanPolicy, delete_orphan_files
from tests.integration.dagrun import failure, returned, run_dag
from tests.integration.lake_maintenance_fixture import ChangeWriter, maintenance_pipeline
from tests.integration.lake_truth import assert_lake_matches_source
from tests.integration.private_pipeline import MIRROR_SQL_FILE, SQL_FILE, PrivatePipeline
from tests.integration.test_completeness_faults import connections
from tests.integration.test_lake_truth import wait_complete
from tests.stack import stack_env

DAGS = Path(__file__).parent / "dags" / "rtp_it_lake.py"


def maintenance_jar() -> Path:
    jar = Path(stack_env()["RTP_CACHE"]) / "jobs" / "rtp-maintenance.jar"
    assert jar.is_file(), f"{jar} not built: run stack/rtp-stack pipeline up"
    return jar


@pytest.fixture(scope="module")
def pipeline() -> Iterator[PrivatePipeline]:
    yield from maintenance_pipeline()


@pytest.fixture(scope="module")
def hook() -> IcebergHook:
    return IcebergHook(connection=connections()["iceberg_default"])


@dataclass
class PartitionFiles:
    data: list[tuple[str, int]] = field(default_factory=list)  # (path, data sequence number)
    eq_deletes: list[tuple[str, int]] = field(default_factory=list)
    pos_deletes: list[tuple[str, int]] = field(default_factory=list)


def live_files(table: Any, snapshot_id: int | None = None) -> dict[str, PartitionFiles]:
    """Every live file of a snapshot by partition path, read from its manifests."""
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    out: dict[str, PartitionFiles] = defaultdict(PartitionFiles)
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            f = entry.data_file
            files = out[partition_path(table, f.spec_id, f.partition)]
            item = (f.file_path, entry.sequence_number)
            if f.content == DataFileContent.DATA:
                files.data.append(item)
            elif f.content == DataFileContent.EQUALITY_DELETES:
                files.eq_deletes.append(item)
            else:
                files.pos_deletes.append(item)
    return out


def failed_checkpoints(pipeline: PrivatePipeline, job_id: str) -> int:
    with pipeline.rest() as rest:
        return int(rest.http.request("GET", f"/jobs/{job_id}/checkpoints")["counts"]["failed"])


def test_compaction_beside_both_running_writers(pipeline: PrivatePipeline, hook: IcebergHook) -> None:
    tables = {pipeline.table: pipeline.ingest_job_id, pipeline.mirror_table: pipeline.mirror_job_id}
    failed = {job: failed_checkpoints(pipeline, job) for job in tables.values() if job}
    writer = ChangeWriter(pipeline, rate=25).start()
    try:
        # Files and equality deletes build up: every 2 s checkpoint commits to every table.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            counts = [
                min((len(p.data) for p in live_files(hook.load_table(t)).values()), default=0) for t in tables
            ]
            if min(counts) >= 12:
                break
            time.sleep(3)
        else:
            pytest.fail(f"partitions did not reach 12 data files within 180 s: {counts}")

        before = {t: live_files(hook.load_table(t)) for t in tables}
        for table in tables:
            chosen = sorted(p for p, files in before[table].items() if len(files.data) >= 12)
            ok, log = run_dag(
                DAGS,
                "rtp_it_lake_compact",
                {"table": table, "partitions": chosen, "jar": str(maintenance_jar())},
                timeout=600,
            )
            assert ok, log[-4000:]
            result = returned("rtp_it_lake_compact", log)
            assert result["snapshot_id"], result
            assert sorted(result["partitions"]) == chosen
            start_seq = result["start_sequence_number"]

            loaded = hook.load_table(table)
            at_start = live_files(loaded, result["start_snapshot_id"])
            at_commit = live_files(loaded, result["snapshot_id"])
            now = live_files(loaded)
            for path in chosen:
                # The files the rewrite read (the partition at its start) shrank at least 5x: they
                # are replaced by files carrying the starting sequence number. Files the writer
                # committed meanwhile stay beside them (higher numbers).
                compacted = [seq for _, seq in at_commit[path].data if seq <= start_seq]
                assert compacted, f"no data file of {path} carries the starting sequence number {start_seq}"
                assert all(seq == start_seq for seq in compacted), (path, compacted)
                read = len(at_start[path].data)
                assert read >= 5 * len(compacted), (path, read, result)
                # No delete file from before the compaction's start is left to apply: only those
                # the writer committed after it (a higher sequence number) remain.
                left = [seq for _, seq in now[path].eq_deletes + now[path].pos_deletes if seq <= start_seq]
                assert left == [], (table, path, left)
                assert at_start[path].eq_deletes, f"{path} had no equality delete to compact away"
    finally:
        writer.stop()

    with pipeline.rest() as rest:
        for job in tables.values():
            assert job and str(rest.job_state(job)) == "RUNNING"
    assert {job: failed_checkpoints(pipeline, job) for job in failed} == failed


def _assert_truth(pp: PrivatePipeline, step: str) -> None:
    """Once the minute of the source's last change is complete in both tables, each equals the source."""
    # A window ending just after the last change: complete once it is committed, no minute to wait.
    end = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    window = Window(end - timedelta(minutes=1), end)
    for declared in (pp.pipeline(), pp.mirror_pipeline()):
        wait = (end - datetime.now(tz=UTC)).total_seconds() + 120
        decision = wait_complete(declared, window, timeout=wait)
        assert decision.verdict is Verdict.COMPLETE, f"{step}: {decision.report()}"
        report = assert_lake_matches_source(declared.table, timeout=30, database=pp.database)
        assert report.source_count > 0, step


def _newest_checkpoint(pp: PrivatePipeline, job_id: str, sql_file: Path) -> str:
    found = sorted(
        (pp.checkpoint_root(sql_file) / job_id).glob("chk-*/_metadata"),
        key=lambda p: int(p.parent.name.removeprefix("chk-")),
    )
    assert found, f"no retained checkpoint of {job_id}"
    return f"file://{found[-1].parent}"


def test_nothing_lost_nor_duplicated_through_compaction_expiry_cleanup_and_restart(
    pipeline: PrivatePipeline, hook: IcebergHook
) -> None:
    # After the compaction above (the source is quiet again).
    _assert_truth(pipeline, "after compaction")

    tables = (pipeline.table, pipeline.mirror_table)
    for table in tables:
        result = expire_snapshots(
            hook.catalog, table, ExpiryPolicy(older_than=timedelta(seconds=20), retain_last=3)
        )
        assert result.committed and result.plan.to_expire, result.to_dict()
    _assert_truth(pipeline, "after expiry")

    planted = []
    for table in tables:
        location = Path(hook.load_table(table).location().removeprefix("file:"))
        orphan = location / "data" / f"planted-{uuid.uuid4().hex}.parquet"
        orphan.write_bytes(b"not referenced by any snapshot")
        old = time.time() - 2 * 3600
        os.utime(orphan, (old, old))
        planted.append(orphan)
        with pipeline.rest() as rest:
            running = [j.job_id for j in rest.list_jobs() if not j.state.is_terminal]
        cleaned = delete_orphan_files(
            hook.catalog, table, OrphanPolicy(min_age=timedelta(hours=1)), running_jobs=running, dry_run=False
        )
        assert str(orphan) in {p.removeprefix("file:") for p in cleaned.deleted}, cleaned.to_dict()
    assert not any(p.exists() for p in planted)
    _assert_truth(pipeline, "after orphan cleanup")

    # Each ingestion job restarted from its newest retained checkpoint, after expiry ran: its
    # committer must find its restore point and not commit that checkpoint's files again.
    pipeline.change(2)
    for attr, sql_file, start in (
        ("ingest_job_id", SQL_FILE, pipeline.start_ingest),
        ("mirror_job_id", MIRROR_SQL_FILE, pipeline.start_mirror),
    ):
        job_id = getattr(pipeline, attr)
        pipeline.cancel(job_id)
        start(_newest_checkpoint(pipeline, job_id, sql_file))
    pipeline.change(2)
    _assert_truth(pipeline, "after restarting both ingestion jobs")


EXAMPLE = Path(__file__).parents[2] / "dags_examples" / "rtp_lake_maintenance.py"


def test_example_maintenance_dag_compacts_what_the_report_names(
    pipeline: PrivatePipeline, hook: IcebergHook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = tmp_path / "pipelines.yaml"
    entry = "    topics: [{t}]\n    group: {g}\n    ingestion_job: {j}\n"
    declared.write_text(
        "pipelines:\n"
        + f"  {pipeline.table}:\n"
        + entry.format(t=pipeline.topic, g=pipeline.group, j=pipeline.ingest_job)
        + f"  {pipeline.mirror_table}:\n"
        + entry.format(t=pipeline.topic, g=pipeline.mirror_group, j=pipeline.mirror_job)
    )
    monkeypatch.setenv("AIRFLOW__RTP__PIPELINES_FILE", str(declared))
    monkeypatch.setenv("AIRFLOW__RTP__MAINTENANCE_JAR", str(maintenance_jar()))
    writer = ChangeWriter(pipeline, rate=25).start()
    try:
        time.sleep(12)  # a few checkpoints' worth of new files and deletes in every partition
    finally:
        writer.stop()

    # Quiet time 0: every partition with deletes or small files is due.
    ok, log = run_dag(EXAMPLE, "rtp_lake_maintenance", {"min_quiet_minutes": 0}, timeout=900)
    assert ok, failure(log)
    for table in (pipeline.table, pipeline.mirror_table):
        group = table.replace(".", "_")
        before = returned("rtp_lake_maintenance", log, f"{group}.report")
        compact = next(v for v in before["verdicts"] if v["action"] == "compact")
        assert compact["due"] and compact["partitions"], compact
        result = returned("rtp_lake_maintenance", log, f"{group}.compact")
        assert sorted(result["partitions"]) == sorted(compact["partitions"]), result
        after = returned("rtp_lake_maintenance", log, f"{group}.report_after")

        def deletes(report: dict) -> int:
            return sum(p["equality_delete_files"] + p["position_delete_files"] for p in report["partitions"])

        assert deletes(after) < deletes(before), (table, deletes(before), deletes(after))
