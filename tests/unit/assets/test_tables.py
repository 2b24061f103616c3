"""The decision index DecisionStore keeps beside its decisions, over an in-memory state store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.assets.tables import DECISION_INDEX_KEY, DecisionStore
from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.completeness._time import to_iso


class _Store:
    """get/set/delete only, as Airflow's AssetStateStoreAccessor offers."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    async def aget(self, key: str) -> Any:
        return self.get(key)

    async def aset(self, key: str, value: Any) -> None:
        self.set(key, value)


def _store() -> tuple[DecisionStore, _Store]:
    store = DecisionStore("lake.ods.t")
    backing = _Store()
    store._accessor = backing  # type: ignore[assignment]
    return store, backing


def _window(hour: int) -> Window:
    start = datetime(2026, 12, 1, hour, tzinfo=UTC)
    return Window(start, start + timedelta(hours=1))


def _record(snapshot_id: int | None, decided_at: datetime) -> dict[str, Any]:
    return {"snapshot_id": snapshot_id, "decided_at": to_iso(decided_at)}


def test_put_indexes_the_decided_snapshot() -> None:
    store, _ = _store()
    now = datetime.now(tz=UTC)
    store.put(_window(10), _record(11, now - timedelta(days=2)))
    store.put(_window(11), _record(12, now - timedelta(hours=1)))
    found = store.decisions_since(now - timedelta(days=1))
    assert [(d.snapshot_id, d.decided_at.isoformat()) for d in found] == [
        (12, (now - timedelta(hours=1)).isoformat())
    ]
    assert {d.snapshot_id for d in store.decisions_since(now - timedelta(days=7))} == {11, 12}


def test_aput_indexes_too_and_a_rerun_replaces_its_entry() -> None:
    store, backing = _store()
    now = datetime.now(tz=UTC)
    asyncio.run(store.aput(_window(10), _record(11, now)))
    asyncio.run(store.aput(_window(10), _record(13, now)))
    assert [d.snapshot_id for d in store.decisions_since(now - timedelta(hours=1))] == [13]
    assert len(backing.values[DECISION_INDEX_KEY]["entries"]) == 1


def test_old_entries_are_pruned_and_clickhouse_decisions_not_indexed() -> None:
    store, backing = _store()
    now = datetime.now(tz=UTC)
    store.put(_window(1), _record(1, now - timedelta(days=40)))
    store.put(_window(2), _record(2, now))
    store.put(_window(3), _record(None, now))
    assert list(backing.values[DECISION_INDEX_KEY]["entries"]) == [DecisionStore.key(_window(2))]


def test_a_damaged_index_is_rebuilt_not_fatal() -> None:
    store, backing = _store()
    backing.values[DECISION_INDEX_KEY] = {"entries": {"x": {"snapshot_id": "?", "decided_at": 5}}}
    now = datetime.now(tz=UTC)
    assert store.decisions_since(now - timedelta(days=1)) == []
    store.put(_window(4), _record(4, now))
    assert [d.snapshot_id for d in store.decisions_since(now - timedelta(days=1))] == [4]
