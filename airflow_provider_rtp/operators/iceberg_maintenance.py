"""Keep a Flink-written lake table lean: expire snapshots, delete orphan files, manage its properties.

Each operator pushes a plain dict to XCom. Bad input (an unknown table, a table no Flink
sink wrote where restore points matter, a negative or too small age, a column the table lacks)
fails with :class:`~airflow_provider_rtp.exceptions.InvalidInputError` or
:class:`~airflow_provider_rtp.exceptions.IcebergError` before anything is committed or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.assets import DecisionStore, table_asset
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.expiry import (
    DEFAULT_DECISION_HORIZON,
    DEFAULT_RESTORE_HORIZON,
    ExpiryPolicy,
)
from airflow_provider_rtp.iceberg.maintenance import expire_snapshots
from airflow_provider_rtp.iceberg.orphans import DEFAULT_MIN_AGE, OrphanPolicy, delete_orphan_files
from airflow_provider_rtp.iceberg.properties import apply_table_properties, managed_properties

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = [
    "IcebergDeleteOrphanFilesOperator",
    "IcebergExpireSnapshotsOperator",
    "IcebergTablePropertiesOperator",
    "writer_state",
]

#: ``min_age`` must cover this many checkpoint intervals of the slowest running writer.
CHECKPOINT_INTERVALS_FLOOR = 3


def _duration(value: timedelta | float, name: str) -> timedelta:
    if isinstance(value, timedelta):
        out = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out = timedelta(seconds=value)
    else:
        raise InvalidInputError(f"{name} must be a timedelta or seconds, got {value!r}")
    if out < timedelta(0):
        raise InvalidInputError(f"{name} must not be negative, got {out}")
    return out


class _IcebergTableOperator(BaseOperator):
    template_fields: Sequence[str] = ("table",)
    ui_color = "#dce9f5"

    def __init__(self, *, table: str, iceberg_conn_id: str = IcebergHook.default_conn_name, **kwargs: Any):
        super().__init__(**kwargs)
        self.table = table
        self.iceberg_conn_id = iceberg_conn_id

    @cached_property
    def hook(self) -> IcebergHook:
        return IcebergHook(self.iceberg_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the table, read and rewritten (see hooks/lineage.py)."""
        from airflow_provider_rtp.hooks.lineage import table_lineage

        return table_lineage(self.table, self.iceberg_conn_id)

    def _identifier(self) -> str:
        if not isinstance(self.table, str) or self.table.count(".") < 1:
            raise InvalidInputError(f"table must be 'namespace.table', got {self.table!r}")
        return self.table


class IcebergExpireSnapshotsOperator(_IcebergTableOperator):
    """Expire old snapshots, keeping what Flink restores, tags and decisions need (iceberg/expiry.py).

    :param table: ``namespace.table``.
    :param older_than: snapshots committed longer ago than this may be expired.
    :param retain_last: main's newest snapshots always kept.
    :param decision_horizon: completeness decisions taken within it keep their snapshot.
    :param restore_horizon: Flink jobs whose last commit is within it keep their restore chain.
    :param flink_table: refuse a table no Flink sink wrote (``False`` for other tables).
    :param dry_run: plan only.
    :param catalog_name: names the table's asset, whose state store holds the decisions.
    """

    def __init__(
        self,
        *,
        table: str,
        older_than: timedelta | float = timedelta(days=1),
        retain_last: int = 1,
        decision_horizon: timedelta | float = DEFAULT_DECISION_HORIZON,
        restore_horizon: timedelta | float = DEFAULT_RESTORE_HORIZON,
        flink_table: bool = True,
        dry_run: bool = False,
        catalog_name: str = "lake",
        **kwargs: Any,
    ) -> None:
        super().__init__(table=table, **kwargs)
        self.policy = ExpiryPolicy(
            older_than=_duration(older_than, "older_than"),
            retain_last=retain_last,
            decision_horizon=_duration(decision_horizon, "decision_horizon"),
            restore_horizon=_duration(restore_horizon, "restore_horizon"),
        )
        self.flink_table = flink_table
        self.plan_only = dry_run  # BaseOperator.dry_run is a method
        self.catalog_name = catalog_name

    def execute(self, context: Any) -> dict[str, Any]:
        identifier = self._identifier()
        now = datetime.now(tz=UTC)
        store = DecisionStore(table_asset(identifier, self.catalog_name).name)
        decisions = store.decisions_since(now - self.policy.decision_horizon)
        result = expire_snapshots(
            self.hook.catalog,
            identifier,
            self.policy,
            decisions=decisions,
            now=now,
            flink_table=self.flink_table,
            dry_run=self.plan_only,
        )
        out = result.to_dict()
        self.log.info(
            "%s: %d snapshots to expire, %d kept past the cut-off, %d files deleted%s",
            identifier,
            len(result.plan.to_expire),
            len(result.plan.kept),
            len(result.deleted),
            " (dry run)" if self.plan_only else "",
        )
        return out


def writer_state(rest: Any) -> tuple[list[str], timedelta]:
    """Ids of the cluster's jobs that have not ended, and the ``min_age`` floor they impose:
    :data:`CHECKPOINT_INTERVALS_FLOOR` times the longest checkpoint interval among them (a job
    without periodic checkpoints commits at its end only: it sets no floor)."""
    live = [j.job_id for j in rest.list_jobs() if not j.state.is_terminal]
    intervals = [i for i in (rest.checkpoint_interval(job_id) for job_id in live) if i is not None]
    return live, max(intervals, default=timedelta(0)) * CHECKPOINT_INTERVALS_FLOOR


class IcebergDeleteOrphanFilesOperator(_IcebergTableOperator):
    """Find (``dry_run``) or delete the table's orphan files (iceberg/orphans.py).

    The running Flink jobs come from ``rtp_conn_id``: their temporary manifests are kept and
    ``min_age`` must exceed a few of their checkpoint intervals. Without ``rtp_conn_id`` the
    running jobs are unknown and every temporary Flink manifest is kept.

    :param table: ``namespace.table``.
    :param min_age: only files older than this are deleted (default 3 days, at least 1 hour).
    :param dry_run: list orphans and their total size, delete nothing (default).
    :param retained_job_ids: ended Flink jobs whose checkpoints or savepoints may still be restored.
    :param rtp_conn_id: the Flink cluster writing the table; ``None`` when it cannot be asked.
    """

    template_fields: Sequence[str] = ("table", "retained_job_ids")

    def __init__(
        self,
        *,
        table: str,
        min_age: timedelta | float = DEFAULT_MIN_AGE,
        dry_run: bool = True,
        retained_job_ids: Sequence[str] = (),
        rtp_conn_id: str | None = "rtp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(table=table, **kwargs)
        self.min_age = _duration(min_age, "min_age")
        OrphanPolicy(min_age=self.min_age)  # the hard floor fails when the DAG is parsed
        self.plan_only = dry_run
        self.retained_job_ids = retained_job_ids
        self.rtp_conn_id = rtp_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        identifier = self._identifier()
        running: list[str] | None = None
        floor = timedelta(0)
        if self.rtp_conn_id:
            from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

            platform = RealtimePlatformHook(self.rtp_conn_id)
            try:
                running, floor = writer_state(platform.rest)
            finally:
                platform.close()
        policy = OrphanPolicy(min_age=self.min_age, writer_floor=floor)
        result = delete_orphan_files(
            self.hook.catalog,
            identifier,
            policy,
            running_jobs=running,
            retained_jobs=list(self.retained_job_ids or ()),
            dry_run=self.plan_only,
        )
        return result.to_dict()


class IcebergTablePropertiesOperator(_IcebergTableOperator):
    """Set metadata retention and bloom filters on a table, idempotently (iceberg/properties.py).

    :param table: ``namespace.table``.
    :param previous_versions_max: metadata files kept besides the current one (``None``: leave alone).
    :param bloom_filters: column names, or column -> false-positive probability.
    :param bloom_filter_max_bytes: the largest bloom filter per column and row group.
    """

    template_fields: Sequence[str] = ("table", "bloom_filters")

    def __init__(
        self,
        *,
        table: str,
        previous_versions_max: int | None = 100,
        bloom_filters: Mapping[str, float | None] | Sequence[str] = (),
        bloom_filter_max_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(table=table, **kwargs)
        self.previous_versions_max = previous_versions_max
        self.bloom_filters = bloom_filters
        self.bloom_filter_max_bytes = bloom_filter_max_bytes
        self._wanted()  # bad values fail when the DAG is parsed

    def _wanted(self) -> dict[str, str]:
        if isinstance(self.bloom_filters, str):
            raise InvalidInputError(
                f"bloom_filters must be a list or mapping of columns, got {self.bloom_filters!r}"
            )
        return managed_properties(
            previous_versions_max=self.previous_versions_max,
            bloom_filters=self.bloom_filters,
            bloom_filter_max_bytes=self.bloom_filter_max_bytes,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        return apply_table_properties(self.hook.catalog, self._identifier(), self._wanted()).to_dict()
