"""The event-driven completeness trigger's own run loop, against the reference pipeline.

The triggerer injects the watched asset's state store; here an in-memory one stands
in for it (the trigger only calls ``aget``/``aset``), and a "restart" is a new
trigger instance on the same store after the first one was cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_rtp.completeness import Policy, load_pipelines
from airflow_provider_rtp.evaluation import CompletenessCheck
from airflow_provider_rtp.triggers.ingestion import IngestionCompleteEventTrigger, IngestionCompleteTrigger
from tests.stack import REPO

pytestmark = pytest.mark.usefixtures("stack")


class MemoryState:
    """The calls the trigger makes on the asset state store."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        assert value is not None
        self.values[key] = value


def reference_check() -> dict[str, Any]:
    pipeline = load_pipelines(REPO / "stack" / "pipelines.yaml")["ods.orders"]
    return CompletenessCheck(pipeline, Policy(idle_timeout=timedelta(seconds=30))).to_dict()


async def collect(
    trigger: IngestionCompleteEventTrigger, timeout: float, *, stop_after: int | None = None
) -> list[dict]:
    """Drive ``trigger.run()`` like the triggerer does, then cancel it (a triggerer stop).

    After ``stop_after`` events it lingers a few seconds, as a triggerer keeps running a
    watcher after an event, so the trigger records its progress before it is cancelled.
    """
    events: list[dict] = []

    async def run() -> None:
        async for event in trigger.run():
            events.append(event.payload)

    task = asyncio.ensure_future(run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done() and loop.time() < deadline:
        if stop_after is not None and len(events) >= stop_after:
            await asyncio.sleep(4)
            break
        await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return events


def test_one_event_per_window_in_order_across_a_restart() -> None:
    every = 20
    # Three windows are over when the test starts; the fourth ends 20 s later.
    start = (datetime.now(tz=UTC) - timedelta(seconds=3 * every)).replace(microsecond=0)
    kwargs = {"check": reference_check(), "start": start.isoformat(), "every": every, "poke_interval": 2}
    state = MemoryState()

    def instance() -> IngestionCompleteEventTrigger:
        trigger = IngestionCompleteEventTrigger(**kwargs)
        trigger.asset_state_store = state  # type: ignore[assignment]
        return trigger

    first = asyncio.run(collect(instance(), 120, stop_after=3))
    assert len(first) == 3, first
    # Restarted while it waits for the fourth window, then restarted again.
    second = asyncio.run(collect(instance(), 5))
    third = asyncio.run(collect(instance(), 150, stop_after=2 - len(second)))
    payloads = first + second + third

    starts = [datetime.fromisoformat(p["window"]["start"].replace("Z", "+00:00")) for p in payloads]
    expected = [start + timedelta(seconds=every * k) for k in range(5)]
    assert starts == expected, f"windows repeated or skipped across restarts: {starts} != {expected}"
    for p in payloads:
        assert p["snapshot_id"] and p["partition_key"] == p["window"]["start"][:19]
        decided = datetime.fromisoformat(p["decided_at"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(p["window"]["end"].replace("Z", "+00:00"))
        assert decided >= end + timedelta(seconds=5), "announced before the window's target"


def test_deferrable_trigger_reports_bad_input_as_an_error_event() -> None:
    check = reference_check()
    check["pipeline"]["topics"] = ["shop.no_such_topic"]
    end = datetime.now(tz=UTC) - timedelta(minutes=2)
    trigger = IngestionCompleteTrigger(
        check=check,
        window={"start": (end - timedelta(minutes=1)).isoformat(), "end": end.isoformat()},
        poke_interval=1,
    )

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    payload = asyncio.run(asyncio.wait_for(first_event(), 60))
    assert payload["status"] == "error" and "shop.no_such_topic" in payload["message"]
