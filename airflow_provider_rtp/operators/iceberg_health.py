"""Report an Iceberg table's health (files, deletes, snapshots, metadata) and what maintenance is due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.health import HealthReport, HealthThresholds, OrphanSummary
from airflow_provider_rtp.iceberg.health_format import format_health
from airflow_provider_rtp.iceberg.health_read import check_table_identifier
from airflow_provider_rtp.iceberg.useless_deletes import UselessDeleteBudget

__all__ = ["IcebergHealthReportOperator"]


class IcebergHealthReportOperator(BaseOperator):
    """Read a table's live files at its current snapshot (or ``snapshot_id``), judge what
    maintenance is due (compact, expire, clean), log the report as a text table and return it
    as a dict (XCom). With ``influxdb_conn_id`` the report is also written to the InfluxDB shard
    owning the table (measurements ``rtp_lake_health`` and ``rtp_lake_table_health``,
    docs/monitoring.md).

    :param table: ``namespace.table`` in the catalog, or a table's metadata location.
    :param iceberg_conn_id: the Iceberg catalog connection.
    :param influxdb_conn_id: InfluxDB shards connection (type ``rtp_influxdb``); None: not written.
    :param thresholds: :class:`~airflow_provider_rtp.iceberg.health.HealthThresholds`, or a dict of
        its fields (durations in seconds).
    :param snapshot_id: read the files at this snapshot instead of the current one.
    :param small_file_bytes: data files below this are small (default: 32 MiB, or a quarter of
        the table's ``write.target-file-size-bytes`` when that is lower).
    :param count_useless_deletes: count equality-delete rows that matched no older row, within
        ``useless_budget``; over budget the figure is reported as not computed.
    :param orphans: ``{"files": n, "bytes": n}``, or the orphan-file task's result (its
        ``orphan_count`` and ``total_bytes``, e.g. from a dry run); without it the ``clean``
        verdict is ``unknown``.
    """

    template_fields: Sequence[str] = ("table", "snapshot_id", "orphans", "thresholds")
    ui_color = "#e8f4f8"

    def __init__(
        self,
        *,
        table: str,
        iceberg_conn_id: str = IcebergHook.default_conn_name,
        influxdb_conn_id: str | None = None,
        thresholds: HealthThresholds | Mapping[str, Any] | str | None = None,
        snapshot_id: int | str | None = None,
        small_file_bytes: int | None = None,
        count_useless_deletes: bool = True,
        useless_budget: UselessDeleteBudget | None = None,
        orphans: Mapping[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in table:  # known now: a bad name fails the DAG's parse, not a run
            check_table_identifier(table)
        self.table = table
        self.iceberg_conn_id = iceberg_conn_id
        self.influxdb_conn_id = influxdb_conn_id
        # A template is judged once rendered; anything else fails the DAG's parse when bad.
        self.thresholds = thresholds if isinstance(thresholds, str) else _thresholds(thresholds)
        self.snapshot_id = snapshot_id
        if small_file_bytes is not None and small_file_bytes < 1:
            raise InvalidInputError(f"small_file_bytes must be >= 1, got {small_file_bytes}")
        self.small_file_bytes = small_file_bytes
        self.useless_budget = (useless_budget or UselessDeleteBudget()) if count_useless_deletes else None
        self.orphans = orphans

    def _orphans(self) -> OrphanSummary | None:
        if not self.orphans:
            return None
        if not isinstance(self.orphans, Mapping):
            raise InvalidInputError(f"orphans must be a mapping, got {self.orphans!r}")
        return OrphanSummary.from_dict(self.orphans)

    def _snapshot_id(self) -> int | None:
        if self.snapshot_id in (None, ""):
            return None
        try:
            return int(self.snapshot_id)
        except (TypeError, ValueError):
            raise InvalidInputError(f"snapshot_id must be an integer, got {self.snapshot_id!r}") from None

    def execute(self, context: Any) -> dict[str, Any]:
        check_table_identifier(self.table)
        snapshot_id, orphans = self._snapshot_id(), self._orphans()
        health = IcebergHook(self.iceberg_conn_id).table_health(
            self.table,
            snapshot_id=snapshot_id,
            small_file_bytes=self.small_file_bytes,
            useless_budget=self.useless_budget,
        )
        report = HealthReport.judge(health, _thresholds(self.thresholds), orphans=orphans)
        self.log.info("health of %s:\n%s", self.table, format_health(report))
        if self.influxdb_conn_id:
            from airflow_provider_rtp.hooks.influxdb import ShardedInfluxDBHook
            from airflow_provider_rtp.monitoring.lake_health import health_points

            influx = ShardedInfluxDBHook(self.influxdb_conn_id)
            try:
                points = health_points(report)
                shard = influx.write(self.table, points, precision="ms")
            finally:
                influx.close()
            self.log.info("wrote %d points of %s to InfluxDB shard %s", len(points), self.table, shard.name)
        return report.to_dict()


def _thresholds(value: Any) -> HealthThresholds:
    if isinstance(value, HealthThresholds):
        return value
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInputError(f"thresholds must be a mapping of name to number, got {value!r}")
    return HealthThresholds.from_dict(value or {})
