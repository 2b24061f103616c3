"""The job-wait evaluator on plain observations, and the trigger's serialization."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink import JobState
from airflow_provider_rtp.flink.job_wait import (
    JobFailure,
    JobObservation,
    JobWaitCriteria,
    Progress,
    Verdict,
    evaluate_job,
    root_cause_line,
)
from airflow_provider_rtp.triggers.flink import FlinkJobTrigger, job_event_result

RUNNING = JobWaitCriteria.of(["RUNNING"])
CHECKPOINTED = JobWaitCriteria.of(["RUNNING"], wait_for_checkpoint=True)
TRACE = (
    "org.apache.flink.runtime.JobException: Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy\n"
    "\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handle(X.java:1)\n"
    "Caused by: java.lang.RuntimeException: wrapped\n"
    "\tat a.b.C.d(C.java:2)\n"
    'Caused by: java.lang.NumberFormatException: For input string: "x1"\n'
    "\tat java.lang.Integer.parseInt(Integer.java:3)\n"
)


def obs(state: str = "RUNNING", **kw: object) -> JobObservation:
    return JobObservation(job_id="a" * 32, name="orders", state=JobState(state), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["CREATED", "INITIALIZING", "RESTARTING", "FAILING", "RECONCILING"])
def test_not_yet_running_waits(state: str) -> None:
    v = evaluate_job(obs(state), RUNNING)
    assert v.verdict is Verdict.WAITING and state in v.message


def test_running_is_done_with_the_result_a_task_returns() -> None:
    v = evaluate_job(obs("RUNNING", latest_checkpoint_id=4), RUNNING)
    assert v.verdict is Verdict.DONE
    assert v.result == {
        "job_id": "a" * 32,
        "job_name": "orders",
        "state": "RUNNING",
        "checkpoint_id": 4,
        "restarts": 0,
        "failed_checkpoints": 0,
    }


def test_checkpoint_wait_needs_a_completed_checkpoint() -> None:
    waiting = evaluate_job(obs("RUNNING", checkpoints_in_progress=1), CHECKPOINTED)
    assert waiting.verdict is Verdict.WAITING and "first completed checkpoint" in waiting.message
    done = evaluate_job(obs("RUNNING", latest_checkpoint_id=1), CHECKPOINTED)
    assert done.verdict is Verdict.DONE and "checkpoint 1" in done.message


def test_checkpoint_wait_on_a_job_without_checkpointing_fails_at_once() -> None:
    v = evaluate_job(obs("RUNNING", checkpointing_enabled=False), CHECKPOINTED)
    assert v.verdict is Verdict.FAILED and "checkpointing disabled" in v.message
    assert evaluate_job(obs("RUNNING", checkpointing_enabled=False), RUNNING).verdict is Verdict.DONE
    unknown = evaluate_job(obs("RUNNING", checkpointing_enabled=None), CHECKPOINTED)
    assert unknown.verdict is Verdict.WAITING


def test_failed_job_fails_with_the_innermost_cause_and_the_trace() -> None:
    failure = JobFailure("org.apache.flink.runtime.JobException", TRACE)
    v = evaluate_job(obs("FAILED", failures=(failure,)), RUNNING)
    assert v.verdict is Verdict.FAILED
    first_line = v.message.splitlines()[0]
    assert "FAILED while waiting for RUNNING" in first_line
    assert first_line.endswith('root cause: java.lang.NumberFormatException: For input string: "x1"')
    assert "Recovery is suppressed" in v.message


def test_failed_job_without_history_still_fails_clearly() -> None:
    v = evaluate_job(obs("FAILED"), RUNNING)
    assert v.verdict is Verdict.FAILED and "no exception" in v.message


@pytest.mark.parametrize("state", ["CANCELED", "FINISHED", "SUSPENDED"])
def test_other_terminal_states_fail_unless_targeted(state: str) -> None:
    assert evaluate_job(obs(state), RUNNING).verdict is Verdict.FAILED
    assert evaluate_job(obs(state), JobWaitCriteria.of(["RUNNING", state])).verdict is Verdict.DONE


def test_terminal_target_reached_without_the_checkpoint_asked_for_fails() -> None:
    criteria = JobWaitCriteria.of(["RUNNING", "FINISHED"], wait_for_checkpoint=True)
    assert evaluate_job(obs("FINISHED"), criteria).verdict is Verdict.FAILED


def test_restarts_and_failed_checkpoints_are_noted_once_each() -> None:
    failure = JobFailure("java.lang.IllegalStateException", "java.lang.IllegalStateException: boom")
    first = evaluate_job(
        obs(
            "RESTARTING",
            restarts=2,
            failures=(failure,),
            failed_checkpoints=1,
            checkpoint_failure="Checkpoint expired before completing.",
        ),
        RUNNING,
    )
    assert first.verdict is Verdict.WAITING
    assert len(first.notes) == 2
    assert "restarted 2 time(s) (+2" in first.notes[0] and "boom" in first.notes[0]
    assert "1 failed checkpoint(s)" in first.notes[1] and "expired" in first.notes[1]
    assert first.progress == Progress(restarts=2, failed_checkpoints=1)

    same = evaluate_job(obs("RUNNING", restarts=2, failed_checkpoints=1), RUNNING, first.progress)
    assert same.notes == () and same.verdict is Verdict.DONE
    more = evaluate_job(obs("RUNNING", restarts=3, failed_checkpoints=1), RUNNING, first.progress)
    assert len(more.notes) == 1 and "(+1" in more.notes[0]


def test_root_cause_line() -> None:
    assert root_cause_line("java.lang.Exception: top\n\tat x.y(Z.java:1)") == "java.lang.Exception: top"
    assert root_cause_line("") == "no exception recorded"


@pytest.mark.parametrize(
    ("states", "checkpoint", "error"),
    [
        ([], False, "target_states is empty"),
        (["RUNING"], False, "unknown Flink job state 'RUNING'"),
        (["FINISHED"], True, "needs RUNNING"),
    ],
)
def test_bad_criteria_are_rejected(states: list[str], checkpoint: bool, error: str) -> None:
    with pytest.raises(InvalidInputError, match=error):
        JobWaitCriteria.of(states, checkpoint)


def test_criteria_accept_one_state_as_a_string_and_any_case() -> None:
    assert JobWaitCriteria.of("running").target_states == {JobState.RUNNING}


def test_trigger_serialization_round_trips() -> None:
    trigger = FlinkJobTrigger(
        job_name="orders",
        target_states=["RUNNING", "FINISHED"],
        wait_for_checkpoint=True,
        poll_interval=5,
        rtp_conn_id="rtp_other",
        restarts_seen=2,
        failed_checkpoints_seen=1,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_rtp.triggers.flink.FlinkJobTrigger"
    again = FlinkJobTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert again.criteria == trigger.criteria
    assert kwargs["job_id"] is None and kwargs["job_name"] == "orders"


def test_trigger_rejects_bad_states_before_deferring() -> None:
    with pytest.raises(InvalidInputError, match="unknown Flink job state"):
        FlinkJobTrigger(job_id="a" * 32, target_states=["NOPE"])


def test_event_result() -> None:
    assert job_event_result({"status": "done", "message": "ok", "result": {"job_id": "j"}}) == {"job_id": "j"}
    with pytest.raises(FlinkError, match="root cause: boom"):
        job_event_result({"status": "failed", "message": "job FAILED; root cause: boom", "result": {}})
    with pytest.raises(FlinkError, match="no Flink job named"):
        job_event_result({"status": "error", "message": "no Flink job named 'x'", "result": {}})
    with pytest.raises(FlinkError, match="without an event"):
        job_event_result(None)


def test_sensor_needs_one_job_reference_and_templates_it() -> None:
    from airflow_provider_rtp.sensors.flink import FlinkJobSensor

    with pytest.raises(InvalidInputError, match="exactly one of job_name and job_id"):
        FlinkJobSensor(task_id="s")
    with pytest.raises(InvalidInputError, match="exactly one of job_name and job_id"):
        FlinkJobSensor(task_id="s", job_name="a", job_id="b")
    sensor = FlinkJobSensor(task_id="s", job_name="{{ params.job }}", target_states="RUNNING")
    assert sensor.target_states == ["RUNNING"] and sensor.deferrable is False
    for name in sensor.template_fields:
        assert hasattr(sensor, name)
