"""Rule 3: the ingestion job J is healthy; down jobs are reported and the policy picks wait or fail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_rtp.completeness import (
    FINAL_CHECKPOINT_ID,
    AdviceCode,
    JobDownBehaviour,
    Policy,
    Reason,
    Stage,
    StageStatus,
    Verdict,
)
from tests.unit.completeness.builders import chain, job, run, table

FAIL = Policy(
    allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(0), on_job_down=JobDownBehaviour.FAIL
)
DOWN_STATES = ["FAILED", "CANCELED", "RESTARTING", "FAILING", "CANCELLING", "SUSPENDED"]


def test_running_job_with_covering_commit_is_complete() -> None:
    decision = run()
    assert decision.stage(Stage.JOB).status is StageStatus.OK
    assert decision.verdict is Verdict.COMPLETE


@pytest.mark.parametrize("state", DOWN_STATES)
def test_down_job_is_reported_and_waits_by_default(state: str) -> None:
    decision = run(job_obs=job(state))
    assert decision.verdict is Verdict.WAITING
    assert decision.blocking is Stage.JOB
    assert decision.stage(Stage.JOB).reason is Reason.JOB_DOWN
    assert AdviceCode.JOB_DOWN in decision.advice_codes
    assert state in decision.report()


@pytest.mark.parametrize("state", DOWN_STATES)
def test_job_failed_policy_fail(state: str) -> None:
    decision = run(job_obs=job(state), policy=FAIL)
    assert decision.verdict is Verdict.FAILED
    assert decision.blocking is Stage.JOB
    assert "on_job_down=fail" in decision.report()


def test_failed_job_wins_over_an_earlier_waiting_stage() -> None:
    from tests.unit.completeness.builders import at, heartbeat

    decision = run(job_obs=job("FAILED"), cdc=heartbeat(at(10, 50)), policy=FAIL)
    assert decision.verdict is Verdict.FAILED
    assert decision.blocking is Stage.JOB


@pytest.mark.parametrize("state", ["CREATED", "INITIALIZING", "RECONCILING"])
def test_starting_job_waits_even_under_fail_policy(state: str) -> None:
    decision = run(job_obs=job(state), policy=FAIL)
    assert decision.verdict is Verdict.WAITING
    assert decision.stage(Stage.JOB).reason is Reason.JOB_STARTING


def test_finished_job_with_its_final_commit_is_complete() -> None:
    decision = run(job_obs=job("FINISHED", checkpoint=8813), tbl=table(*chain(8812, FINAL_CHECKPOINT_ID)))
    assert decision.verdict is Verdict.COMPLETE
    assert decision.stage(Stage.JOB).reason is Reason.JOB_FINISHED


def test_finished_job_without_covering_commit_is_down() -> None:
    decision = run(job_obs=job("FINISHED", checkpoint=8813), policy=FAIL)
    assert decision.verdict is Verdict.FAILED
    assert "finished without a commit" in decision.report()


def test_job_state_is_case_insensitive() -> None:
    assert job("running").state == "RUNNING"
