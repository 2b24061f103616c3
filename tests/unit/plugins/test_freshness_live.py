"""Live evaluations for the page: one per pipeline in flight, cached briefly, waited for within a budget."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_rtp.completeness import Pipeline, Verdict, Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck
from airflow_provider_rtp.exceptions import KafkaError
from airflow_provider_rtp.plugins import freshness_live
from airflow_provider_rtp.plugins.freshness_live import LiveEvaluations

WINDOW = Window(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC))


def check(table: str = "ods.orders") -> CompletenessCheck:
    return CompletenessCheck(Pipeline(table=table, topics=("t",), group="g", ingestion_job="j"))


class Clients:
    closed = 0

    def close(self) -> None:
        Clients.closed += 1


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Window]]:
    made: list[tuple[str, Window]] = []

    def fake_run_check(c: CompletenessCheck, window: Window, clients: Any) -> CheckResult:
        made.append((c.pipeline.table, window))
        if c.pipeline.table == "ods.broken":
            raise KafkaError("group 'g' is unknown")
        gate = getattr(clients, "gate", None)
        if gate is not None:
            gate.wait(30)
        return CheckResult(window=window, verdict=Verdict.WAITING, report="window x → WAITING\n  cdc  y")

    monkeypatch.setattr(freshness_live, "run_check", fake_run_check)
    return made


def test_an_answer_is_reused_within_the_ttl(calls: list[tuple[str, Window]]) -> None:
    live = LiveEvaluations(ttl=60, budget=5, clients=lambda c: Clients())
    first = live.evaluate([(check(), WINDOW)])["ods.orders"]
    again = live.evaluate([(check(), WINDOW)])["ods.orders"]
    assert first is again and len(calls) == 1
    assert first.result is not None and first.result.blocker == "cdc  y"
    live.close()


def test_after_the_ttl_it_asks_again_with_the_same_clients(calls: list[tuple[str, Window]]) -> None:
    made: list[Clients] = []

    def factory(c: CompletenessCheck) -> Clients:
        made.append(Clients())
        return made[-1]

    live = LiveEvaluations(ttl=0, budget=5, clients=factory)
    live.evaluate([(check(), WINDOW)])
    live.evaluate([(check(), WINDOW)])
    assert len(calls) == 2 and len(made) == 1
    live.close()


def test_a_failing_pipeline_shows_its_error_and_the_others_answer(calls: list[tuple[str, Window]]) -> None:
    live = LiveEvaluations(ttl=60, budget=5, clients=lambda c: Clients())
    before = Clients.closed
    answers = live.evaluate([(check(), WINDOW), (check("ods.broken"), WINDOW)])
    assert answers["ods.orders"].result is not None
    assert answers["ods.broken"].result is None
    assert answers["ods.broken"].error == "KafkaError: group 'g' is unknown"
    assert Clients.closed == before + 1  # a failed evaluation's clients are not reused
    live.close()


def gated(gate: threading.Event) -> Any:
    """Clients whose evaluations wait for ``gate`` (the fake run_check reads it)."""

    def factory(c: CompletenessCheck) -> Clients:
        clients = Clients()
        clients.gate = gate  # type: ignore[attr-defined]
        return clients

    return factory


def settled(live: LiveEvaluations, table: str = "ods.orders") -> Any:
    """The answer once the evaluation in flight has finished (asked again, as the page does)."""
    deadline = time.monotonic() + 30
    while True:
        answer = live.evaluate([(check(table), WINDOW)], budget=1)[table]
        if not answer.running or time.monotonic() > deadline:
            return answer


def test_a_slow_pipeline_does_not_hold_the_answer_beyond_the_budget(
    calls: list[tuple[str, Window]],
) -> None:
    gate = threading.Event()
    factory = gated(gate)
    live = LiveEvaluations(
        ttl=60, budget=1, clients=lambda c: factory(c) if c.pipeline.table == "ods.slow" else Clients()
    )
    began = time.monotonic()
    answers = live.evaluate([(check(), WINDOW), (check("ods.slow"), WINDOW), (check("ods.broken"), WINDOW)])
    waited = time.monotonic() - began
    try:
        assert waited < 10  # the slow one blocks until the gate opens (its fake waits up to 30 s)
        slow = answers["ods.slow"]
        assert slow.running and slow.result is None and slow.error is None and slow.evaluated_at is None
        # The error is shown for its pipeline only, the fast one answers within the budget.
        assert answers["ods.broken"].error == "KafkaError: group 'g' is unknown"
        assert not answers["ods.broken"].running
        assert answers["ods.orders"].result is not None and answers["ods.orders"].error is None
        again = live.evaluate([(check("ods.slow"), WINDOW)], budget=0)["ods.slow"]
        assert again.running and [t for t, _ in calls].count("ods.slow") == 1  # still the one in flight
    finally:
        gate.set()
    done = settled(live, "ods.slow")
    assert not done.running and done.result is not None
    assert [t for t, _ in calls].count("ods.slow") == 1
    live.close()


def test_a_finished_result_replaces_the_stale_one(calls: list[tuple[str, Window]]) -> None:
    gate = threading.Event()
    gate.set()
    live = LiveEvaluations(ttl=0, budget=5, clients=gated(gate))
    first = live.evaluate([(check(), WINDOW)])["ods.orders"]
    assert first.result is not None and not first.running and first.evaluated_at is not None
    gate.clear()  # the next evaluation (the TTL is over) hangs until the gate opens
    stale = live.evaluate([(check(), WINDOW)], budget=0.2)["ods.orders"]
    try:
        assert stale.running and stale.result is first.result and stale.evaluated_at == first.evaluated_at
        assert len(calls) == 2
    finally:
        gate.set()
    fresh = settled(live)
    assert not fresh.running and fresh.result is not None and fresh.result is not first.result
    assert fresh.evaluated_at is not None and fresh.evaluated_at >= first.evaluated_at
    live.close()


def test_the_budget_counts_from_the_request_start(calls: list[tuple[str, Window]]) -> None:
    gate = threading.Event()
    live = LiveEvaluations(ttl=60, budget=30, clients=gated(gate))
    began = time.monotonic()
    answer = live.evaluate([(check(), WINDOW)], since=time.monotonic() - 30)["ods.orders"]
    try:
        assert answer.running and time.monotonic() - began < 10  # spent before the call: no wait
    finally:
        gate.set()
    live.close()
