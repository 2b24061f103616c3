"""Both lake tables of the reference pipeline hold exactly MariaDB's rows once a window is complete.

The changelog table (ods-orders.sql: partitioned by change hour) and the upsert mirror
(ods-orders-mirror.sql: partitioned by id bucket), run on a private source database, are
read through Flink and compared with their source once the completeness check says the
minute of the last change is in each table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from airflow_provider_rtp.completeness import Decision, Pipeline, Policy, Verdict, Window
from airflow_provider_rtp.evaluation import evaluate
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.window_read import Engine, plan_read
from airflow_provider_rtp.iceberg.window_read import Window as ReadWindow
from airflow_provider_rtp.kafka import KafkaLagReader
from tests.integration.clickhouse_targets import Shards, ch, load, plain_row, shards
from tests.integration.lake_maintenance_fixture import ChangeWriter
from tests.integration.lake_truth import (
    COLUMNS,
    assert_lake_matches_source,
    compare,
    lake_connection,
    lake_rows,
)
from tests.integration.private_pipeline import PrivatePipeline
from tests.integration.test_reference_pipeline import catalog
from tests.stack import flink_rest_url, kafka_bootstrap

__all__ = ["ch", "shards"]  # fixtures

# -- compare, on plain data -------------------------------------------------------
T0 = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
SOURCE = [
    (1, 10, Decimal("12.50"), "new", T0.replace(tzinfo=None)),  # MariaDB: naive UTC, Decimal
    (2, 20, Decimal("7.00"), "paid", T0.replace(tzinfo=None)),
    (3, 30, Decimal("99.99"), "shipped", T0.replace(tzinfo=None)),
]
LAKE = [  # as Flink's JSON rows arrive: floats and ISO strings, another order
    [3, 30, 99.99, "shipped", "2026-12-01T10:00:00.123Z"],
    [1, 10, 12.5, "new", "2026-12-01 10:00:00.123"],
    [2, 20, 7, "paid", "2026-12-01T10:00:00.123Z"],
]


def test_compare_finds_equal_rows_of_other_types_equal() -> None:
    report = compare(LAKE, SOURCE)
    assert report.equal, report
    assert report.lake_count == report.source_count == 3
    assert report.lake_checksum == report.source_checksum


def test_compare_names_a_missing_an_extra_and_a_changed_row() -> None:
    lake = [
        LAKE[0],
        [1, 10, 13.5, "new", "2026-12-01T10:00:00.123Z"],
        [4, 40, 1, "new", "2026-12-01T10:00:00Z"],
    ]
    report = compare(lake, SOURCE)
    assert not report.equal
    assert (report.missing_total, report.extra_total, report.different_total) == (1, 1, 1), report
    assert [row[0] for row in report.missing] == [2]
    assert [row[0] for row in report.extra] == [4]
    ((lake_row, source_row),) = report.different
    assert (lake_row[0], lake_row[2], source_row[2]) == (1, "13.5", "12.5")
    assert report.lake_checksum != report.source_checksum
    shown = str(report)
    assert "missing (2," in shown and "extra   (4," in shown and "id 1: lake" in shown


def test_compare_counts_a_duplicate_and_a_one_millisecond_change() -> None:
    duplicated = compare([*LAKE, LAKE[0]], SOURCE)
    assert duplicated.extra_total == 1 and duplicated.lake_count == 4, duplicated
    assert duplicated.lake_checksum != duplicated.source_checksum
    later = [*LAKE[:2], [2, 20, 7, "paid", "2026-12-01T10:00:00.124Z"]]
    assert compare(later, SOURCE).different_total == 1


# -- the lake against MariaDB ---------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline() -> Iterator[PrivatePipeline]:
    """Both lake tables of the reference SQL, fed by a private source nobody else writes: the
    comparison is exact the moment the window is complete, whatever runs beside it."""
    pp = PrivatePipeline()
    try:
        yield pp.up(mirror=True)
    finally:
        pp.down()


def wait_complete(pipeline: Pipeline, window: Window, timeout: float) -> Decision:
    """Until the completeness check says ``window`` is in ``pipeline``'s table."""
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=2))
    flink = FlinkRestClient(HttpSettings(flink_rest_url()))
    kafka, lake = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()}), catalog()
    deadline = time.monotonic() + timeout
    try:
        while True:
            decision = evaluate(pipeline, window, policy, kafka=kafka, flink=flink, catalog=lake)
            if decision.verdict is Verdict.COMPLETE or time.monotonic() > deadline:
                return decision
            time.sleep(3)
    finally:
        flink.close()


def assert_both_tables_match(pp: PrivatePipeline) -> None:
    """Once the minute of the source's last change is complete in both tables, each equals it."""
    # A window ending just after the last change: complete once it is committed, no minute to wait.
    end = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
    window = Window(end - timedelta(minutes=1), end)
    for pipeline in (pp.pipeline(), pp.mirror_pipeline()):
        wait = (end - datetime.now(tz=UTC)).total_seconds() + 120
        decision = wait_complete(pipeline, window, timeout=wait)
        assert decision.verdict is Verdict.COMPLETE, decision.report()
        report = assert_lake_matches_source(pipeline.table, timeout=30, database=pp.database)
        assert report.source_count > 0


def test_both_lake_tables_equal_mariadb_once_the_last_minute_is_complete(pipeline: PrivatePipeline) -> None:
    # A change of each kind: inserts, an update and a delete.
    ids = pipeline.change(3)
    with pipeline.db(pipeline.database) as conn, conn.cursor() as cur:
        cur.execute("UPDATE orders SET amount = 42.42, status = 'shipped' WHERE id = %s", (ids[1],))
        cur.execute("DELETE FROM orders WHERE id = %s", (ids[2],))
    assert_both_tables_match(pipeline)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_window_read_at_a_snapshot_equals_flink_at_that_snapshot_while_ingestion_writes(
    pipeline: PrivatePipeline, shards: Shards
) -> None:
    """IcebergHook.read_window (chdb: equality deletes applied) gives exactly Flink's rows of the
    same snapshot and window, on both tables, while the writer keeps changing them; loaded into
    ClickHouse by IcebergToClickHouseOperator, the window holds exactly those rows too."""
    hook = IcebergHook(connection=lake_connection())
    writer = ChangeWriter(pipeline, rate=15).start()
    try:
        began = datetime.now(tz=UTC)
        time.sleep(25)  # a few checkpoints of inserts, updates and deletes in both tables
        window = ReadWindow(began + timedelta(seconds=5), began + timedelta(seconds=20), "updated_at")
        where = (
            f"updated_at >= TO_TIMESTAMP_LTZ({_ms(window.start)}, 3)"
            f" AND updated_at < TO_TIMESTAMP_LTZ({_ms(window.end)}, 3)"
        )
        for table in (pipeline.pipeline().table, pipeline.mirror_pipeline().table):
            lake = hook.load_table(table)
            snapshots = [s.snapshot_id for s in lake.metadata.snapshots]
            # The newest snapshot and one committed while the window's rows were still arriving
            # (rows of the window are missing from it, later ones may replace some): time travel.
            during = [s.snapshot_id for s in lake.metadata.snapshots if s.timestamp_ms < _ms(window.end)]
            checksums = []
            for sid in (snapshots[-1], during[-1]):
                plan = plan_read(lake, table, snapshot_id=sid, window=window, columns=COLUMNS)
                if sid == snapshots[-1]:
                    assert plan.delete_files > 0 and plan.engine is Engine.CHDB, plan.describe()
                read = hook.read_window(
                    table,
                    snapshot_id=sid,
                    window=(window.start, window.end),
                    time_column="updated_at",
                    columns=COLUMNS,
                    batch_rows=50,
                )
                rows = [tuple(r.values()) for r in read.read_all().to_pylist()]
                flink = lake_rows(table, snapshot_id=sid, where=where, timeout=120)
                report = compare(flink, rows)
                assert report.equal and report.lake_count > 0, f"{table} at {sid}: {report}"
                checksums.append(report.source_checksum)
                if sid == snapshots[-1]:
                    name = f"t{len(shards.tables()[1])}"
                    target = shards.table(name, partition="intDiv(updated_at, 1000000)")
                    loaded = load(
                        table,
                        target,
                        sid,
                        window_start=window.start,
                        window_end=window.end,
                        columns=list(COLUMNS),
                        engine="chdb",
                    )
                    in_clickhouse = compare(flink, [plain_row(r) for r in shards.rows(name)])
                    assert in_clickhouse.equal, f"{table} at {sid} in ClickHouse: {in_clickhouse}"
                    assert loaded["rows"] == len(flink)
            assert checksums[0] != checksums[1], f"{table}: the window read the same at both snapshots"
    finally:
        writer.stop()
