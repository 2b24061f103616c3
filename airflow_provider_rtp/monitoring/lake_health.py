"""A table's health report as InfluxDB points (schema in docs/monitoring.md).

The series key is the table's identifier: every point of a table goes to the shard
the ring assigns it. One point per partition (``rtp_lake_health`` with tags
``table`` and ``partition``) and one for the table (``rtp_lake_table_health``),
all stamped with the time the table was read (ms), so a re-run of the same report
overwrites its points. Unknown figures are left out, never written as 0.
"""

from __future__ import annotations

from airflow_provider_rtp.iceberg.health import Action, HealthReport
from airflow_provider_rtp.monitoring.line_protocol import Point

__all__ = ["LAKE_HEALTH", "LAKE_TABLE_HEALTH", "MEASUREMENTS", "health_points"]

LAKE_HEALTH = "rtp_lake_health"
LAKE_TABLE_HEALTH = "rtp_lake_table_health"
MEASUREMENTS = (LAKE_HEALTH, LAKE_TABLE_HEALTH)
# An unpartitioned table's one partition: tag values cannot be empty in line protocol.
UNPARTITIONED = "(unpartitioned)"


def health_points(report: HealthReport) -> list[Point]:
    """Points of one report; write them under the key ``report.health.table``."""
    h = report.health
    at = h.read_at_ms
    points = [
        Point(
            LAKE_HEALTH,
            {
                "data_files": p.data_files,
                "data_records": p.data_records,
                "data_bytes": p.data_bytes,
                "small_data_files": p.small_data_files,
                "equality_delete_files": p.equality_delete_files,
                "equality_delete_records": p.equality_delete_records,
                "position_delete_files": p.position_delete_files,
                "position_delete_records": p.position_delete_records,
                "delete_bytes": p.delete_bytes,
                "useless_equality_deletes": p.useless_equality_deletes,
                "last_updated_ms": p.last_updated_ms,
            },
            {"table": h.table, "partition": p.partition or UNPARTITIONED},
            time=at,
        )
        for p in h.partitions
    ]
    compact = report.verdict(Action.COMPACT)
    fields: dict[str, int | str | bool | None] = {
        "partitions": len(h.partitions),
        **{name: h.total(name) for name in ("data_files", "data_records", "data_bytes", "small_data_files")},
        **{
            name: h.total(name)
            for name in (
                "equality_delete_files",
                "equality_delete_records",
                "position_delete_files",
                "position_delete_records",
                "delete_bytes",
            )
        },
        "snapshot_id": h.snapshot_id,
        "snapshots": h.snapshots,
        "oldest_snapshot_ms": h.oldest_snapshot_ms,
        "refs": len(h.refs),
        "metadata_file_bytes": h.metadata_file_bytes,
        "metadata_log_files": h.metadata_log_files,
        "metadata_log_bytes": h.metadata_log_bytes,
        "useless_equality_deletes": h.useless_equality_deletes,
        "partitions_to_compact": len(compact.partitions),
        "orphan_files": None if report.orphans is None else report.orphans.files,
        "orphan_bytes": None if report.orphans is None else report.orphans.bytes,
    }
    for v in report.verdicts:
        fields[f"{v.action.value}_due"] = v.due  # None (unknown) is left out
    points.append(Point(LAKE_TABLE_HEALTH, fields, {"table": h.table}, time=at))
    return points
