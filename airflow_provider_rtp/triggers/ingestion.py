"""Completeness in the triggerer: the deferrable sensor's trigger and an event-driven asset watcher.

Both run :func:`~airflow_provider_rtp.evaluation.run_check`, the sensor's
evaluator, in a worker thread (its Kafka, Flink and catalog clients are
synchronous) after fetching connections asynchronously, so the event loop is
never blocked. Clients, evaluation slots and identical evaluations are shared by
the triggers of one process (:mod:`airflow_provider_rtp.triggers._shared`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseHook
from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_rtp.assets import DecisionStore, partition_key
from airflow_provider_rtp.completeness import CompletenessError, Verdict, Window, deadline_status
from airflow_provider_rtp.completeness._time import parse_utc, to_iso
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck
from airflow_provider_rtp.exceptions import InvalidInputError, RtpError
from airflow_provider_rtp.hooks.completeness import CheckClients
from airflow_provider_rtp.triggers import _shared

__all__ = ["IngestionCompleteEventTrigger", "IngestionCompleteTrigger"]

_MODULE = "airflow_provider_rtp.triggers.ingestion"
# The triggerer hands events to its supervisor about once a second; progress is
# recorded only after that, so a restart re-announces an hour rather than skipping it.
_EVENT_FLUSH_DELAY = 3.0


async def _connect(check: CompletenessCheck) -> CheckClients:
    connections = {conn_id: await BaseHook.aget_connection(conn_id) for conn_id in set(check.conn_ids)}
    return CheckClients(check, connections)


async def _clients(check: CompletenessCheck) -> CheckClients:
    """Clients shared by every trigger of this process on the same connections (see ``_shared``)."""
    return await _shared.acquire_clients(check, _connect)


async def _release(check: CompletenessCheck, clients: CheckClients) -> None:
    await _shared.release_clients(check, clients)


async def _evaluate(
    check: CompletenessCheck,
    window: Window,
    clients: CheckClients,
    persisted: Any,
    kafka_held_since: datetime | None = None,
) -> CheckResult:
    return await _shared.evaluate(check, window, clients, persisted, kafka_held_since)


def _held_since(check: CompletenessCheck, earlier: datetime | None, result: CheckResult) -> datetime | None:
    """A ClickHouse sink's proof carried to the next evaluation: when the Kafka stage first held in
    an unbroken run of evaluations (an evaluation in which it did not hold starts over)."""
    if check.pipeline.sink != "clickhouse" or result.decision is None:
        return None
    held = result.decision.kafka_held_at
    return None if held is None else earlier or held


class IngestionCompleteTrigger(BaseTrigger):
    """Re-evaluates one window every ``poke_interval`` seconds until it is complete, failed or invalid.

    Events: ``{"status": "complete", "result": CheckResult.to_dict()}``, or
    ``{"status": "failed" | "error", "message": ...}``, or, when the policy's deadline passes
    while it waits and ``deadline_alerted`` is false, ``{"status": "deadline_missed", "deadline":
    DeadlineStatus.to_dict(), "report": ...}``: the sensor alerts on the worker and defers again.
    """

    def __init__(
        self,
        *,
        check: dict[str, Any],
        window: dict[str, Any],
        poke_interval: float,
        deadline_alerted: bool = False,
    ) -> None:
        super().__init__()
        self.check = check
        self.window = window
        self.poke_interval = poke_interval
        self.deadline_alerted = deadline_alerted

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{_MODULE}.IngestionCompleteTrigger",
            {
                "check": self.check,
                "window": self.window,
                "poke_interval": self.poke_interval,
                "deadline_alerted": self.deadline_alerted,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        check = CompletenessCheck.from_dict(self.check)
        window = Window.from_dict(self.window)
        try:
            clients = await _clients(check)
        except Exception as exc:  # an unknown connection id is bad input
            yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
            return
        held: datetime | None = None
        try:
            while True:
                try:
                    # The sensor read the stored decision before deferring: there was none.
                    result = await _evaluate(check, window, clients, None, held)
                except (CompletenessError, RtpError, ValueError) as exc:
                    yield TriggerEvent({"status": "error", "message": f"{type(exc).__name__}: {exc}"})
                    return
                self.log.info("%s", result.report)
                if result.complete:
                    yield TriggerEvent({"status": "complete", "result": result.to_dict()})
                    return
                if result.verdict is Verdict.FAILED:
                    message = f"window {window.label()} cannot complete:\n{result.report}"
                    yield TriggerEvent({"status": "failed", "message": message})
                    return
                due = deadline_status(window, check.policy, datetime.now(tz=UTC))
                if not self.deadline_alerted and due is not None and due.missed:
                    yield TriggerEvent(
                        {"status": "deadline_missed", "deadline": due.to_dict(), "report": result.report}
                    )
                    return
                held = _held_since(check, held, result)
                await asyncio.sleep(self.poke_interval)
        finally:
            await _release(check, clients)


class IngestionCompleteEventTrigger(BaseEventTrigger):
    """Fires once per completed window of a table, in order, for ``Asset(watchers=[AssetWatcher(...)])``.

    Windows are ``[start + k·every, start + (k+1)·every)``. Progress (the next window to
    decide) and each decision live in the watched asset's state store, so a restarted
    triggerer continues where it stopped: it neither skips a window nor, except when it
    stopped within seconds of announcing one, repeats it. The event payload names the
    window, its partition key and the covering snapshot.

    :param check: ``CompletenessCheck.to_dict()``.
    :param start: the first window's start (ISO, UTC), e.g. ``2026-11-24T00:00:00Z``.
    :param every: the window length in seconds (3600 for hours).
    :param poke_interval: seconds between evaluations of a window that is not complete yet.
    :param asset_name: the asset whose state store holds progress (default: the watched asset).
    """

    def __init__(
        self,
        *,
        check: dict[str, Any],
        start: str,
        every: float = 3600,
        poke_interval: float = 60,
        asset_name: str | None = None,
    ) -> None:
        super().__init__()
        self.check = check
        self.start = start
        self.every = every
        self.poke_interval = poke_interval
        self.asset_name = asset_name
        first = parse_utc(start, "start")
        if first is None or every <= 0:
            raise InvalidInputError(f"start must be an ISO time and every > 0, got {start!r}, {every!r}")
        CompletenessCheck.from_dict(check)  # bad input fails when the DAG is parsed

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{_MODULE}.IngestionCompleteEventTrigger",
            {
                "check": self.check,
                "start": self.start,
                "every": self.every,
                "poke_interval": self.poke_interval,
                "asset_name": self.asset_name,
            },
        )

    def _store(self) -> DecisionStore:
        if self.asset_name:
            return DecisionStore(self.asset_name)
        if self.asset_state_store is None:
            raise CompletenessError(
                "no asset state store: pass asset_name or use the trigger in an AssetWatcher"
            )
        return DecisionStore(accessor=self.asset_state_store)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        check = CompletenessCheck.from_dict(self.check)
        store = self._store()
        first = parse_utc(self.start, "start")
        assert first is not None
        every = timedelta(seconds=self.every)
        # Progress keys are per trigger definition: another start or length starts afresh.
        prefix = f"watch/{to_iso(first)}/{int(self.every)}"
        clients = await _clients(check)
        try:
            while True:
                stored = await store.aget_value(f"{prefix}/next_start")
                start = parse_utc(stored, "next_start") if stored else first
                assert start is not None
                window = Window(start, start + every)
                due = window.target(check.policy)
                now = datetime.now(tz=UTC)
                if now < due:  # nothing can be complete before the target passes
                    await asyncio.sleep(min((due - now).total_seconds(), self.poke_interval))
                    continue
                try:
                    result = await _evaluate(check, window, clients, await store.aget(window))
                except (CompletenessError, RtpError, ValueError) as exc:
                    # Bad input does not heal; a watcher cannot fail a task, so it says so and retries slowly.
                    self.log.error("%s: %s", window.label(), exc)
                    await asyncio.sleep(max(self.poke_interval, 60))
                    continue
                self.log.info("%s", result.report)
                if not result.complete:
                    await asyncio.sleep(self.poke_interval)
                    continue
                if result.decision is not None:
                    # Through the store: its decision index keeps the snapshot from expiry.
                    await store.aput(window, result.stored())
                yield TriggerEvent(_payload(result))
                await asyncio.sleep(_EVENT_FLUSH_DELAY)
                await store.aset_value(f"{prefix}/next_start", to_iso(window.end))
        finally:
            await _release(check, clients)


def _payload(result: CheckResult) -> dict[str, Any]:
    xcom = result.xcom()
    return {
        "status": "complete",
        "partition_key": partition_key(result.window),
        "window": xcom["window"],
        "snapshot_id": xcom["snapshot_id"],
        "checkpoint_id": xcom["checkpoint_id"],
        "job_id": xcom["job_id"],
        "watermarks": xcom["watermarks"],
        "decided_at": xcom["decided_at"],
    }
