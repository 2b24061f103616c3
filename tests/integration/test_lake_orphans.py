"""Orphan cleanup beside a running Flink writer, on a private table.

A private Flink SQL job writes datagen rows into its own table, committing every 3 s. Files
are planted in the table's location with chosen ages (os.utime); the cleanup must list and
delete exactly the planted orphans older than min_age, and leave the writer's files, young
files and the running job's temporary manifests alone.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.files import normalize
from airflow_provider_rtp.iceberg.orphans import OrphanPolicy, delete_orphan_files
from airflow_provider_rtp.operators.iceberg_maintenance import IcebergDeleteOrphanFilesOperator, writer_state
from tests.integration.test_completeness_faults import connections
from tests.integration.test_reference_pipeline import catalog, lake_session_statements
from tests.stack import flink_rest_url, sql_gateway_url, stack_env

OLD = 4 * 86_400  # seconds: older than the default min_age of 3 days


@dataclass
class Writer:
    table: str
    job_id: str
    root: Path


def _await_snapshots(table: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(catalog().load_table(table).metadata.snapshots) >= at_least:
            return
        time.sleep(1)
    raise AssertionError(f"{table} has fewer than {at_least} snapshots after {timeout}s")


@pytest.fixture(scope="module")
def writer() -> Iterator[Writer]:
    tag = uuid.uuid4().hex[:6]
    table = f"it.orphans_{tag}"
    state = Path(stack_env()["RTP_STATE"]) / "data" / "it-pipelines" / f"orphans-{tag}"
    for attempt in range(5):  # another private pipeline may be creating the namespace
        try:
            catalog().create_namespace_if_not_exists("it")
            break
        except Exception:
            if attempt == 4:
                raise
            time.sleep(0.5)
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        results = gateway.run_script(
            [
                f"SET 'pipeline.name' = 'it-orphans-{tag}'",
                "SET 'execution.runtime-mode' = 'streaming'",
                "SET 'execution.checkpointing.interval' = '3s'",
                f"SET 'execution.checkpointing.dir' = 'file://{state}/checkpoints'",
                *lake_session_statements(),
                f"CREATE TABLE lake.{table} (id BIGINT, v STRING) WITH ("
                "'format-version' = '2', 'flink.max-continuous-empty-commits' = '1')",
                "CREATE TEMPORARY TABLE gen (id BIGINT, v STRING) WITH ("
                "'connector' = 'datagen', 'rows-per-second' = '5', 'fields.v.length' = '8')",
                f"INSERT INTO lake.{table} SELECT id, v FROM gen",
            ],
            timeout=120,
        )
    finally:
        gateway.close()
    job_id = next(r.job_id for r in reversed(results) if r.job_id)
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    try:
        rest.wait_for_state(job_id, [JobState.RUNNING], timeout=120)
        _await_snapshots(table, 3)
        location = catalog().load_table(table).metadata.location
        yield Writer(table, job_id, Path(normalize(location)))
    finally:
        with contextlib.suppress(Exception):
            rest.cancel(job_id)
            rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60)
        rest.close()
        with contextlib.suppress(Exception):
            catalog().drop_table(table)


def _plant(path: Path, age_s: float, size: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def _running() -> tuple[list[str], timedelta]:
    with FlinkRestClient(HttpSettings(flink_rest_url())) as rest:
        return writer_state(rest)


class TestLakeOrphans:
    """One unit of work: the tests run in order in one process, beside one private writer."""

    def test_dry_run_lists_and_real_mode_deletes_only_old_planted_orphans(self, writer: Writer) -> None:
        op = "c" * 32
        old_orphan = _plant(writer.root / "data" / f"planted-{uuid.uuid4().hex}.parquet", OLD, 100)
        young_orphan = _plant(writer.root / "data" / f"planted-young-{uuid.uuid4().hex}.parquet", 60)
        running_manifest = _plant(
            writer.root / "metadata" / f"{writer.job_id}-{op}-00000-0-1-00001.avro", OLD
        )
        ended_manifest = _plant(
            writer.root / "metadata" / f"{uuid.uuid4().hex}-{op}-00000-0-1-00001.avro", OLD, 50
        )
        table = catalog().load_table(writer.table)
        live = Path(normalize(next(iter(table.scan().plan_files())).file.file_path))
        os.utime(live, (time.time() - OLD, time.time() - OLD))  # old but reachable: never an orphan
        running, floor = _running()
        assert writer.job_id in running and floor >= timedelta(seconds=9)
        policy = OrphanPolicy(min_age=timedelta(days=3), writer_floor=floor)
        planted = {str(old_orphan), str(ended_manifest)}

        dry = delete_orphan_files(catalog(), writer.table, policy, running_jobs=running, dry_run=True)

        assert {f.path for f in dry.plan.orphans} == planted
        assert dry.plan.total_bytes == 150
        assert str(running_manifest) in dry.plan.flink_state
        assert dry.deleted == () and old_orphan.exists() and ended_manifest.exists()

        before = catalog().load_table(writer.table)
        rows_before = before.scan().to_arrow().num_rows
        real = delete_orphan_files(catalog(), writer.table, policy, running_jobs=running, dry_run=False)

        assert set(real.deleted) == planted and real.failed == ()
        assert not old_orphan.exists() and not ended_manifest.exists()
        assert young_orphan.exists() and running_manifest.exists() and live.exists()
        _await_snapshots(writer.table, len(before.metadata.snapshots) + 2)  # the writer commits on
        # Every file the table reaches still reads (a deleted one would fail the scan), and rows only grow.
        assert catalog().load_table(writer.table).scan().to_arrow().num_rows >= rows_before > 0

    def test_unknown_running_jobs_keep_every_temporary_manifest(self, writer: Writer) -> None:
        ended = _plant(writer.root / "metadata" / f"{uuid.uuid4().hex}-{'d' * 32}-00000-0-1-00001.avro", OLD)
        dry = delete_orphan_files(
            catalog(), writer.table, OrphanPolicy(min_age=timedelta(days=3)), running_jobs=None, dry_run=True
        )
        assert str(ended) in dry.plan.flink_state
        assert str(ended) not in {f.path for f in dry.plan.orphans}
        ended.unlink()

    def test_operator_dry_run_pushes_the_list_and_total_bytes(self, writer: Writer) -> None:
        orphan = _plant(writer.root / "data" / f"planted-op-{uuid.uuid4().hex}.parquet", OLD, 77)
        op = IcebergDeleteOrphanFilesOperator(task_id="orphans", table=writer.table, rtp_conn_id=None)
        op.hook = IcebergHook(connection=connections()["iceberg_default"])

        out = op.execute({})

        assert out["dry_run"] is True
        assert str(orphan) in out["orphans"] and out["total_bytes"] >= 77
        assert orphan.exists()
        orphan.unlink()

    def test_bad_input_deletes_nothing(self, writer: Writer) -> None:
        orphan = _plant(writer.root / "data" / f"planted-bad-{uuid.uuid4().hex}.parquet", OLD)
        _, floor = _running()
        with pytest.raises(InvalidInputError, match="non-negative"):
            OrphanPolicy(min_age=timedelta(hours=-1))
        with pytest.raises(InvalidInputError, match="below the floor"):
            OrphanPolicy(min_age=timedelta(minutes=10), writer_floor=floor)
        with pytest.raises(InvalidInputError, match="below the floor"):
            OrphanPolicy(min_age=timedelta(hours=2), writer_floor=timedelta(hours=3))
        with pytest.raises(IcebergError, match="does not exist"):
            delete_orphan_files(
                catalog(), f"{writer.table}_nope", OrphanPolicy(), running_jobs=[], dry_run=False
            )
        assert orphan.exists()
        orphan.unlink()
