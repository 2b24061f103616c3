"""Live evaluations for the page: one per pipeline in flight, cached briefly, bounded in time."""

from __future__ import annotations

import threading
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
            gate.wait(5)
        return CheckResult(window=window, verdict=Verdict.WAITING, report="window x → WAITING\n  cdc  y")

    monkeypatch.setattr(freshness_live, "run_check", fake_run_check)
    return made


def test_an_answer_is_reused_within_the_ttl(calls: list[tuple[str, Window]]) -> None:
    live = LiveEvaluations(ttl=60, timeout=5, clients=lambda c: Clients())
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

    live = LiveEvaluations(ttl=0, timeout=5, clients=factory)
    live.evaluate([(check(), WINDOW)])
    live.evaluate([(check(), WINDOW)])
    assert len(calls) == 2 and len(made) == 1
    live.close()


def test_a_failing_pipeline_shows_its_error_and_the_others_answer(calls: list[tuple[str, Window]]) -> None:
    live = LiveEvaluations(ttl=60, timeout=5, clients=lambda c: Clients())
    before = Clients.closed
    answers = live.evaluate([(check(), WINDOW), (check("ods.broken"), WINDOW)])
    assert answers["ods.orders"].result is not None
    assert answers["ods.broken"].result is None
    assert answers["ods.broken"].error == "KafkaError: group 'g' is unknown"
    assert Clients.closed == before + 1  # a failed evaluation's clients are not reused
    live.close()


def test_a_slow_pipeline_times_out_runs_once_and_is_cached_when_done(
    calls: list[tuple[str, Window]],
) -> None:
    gate = threading.Event()

    def slow_clients(c: CompletenessCheck) -> Any:
        clients = Clients()
        clients.gate = gate  # type: ignore[attr-defined]
        return clients

    live = LiveEvaluations(ttl=60, timeout=0.2, clients=slow_clients)
    late = live.evaluate([(check(), WINDOW)])["ods.orders"]
    assert late.result is None and late.error is not None and "no answer within 0.2 s" in late.error
    live.evaluate([(check(), WINDOW)])  # still in flight: waits for it, does not start another
    assert len(calls) == 1
    gate.set()
    live.timeout = 5
    done = live.evaluate([(check(), WINDOW)])["ods.orders"]
    assert done.result is not None and len(calls) == 1
    live.close()
