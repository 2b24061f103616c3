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

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.completeness._time import parse_utc
from airflow_provider_rtp.exceptions import InvalidInputError, RtpError
from airflow_provider_rtp.iceberg.expiry import DecisionRef

__all__ = ["DECISION_INDEX_KEY", "PARTITION_KEY_FORMAT", "DecisionStore", "partition_key", "table_asset"]

log = logging.getLogger(__name__)

PARTITION_KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: The state store lists no keys: this one lists the decisions and their snapshots, for expiry.
DECISION_INDEX_KEY = "decision-index"
_INDEX_MAX_AGE = timedelta(days=35)  # longer than any sensible decision horizon
_INDEX_MAX_ENTRIES = 5000
_INDEX_WRITES = 3


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

    def __init__(self, asset_name: str | None = None, *, accessor: Any = None) -> None:
        """The store of ``asset_name``, or over an accessor given (an AssetWatcher's trigger gets one)."""
        self.asset_name = asset_name
        if accessor is None:
            from airflow.sdk.execution_time.context import AssetStateStoreAccessor

            if not asset_name:
                raise InvalidInputError("DecisionStore needs an asset name or an accessor")
            accessor = AssetStateStoreAccessor(name=asset_name)
        self._accessor = accessor

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
        entry = _index_entry(record)
        if entry is None:
            return
        key = self.key(window)
        for _ in range(_INDEX_WRITES):  # re-read: a concurrent put may have dropped this entry
            self._accessor.set(
                DECISION_INDEX_KEY, _indexed(self._accessor.get(DECISION_INDEX_KEY), key, entry)
            )
            if _entries(self._accessor.get(DECISION_INDEX_KEY)).get(key) == entry:
                return
        log.warning("%s: %s lost from the decision index by concurrent writers", self.asset_name, key)

    async def aput(self, window: Window, record: dict[str, Any]) -> None:
        await self._accessor.aset(self.key(window), record)
        entry = _index_entry(record)
        if entry is None:
            return
        key = self.key(window)
        for _ in range(_INDEX_WRITES):
            index = _indexed(await self._accessor.aget(DECISION_INDEX_KEY), key, entry)
            await self._accessor.aset(DECISION_INDEX_KEY, index)
            if _entries(await self._accessor.aget(DECISION_INDEX_KEY)).get(key) == entry:
                return
        log.warning("%s: %s lost from the decision index by concurrent writers", self.asset_name, key)

    def decisions_since(self, since: datetime) -> list[DecisionRef]:
        """The snapshots of decisions taken at or after ``since``, from the index ``put`` keeps.

        The index is read, changed and written back by each ``put``; two sensors deciding at the
        same moment can drop each other's entry (each re-checks and rewrites a few times). A lost
        entry only lets expiry remove that snapshot: the decision then resolves to main's head,
        which still holds its data (``PersistedDecision.resolve``).
        """
        found = []
        for entry in _entries(self._accessor.get(DECISION_INDEX_KEY)).values():
            decided_at = _decided_at(entry)
            if decided_at is not None and decided_at >= since:
                found.append(DecisionRef(int(entry["snapshot_id"]), decided_at))
        return found

    def delete(self, window: Window) -> None:
        self._accessor.delete(self.key(window))

    # -- other per-table values: the event trigger's progress, deadline alerts ---
    def get_value(self, key: str) -> Any:
        return self._accessor.get(key)

    def set_value(self, key: str, value: Any) -> None:
        self._accessor.set(key, value)

    async def aget_value(self, key: str) -> Any:
        return await self._accessor.aget(key)

    async def aset_value(self, key: str, value: Any) -> None:
        await self._accessor.aset(key, value)

    async def adelete_value(self, key: str) -> None:
        await self._accessor.adelete(key)


def _index_entry(record: dict[str, Any]) -> dict[str, Any] | None:
    """What the index keeps of a stored decision: its snapshot and time (none for ClickHouse)."""
    if not isinstance(record, dict) or record.get("snapshot_id") is None or not record.get("decided_at"):
        return None
    return {"snapshot_id": int(record["snapshot_id"]), "decided_at": str(record["decided_at"])}


def _entries(index: Any) -> dict[str, dict[str, Any]]:
    """The index's well-formed entries (a damaged one is dropped, not fatal: it only protects)."""
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if _decided_at(v) is not None}


def _decided_at(entry: Any) -> datetime | None:
    try:
        int(entry["snapshot_id"])
        return parse_utc(entry["decided_at"], "decided_at")
    except (TypeError, KeyError, ValueError, RtpError):
        return None


def _indexed(index: Any, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """``index`` with ``key`` set, pruned of entries older than 35 days and beyond 5,000 (newest kept)."""
    entries = _entries(index)
    entries[key] = entry
    oldest = datetime.now(tz=UTC) - _INDEX_MAX_AGE
    dated = sorted((when, k) for k, v in entries.items() if (when := _decided_at(v)) is not None)
    fresh = [k for when, k in dated if when >= oldest][-_INDEX_MAX_ENTRIES:]
    return {"version": 1, "entries": {k: entries[k] for k in fresh}}
