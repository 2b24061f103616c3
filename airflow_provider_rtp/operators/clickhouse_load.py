"""One window of an Iceberg table, as of one snapshot, in ClickHouse: loaded (idempotent,
reconciled) and, later, reconciled again against a fresh read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.clickhouse.mapping import SourceColumn
from airflow_provider_rtp.clickhouse.target import WritePath, resolve_target
from airflow_provider_rtp.clickhouse.window_load import LoadReport, load_window, reconcile_window
from airflow_provider_rtp.completeness import parse_instant
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.health_read import check_table_identifier
from airflow_provider_rtp.iceberg.window_read import DEFAULT_BATCH_ROWS, Engine

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["ClickHouseReconcileOperator", "IcebergToClickHouseOperator"]


def _snapshot_id(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"snapshot_id must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"snapshot_id must be an integer, got {value!r}") from None


class IcebergToClickHouseOperator(BaseOperator):
    """Replace one time window of a ClickHouse table with the Iceberg table's rows as of one snapshot.

    The window's rows are read as of ``snapshot_id`` (the completeness sensor's covering
    snapshot) or ``tag`` (an hour tag), deletes applied, and staged beside the target on every
    shard; only when each shard's staging holds exactly what was sent do the window's
    partitions swap in (``REPLACE PARTITION``), and the target's window is then reconciled per
    shard (row count and an order-independent checksum). A retry or a re-run leaves one copy;
    a failure before the swap leaves the target unchanged. See ``docs/clickhouse-load.md``.

    :param table: the Iceberg table, ``namespace.table``.
    :param clickhouse_table: ``database.table``: a Distributed table (its cluster's shards are
        written) or a MergeTree table on the connection's server. Its partitions must not mix
        rows of this window with others (e.g. ``PARTITION BY toStartOfHour(t)`` for hours).
    :param time_column: the timestamp column the window bounds, in both tables (ClickHouse:
        ``DateTime64`` of the data's precision, or ``Int64`` epoch microseconds).
    :param snapshot_id: the snapshot to read (templated: e.g. the sensor's XCom ``snapshot_id``);
    :param tag: or a tag naming it. Exactly one of the two.
    :param window_start: the window's start (default: the run's data interval start);
    :param window_end: its end (default: the data interval end). Aware datetimes or ISO strings.
    :param row_filter: only these rows of the window (pyiceberg expression syntax); the target's
        window then holds exactly them.
    :param columns: the Iceberg columns to load (default: all); each needs a target column of
        its name, and every target column a source column.
    :param write_path: ``local_shards`` (straight into each shard's local table, placed by the
        Distributed table's sharding key reproduced here) or ``distributed`` (through the
        Distributed table; needed when the key cannot be reproduced).
    :param engine: the Iceberg read engine (``auto``, ``chdb``, ``pyiceberg``).
    :param batch_rows: rows per Arrow batch read and sent.
    :param progress_interval: seconds between progress lines in the task log.
    """

    template_fields: Sequence[str] = (
        "table",
        "clickhouse_table",
        "snapshot_id",
        "tag",
        "window_start",
        "window_end",
        "row_filter",
    )
    ui_color = "#fff5cc"

    def __init__(
        self,
        *,
        table: str,
        clickhouse_table: str,
        time_column: str,
        snapshot_id: int | str | None = None,
        tag: str | None = None,
        window_start: datetime | str | None = None,
        window_end: datetime | str | None = None,
        row_filter: str | None = None,
        columns: Sequence[str] | None = None,
        write_path: WritePath | str = WritePath.LOCAL_SHARDS,
        engine: Engine | str = Engine.AUTO,
        batch_rows: int = 4 * DEFAULT_BATCH_ROWS,
        progress_interval: float = 5.0,
        iceberg_conn_id: str = IcebergHook.default_conn_name,
        clickhouse_conn_id: str = ClickHouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in table:  # known now: a bad name fails the DAG's parse, not a run
            check_table_identifier(table)
        try:
            self.write_path = WritePath(write_path)
            self.engine = Engine(engine)
        except ValueError as exc:
            raise InvalidInputError(f"{exc}; write_path: local_shards or distributed") from None
        if not isinstance(batch_rows, int) or batch_rows <= 0:
            raise InvalidInputError(f"batch_rows must be a positive integer, got {batch_rows!r}")
        if not isinstance(time_column, str) or not time_column:
            raise InvalidInputError(f"time_column must name a column, got {time_column!r}")
        self.table = table
        self.clickhouse_table = clickhouse_table
        self.time_column = time_column
        self.snapshot_id = snapshot_id
        self.tag = tag
        self.window_start = window_start
        self.window_end = window_end
        self.row_filter = row_filter
        self.columns = list(columns) if columns is not None else None
        self.batch_rows = batch_rows
        self.progress_interval = progress_interval
        self.iceberg_conn_id = iceberg_conn_id
        self.clickhouse_conn_id = clickhouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the Iceberg table in, the ClickHouse table out (see hooks/lineage.py)."""
        from airflow_provider_rtp.hooks.lineage import clickhouse_dataset, iceberg_dataset, operator_lineage

        return operator_lineage(
            [iceberg_dataset(self.table, self.iceberg_conn_id)],
            [clickhouse_dataset(self.clickhouse_table, self.clickhouse_conn_id)],
        )

    def _window(self, context: Any) -> tuple[datetime, datetime]:
        start = self.window_start or context.get("data_interval_start")
        end = self.window_end or context.get("data_interval_end")
        if start is None or end is None:
            raise InvalidInputError(
                "no window: this run has no data interval (e.g. a manual run); "
                "pass window_start and window_end"
            )
        return parse_instant(start, "window start"), parse_instant(end, "window end")

    def execute(self, context: Any) -> dict[str, Any]:
        check_table_identifier(self.table)
        start, end = self._window(context)
        snapshot_id, tag = _snapshot_id(self.snapshot_id), self.tag or None
        clickhouse = ClickHouseHook(self.clickhouse_conn_id)
        iceberg = IcebergHook(self.iceberg_conn_id)
        try:
            # Both sides checked before a row is read: the target, then the Iceberg plan.
            target = resolve_target(clickhouse, self.clickhouse_table, self.write_path)
            plan = iceberg.plan_window(
                self.table,
                snapshot_id=snapshot_id,
                tag=tag,
                window=(start, end),
                time_column=self.time_column,
                row_filter=self.row_filter,
                columns=self.columns,
                engine=self.engine,
            )
            self.log.info("source: %s", plan.describe())
            source = [SourceColumn(name, type_, required) for name, type_, required in plan.fields]
            reader = iceberg.read_planned(plan, batch_rows=self.batch_rows)
            try:
                window = {
                    "table": self.clickhouse_table,
                    "time_column": self.time_column,
                    "start": start,
                    "end": end,
                    "progress_interval": self.progress_interval,
                    "target": target,
                }
                report = self._apply(clickhouse, reader, source, window)
            finally:
                reader.close()
        finally:
            clickhouse.close()
        self.log.info(
            "%s %s at snapshot %s, %s: %d rows (%s), checksum %s, %.0f rows/s",
            self.table,
            report.window_start + " .. " + report.window_end,
            plan.snapshot_id,
            report.table,
            report.rows,
            ", ".join(f"shard {s.shard}: {s.rows}" for s in report.shards),
            report.checksum,
            report.rows_per_second,
        )
        return {
            **report.as_dict(),
            "source": {"table": self.table, "snapshot_id": plan.snapshot_id, "engine": plan.engine.value},
        }

    def _apply(
        self, clickhouse: ClickHouseHook, reader: Any, source: list[SourceColumn], window: dict[str, Any]
    ) -> LoadReport:
        """``window``: the target's window, as :func:`load_window` and :func:`reconcile_window` take it."""
        return load_window(clickhouse, reader, source, write_path=self.write_path, **window)


class ClickHouseReconcileOperator(IcebergToClickHouseOperator):
    """Check, without writing, that a ClickHouse table's window holds exactly the Iceberg window
    as of one snapshot: per shard, row count and checksum (as :class:`IcebergToClickHouseOperator`
    reconciles right after its swap), against a fresh read. Fails naming the shard that differs.

    Takes the loading operator's arguments (``write_path`` plays no part); e.g. a task after the
    load with the same ``snapshot_id``, or a daily audit of past hours.
    """

    ui_color = "#f0f0d8"

    def _apply(
        self, clickhouse: ClickHouseHook, reader: Any, source: list[SourceColumn], window: dict[str, Any]
    ) -> LoadReport:
        return reconcile_window(clickhouse, reader, source, **window)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: both tables are read, nothing is written."""
        from airflow_provider_rtp.hooks.lineage import clickhouse_dataset, iceberg_dataset, operator_lineage

        return operator_lineage(
            [
                iceberg_dataset(self.table, self.iceberg_conn_id),
                clickhouse_dataset(self.clickhouse_table, self.clickhouse_conn_id),
            ],
            [],
        )
