"""Lake tables as Airflow assets, their hour partitions, and decisions kept in the asset state store.

A completed window is announced as an asset event on the table's asset with
``partition_key`` = the window start (``2026-11-24T10:00:00``, UTC), the input
format of Airflow's temporal partition mappers, so a downstream DAG on
``PartitionedAssetTimetable`` with ``StartOfHourMapper``/``StartOfDayMapper``
runs once per hour or day. Decisions and the event trigger's progress live in
the table asset's state store, so a rerun (or a restarted triggerer) reads them
back instead of deciding again.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from airflow.sdk import Asset

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["PARTITION_KEY_FORMAT", "DecisionStore", "partition_key", "table_asset"]

PARTITION_KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"


def table_asset(table: str, catalog: str = "lake") -> Asset:
    """The asset of an Iceberg table: name ``<catalog>.<namespace>.<table>``, URI ``iceberg://…``."""
    namespace, _, name = table.rpartition(".")
    if not namespace or not name:
        raise InvalidInputError(f"table must be 'namespace.table', got {table!r}")
    return Asset(name=f"{catalog}.{table}", uri=f"iceberg://{catalog}/{namespace.replace('.', '/')}/{name}")


def partition_key(window: Window) -> str:
    """The asset partition of a window: its start in UTC, e.g. ``2026-11-24T10:00:00``."""
    return window.start.astimezone(UTC).strftime(PARTITION_KEY_FORMAT)


class DecisionStore:
    """Decided windows of one table, in its asset's state store (Airflow 3.3).

    Works where the task SDK talks to a supervisor: in a task and in the triggerer.
    """

    def __init__(self, asset_name: str) -> None:
        from airflow.sdk.execution_time.context import AssetStateStoreAccessor

        self.asset_name = asset_name
        self._accessor = AssetStateStoreAccessor(name=asset_name)

    @staticmethod
    def key(window: Window) -> str:
        w = window.to_dict()
        return f"decision/{w['start']}/{w['end']}"

    def get(self, window: Window) -> Any:
        return self._accessor.get(self.key(window))

    async def aget(self, window: Window) -> Any:
        return await self._accessor.aget(self.key(window))

    def put(self, window: Window, record: dict[str, Any]) -> None:
        self._accessor.set(self.key(window), record)

    async def aput(self, window: Window, record: dict[str, Any]) -> None:
        await self._accessor.aset(self.key(window), record)

    def delete(self, window: Window) -> None:
        self._accessor.delete(self.key(window))

    # -- the event trigger's progress ------------------------------------
    async def aget_value(self, key: str) -> Any:
        return await self._accessor.aget(key)

    async def aset_value(self, key: str, value: Any) -> None:
        await self._accessor.aset(key, value)

    async def adelete_value(self, key: str) -> None:
        await self._accessor.adelete(key)
