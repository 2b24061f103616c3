"""A health report as InfluxDB points: one per partition, one per table, unknowns left out."""

from __future__ import annotations

from airflow_provider_rtp.iceberg.health import HealthReport, OrphanSummary, PartitionHealth, TableHealth
from airflow_provider_rtp.monitoring.lake_health import LAKE_HEALTH, LAKE_TABLE_HEALTH, health_points

NOW = 1_796_000_000_000


def _report(orphans: OrphanSummary | None = None, useless: int | None = None) -> HealthReport:
    health = TableHealth(
        table="ods.orders",
        snapshot_id=42,
        snapshot_ms=NOW,
        read_at_ms=NOW,
        small_file_bytes=1,
        partitions=(
            PartitionHealth(
                "change_hour=2026-11-29-22",
                data_files=3,
                equality_delete_files=2,
                useless_equality_deletes=useless,
            ),
            PartitionHealth("", data_files=1),
        ),
        snapshots=5,
        oldest_snapshot_ms=NOW - 1000,
        useless_equality_deletes=useless,
    )
    return HealthReport.judge(health, orphans=orphans)


def test_points_per_partition_and_table_at_the_reading_time() -> None:
    points = health_points(_report())
    assert [p.measurement for p in points] == [LAKE_HEALTH, LAKE_HEALTH, LAKE_TABLE_HEALTH]
    assert {p.time for p in points} == {NOW}
    assert points[0].tags == {"table": "ods.orders", "partition": "change_hour=2026-11-29-22"}
    assert points[1].tags["partition"] == "(unpartitioned)"
    assert points[2].tags == {"table": "ods.orders"}
    line = points[0].to_line()
    assert line.startswith("rtp_lake_health,partition=change_hour\\=2026-11-29-22,table=ods.orders ")
    assert "data_files=3i" in line and "equality_delete_files=2i" in line
    assert line.endswith(f" {NOW}")


def test_unknown_figures_are_left_out_not_zero() -> None:
    table = health_points(_report())[-1].to_line()
    assert "useless_equality_deletes" not in table and "orphan_files" not in table
    assert "clean_due" not in table  # unknown without an orphan summary
    assert "compact_due=true" in table and "expire_due=false" in table
    assert "partitions_to_compact=1i" in table and "snapshots=5i" in table


def test_known_useless_deletes_and_orphans_are_written() -> None:
    points = health_points(_report(OrphanSummary(4, 400), useless=7))
    assert "useless_equality_deletes=7i" in points[0].to_line()
    table = points[-1].to_line()
    assert "useless_equality_deletes=7i" in table and "orphan_files=4i" in table and "clean_due=true" in table
