"""What the completeness triggers of one process share: clients, slots and identical evaluations.

The evaluation itself is replaced by a recorder here (its real runs are covered by the
integration tests and bench/completeness_triggers.py); what is tested is the coordination.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_rtp.completeness import Pipeline, Verdict, Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck
from airflow_provider_rtp.triggers import _shared


class FakeClients:
    def __init__(self) -> None:
        self.closed = False
        self.kafka = self.platform = self
        self.rest = self.iceberg = self.catalog = self

    def close(self) -> None:
        self.closed = True


def _check(conn: str = "kafka_default") -> CompletenessCheck:
    return CompletenessCheck(Pipeline("ods.t", ("t",), "g", "job"), kafka_conn_id=conn)


def _window(minute: int) -> Window:
    start = datetime(2026, 11, 24, 10, tzinfo=UTC) + timedelta(minutes=minute)
    return Window(start, start + timedelta(minutes=1))


class Recorder:
    """Stands in for run_check: counts calls, tracks concurrency, can be held open."""

    def __init__(self) -> None:
        self.calls: list[Window] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, check: Any, window: Window, clients: Any, *, persisted: Any = None) -> CheckResult:
        with self.lock:
            self.calls.append(window)
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(5)
        with self.lock:
            self.running -= 1
        return CheckResult(window=window, verdict=Verdict.WAITING, report=f"{window.label()} waiting")


async def _fill_slots(check: CompletenessCheck, clients: Any) -> list[asyncio.Task[CheckResult]]:
    """One evaluation per slot, each of another window, held until the recorder is released."""
    n = _shared.MAX_CONCURRENT_EVALUATIONS
    busy = [asyncio.create_task(_shared.evaluate(check, _window(i), clients, None)) for i in range(n)]
    await asyncio.sleep(0.05)
    return busy


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(_shared, "run_check", rec)
    return rec


def test_clients_are_shared_per_connection_set_and_closed_by_the_last_user() -> None:
    built: list[FakeClients] = []

    async def build(check: CompletenessCheck) -> Any:
        await asyncio.sleep(0.01)  # others ask while the first one connects
        built.append(FakeClients())
        return built[-1]

    async def main() -> None:
        a, b = _check(), _check()
        got = await asyncio.gather(*(_shared.acquire_clients(c, build) for c in (a, b, a)))
        other = await _shared.acquire_clients(_check("kafka_other"), build)
        assert got[0] is got[1] is got[2] and other is not got[0]
        assert len(built) == 2
        await _shared.release_clients(a, got[0])
        await _shared.release_clients(b, got[1])
        assert not got[0].closed
        await _shared.release_clients(a, got[2])
        assert got[0].closed and not other.closed
        again = await _shared.acquire_clients(a, build)  # a new user after the last one left
        assert again is not got[0] and len(built) == 3

    asyncio.run(main())


def test_a_failed_connect_reaches_every_waiter_and_is_retried() -> None:
    attempts = []

    async def build(check: CompletenessCheck) -> Any:
        attempts.append(1)
        await asyncio.sleep(0.01)
        if len(attempts) == 1:
            raise ValueError("no such connection")
        return FakeClients()

    async def main() -> None:
        results = await asyncio.gather(
            *(_shared.acquire_clients(_check(), build) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ValueError) for r in results)
        assert isinstance(await _shared.acquire_clients(_check(), build), FakeClients)

    asyncio.run(main())


def test_evaluations_are_bounded_and_identical_waiting_ones_share_one_run(recorder: Recorder) -> None:
    recorder.release.clear()

    async def main() -> None:
        check, clients = _check(), FakeClients()
        n = _shared.MAX_CONCURRENT_EVALUATIONS
        busy = await _fill_slots(check, clients)  # then 5 asks for one more window share one run
        same = [asyncio.create_task(_shared.evaluate(check, _window(99), clients, None)) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert recorder.running == n
        recorder.release.set()
        results = await asyncio.gather(*busy, *same)
        assert recorder.most == n
        assert recorder.calls.count(_window(99)) == 1
        assert all(r is results[n] for r in results[n:])
        # An identical ask after that run started is evaluated afresh.
        await _shared.evaluate(check, _window(99), clients, None)
        assert recorder.calls.count(_window(99)) == 2
        assert len(recorder.calls) == n + 2  # n held, one shared run for five asks, one afresh

    asyncio.run(main())


def test_joiners_ask_again_when_the_leader_is_cancelled_before_reading(recorder: Recorder) -> None:
    recorder.release.clear()

    async def main() -> None:
        check, clients = _check(), FakeClients()
        busy = await _fill_slots(check, clients)
        leader = asyncio.create_task(_shared.evaluate(check, _window(99), clients, None))
        await asyncio.sleep(0.01)
        joiner = asyncio.create_task(_shared.evaluate(check, _window(99), clients, None))
        await asyncio.sleep(0.01)
        leader.cancel()
        await asyncio.sleep(0.01)
        recorder.release.set()
        result = await joiner
        await asyncio.gather(*busy)
        assert leader.cancelled()
        assert result.window == _window(99) and recorder.calls.count(_window(99)) == 1

    asyncio.run(main())


def test_cancelling_leader_and_joiners_together_ends_them_all(recorder: Recorder) -> None:
    recorder.release.clear()

    async def main() -> None:
        check, clients = _check(), FakeClients()
        busy = await _fill_slots(check, clients)
        same = [asyncio.create_task(_shared.evaluate(check, _window(99), clients, None)) for _ in range(3)]
        await asyncio.sleep(0.05)
        for task in same:  # the triggerer stops them all at once
            task.cancel()
        await asyncio.gather(*same, return_exceptions=True)
        recorder.release.set()
        await asyncio.gather(*busy)
        assert all(t.cancelled() for t in same)
        assert _window(99) not in recorder.calls

    asyncio.run(main())


def test_a_stored_decision_is_never_shared(recorder: Recorder) -> None:
    async def main() -> None:
        check, clients = _check(), FakeClients()
        await asyncio.gather(*(_shared.evaluate(check, _window(1), clients, {"stored": i}) for i in range(3)))
        assert recorder.calls.count(_window(1)) == 3

    asyncio.run(main())
