"""CheckResult.blocker: the report's own line for why a window is not complete."""

from __future__ import annotations

from airflow_provider_rtp.completeness import Verdict
from airflow_provider_rtp.evaluation import CheckResult
from tests.unit.completeness.builders import WINDOW, at, heartbeat, run


def test_the_blocking_stage_line_of_the_report() -> None:
    decision = run(cdc=heartbeat(at(10, 59)))
    result = CheckResult(window=WINDOW, verdict=decision.verdict, report=decision.report(), decision=decision)
    assert result.blocker is not None and result.blocker.startswith("cdc ")
    assert result.blocker in decision.report()
    assert "needs 11:02:00" in result.blocker


def test_an_unavailable_system_is_its_error_and_complete_is_none() -> None:
    down = CheckResult(
        window=WINDOW, verdict=Verdict.WAITING, report="window … → WAITING (unavailable)\n  KafkaError: down"
    )
    assert down.blocker == "KafkaError: down"
    done = run()
    complete = CheckResult(window=WINDOW, verdict=done.verdict, report=done.report(), decision=done)
    assert complete.blocker is None
