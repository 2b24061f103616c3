"""Rescale branching and restore-point selection on plain REST answers."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.flink import JobState
from airflow_provider_rtp.flink.job_wait import (
    JobObservation,
    JobWaitCriteria,
    Verdict,
    VertexParallelism,
    evaluate_job,
)
from airflow_provider_rtp.flink.rescale import plan_rescale, requirements_body, scheduler_of
from airflow_provider_rtp.flink.restore import RestorePoint, newest_restore_point, restore_points

VERTICES = [
    {"id": "src", "name": "Source", "parallelism": 1, "maxParallelism": 128},
    {"id": "commit", "name": "Committer", "parallelism": 1, "maxParallelism": 1},
]


def test_scheduler_from_config_list_or_mapping() -> None:
    assert scheduler_of([{"key": "parallelism.default", "value": "1"}]) == "default"
    assert scheduler_of([{"key": "jobmanager.scheduler", "value": "Adaptive"}]) == "adaptive"
    assert scheduler_of({"jobmanager.scheduler": "adaptive"}) == "adaptive"


def test_default_scheduler_rescales_by_savepoint_within_max_parallelism() -> None:
    plan = plan_rescale("default", VERTICES, 2)
    assert plan.method == "savepoint" and plan.targets == {"src": 2, "commit": 1}
    assert "stop with savepoint" in plan.reason


def test_adaptive_scheduler_rescales_in_place() -> None:
    plan = plan_rescale("adaptive", VERTICES, 3)
    assert plan.method == "adaptive" and plan.targets == {"src": 3, "commit": 1}


def test_nothing_to_do_when_already_there() -> None:
    assert plan_rescale("default", VERTICES, 1).method == "none"
    assert plan_rescale("adaptive", [VERTICES[1]], 5).method == "none"


@pytest.mark.parametrize("parallelism", [0, -1])
def test_parallelism_must_be_positive(parallelism: int) -> None:
    with pytest.raises(InvalidInputError, match="parallelism must be >= 1"):
        plan_rescale("default", VERTICES, parallelism)


def test_requirements_body_sets_upper_bound_and_keeps_lower_below() -> None:
    current = {
        "src": {"parallelism": {"lowerBound": 2, "upperBound": 2}},
        "commit": {"parallelism": {"lowerBound": 1, "upperBound": 1}},
    }
    body = requirements_body({"src": 1, "commit": 1}, current)
    assert body == {
        "src": {"parallelism": {"lowerBound": 1, "upperBound": 1}},
        "commit": {"parallelism": {"lowerBound": 1, "upperBound": 1}},
    }
    assert requirements_body({"src": 4}, current)["src"]["parallelism"] == {"lowerBound": 2, "upperBound": 4}
    with pytest.raises(InvalidInputError, match="not in the job's resource requirements"):
        requirements_body({"other": 2}, current)


def _running(state: str = "RUNNING", src: int = 1) -> JobObservation:
    vertices = (VertexParallelism("src", "Source", src), VertexParallelism("commit", "Committer", 1))
    return JobObservation(job_id="j", name="orders", state=JobState(state), vertices=vertices)


def test_rescale_wait_ends_when_every_vertex_runs_at_its_target() -> None:
    criteria = JobWaitCriteria.of(["RUNNING"], parallelism={"src": 2, "commit": 1})
    waiting = evaluate_job(_running(src=1), criteria)
    assert waiting.verdict is Verdict.WAITING
    assert "waiting for {'Source': 2, 'Committer': 1}" in waiting.message
    assert evaluate_job(_running("RESTARTING", src=2), criteria).verdict is Verdict.WAITING
    assert evaluate_job(_running(src=2), criteria).verdict is Verdict.DONE
    assert evaluate_job(_running("FAILED", src=2), criteria).verdict is Verdict.FAILED


def _checkpoints(savepoint: dict | None, completed: dict | None) -> dict:
    return {"latest": {"savepoint": savepoint, "completed": completed, "restored": None}}


def test_restore_points_skip_discarded_and_placeholders() -> None:
    raw = _checkpoints(
        {"id": 12, "external_path": "file:/sp/savepoint-1", "trigger_timestamp": 200, "discarded": False},
        {"id": 11, "external_path": "file:/chk/chk-11", "trigger_timestamp": 100, "discarded": True},
    )
    assert restore_points("a", raw) == [RestorePoint("file:/sp/savepoint-1", "savepoint", 12, "a", 200)]
    placeholder = _checkpoints(
        None, {"id": 3, "external_path": "<checkpoint-not-externally-addressable>", "discarded": False}
    )
    assert restore_points("b", placeholder) == []
    assert restore_points("c", {"latest": None}) == []


def test_newest_restore_point_across_jobs_prefers_savepoint_on_tie() -> None:
    cancelled = restore_points(
        "b",
        _checkpoints(None, {"id": 6, "external_path": "s3://b/chk-6", "trigger_timestamp": 300}),
    )
    stopped = restore_points(
        "a",
        _checkpoints({"id": 12, "external_path": "s3://a/sp", "trigger_timestamp": 200}, None),
    )
    assert newest_restore_point([*stopped, *cancelled]).path == "s3://b/chk-6"
    tie = RestorePoint("s3://x/sp", "savepoint", 7, "x", 300)
    assert newest_restore_point([*cancelled, tie]) is tie
    assert newest_restore_point([]) is None
