"""Diagnosis rules on plain data: busy scales up, backpressure points downstream, idle scales down."""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.flink.diagnosis import Thresholds, VertexLoad, diagnose, vertex_load


def load(
    vid: str,
    *,
    p: int = 1,
    maxp: int = 128,
    busy: float | None = 0.5,
    busy_max: float | None = None,
    pressured: float = 0.0,
    inputs: tuple[str, ...] = (),
) -> VertexLoad:
    return VertexLoad(
        vertex_id=vid,
        name=vid,
        parallelism=p,
        max_parallelism=maxp,
        busy_avg=busy,
        busy_max=busy if busy_max is None else busy_max,
        backpressured_max=pressured,
        inputs=inputs,
    )


def test_busy_vertex_scales_up_proportionally() -> None:
    report = diagnose("j", "job", [load("map", p=2, busy=0.9)])
    (v,) = report.vertices
    assert v.suggested_parallelism == math.ceil(2 * 0.9 / 0.6) == 3
    assert report.suggested_parallelism == 3 and report.bottleneck == "map"
    assert "bottleneck" in v.reason and "90%" in v.reason


def test_saturated_single_subtask_gets_at_least_one_more() -> None:
    report = diagnose("j", "job", [load("map", p=1, busy=0.81)], Thresholds(target_busy=0.79))
    assert report.suggested_parallelism == 2


def test_scale_up_is_capped_at_max_parallelism() -> None:
    report = diagnose("j", "job", [load("map", p=3, maxp=4, busy=1.0)])
    (v,) = report.vertices
    assert v.suggested_parallelism == 4 and "capped at max parallelism 4" in v.reason


def test_busy_vertex_at_max_parallelism_stays() -> None:
    report = diagnose("j", "job", [load("committer", p=1, maxp=1, busy=0.95)])
    (v,) = report.vertices
    assert v.suggested_parallelism == 1 and "already at its max parallelism 1" in v.reason
    assert report.bottleneck is None


def test_backpressured_vertex_is_not_the_bottleneck_the_busy_downstream_one_is() -> None:
    loads = [
        load("source", p=2, busy=0.1, pressured=0.85),
        load("parse", p=2, busy=0.3, pressured=0.6, inputs=("source",)),
        load("enrich", p=2, busy=0.95, inputs=("parse",)),
        load("sink", p=2, busy=0.3, inputs=("enrich",)),
    ]
    report = diagnose("j", "job", loads)
    by = {v.vertex_id: v for v in report.vertices}
    assert by["source"].suggested_parallelism == 2
    assert "not the bottleneck" in by["source"].reason and "'enrich'" in by["source"].reason
    assert "'enrich'" in by["parse"].reason
    assert by["enrich"].suggested_parallelism == 4
    assert report.bottleneck == "enrich" and report.suggested_parallelism == 4
    assert report.reason.startswith("'enrich' is the bottleneck")


def test_idle_vertices_scale_down_but_never_below_one() -> None:
    report = diagnose("j", "job", [load("a", p=4, busy=0.05), load("b", p=4, busy=0.0, inputs=("a",))])
    by = {v.vertex_id: v for v in report.vertices}
    assert by["a"].suggested_parallelism == 1 and "idle" in by["a"].reason
    assert by["b"].suggested_parallelism == 1
    assert report.suggested_parallelism == 1 and "fewer subtasks" in report.reason


def test_idle_single_subtask_stays() -> None:
    report = diagnose("j", "job", [load("a", p=1, busy=0.01)])
    assert report.suggested_parallelism == 1 and report.reason == "no vertex needs another parallelism"


def test_skewed_vertex_is_named_not_scaled() -> None:
    report = diagnose("j", "job", [load("agg", p=4, busy=0.3, busy_max=0.99)])
    (v,) = report.vertices
    assert v.suggested_parallelism == 4 and v.reason.startswith("skewed")


def test_missing_metrics_keep_the_parallelism() -> None:
    report = diagnose("j", "job", [load("a", p=3, busy=None)])
    (v,) = report.vertices
    assert v.suggested_parallelism == 3 and "no busy-time metrics" in v.reason


def test_job_suggestion_is_the_largest_vertex_suggestion() -> None:
    report = diagnose("j", "job", [load("a", p=2, busy=0.05), load("b", p=2, busy=0.85, inputs=("a",))])
    assert report.suggested_parallelism == 3 and report.parallelism == 2


def test_report_is_json_serialisable() -> None:
    report = diagnose("j", "job", [load("a", p=2, busy=0.9)])
    assert json.loads(json.dumps(report.to_dict()))["vertices"][0]["suggested_parallelism"] == 3


def test_vertex_load_reads_rest_answers_and_nan() -> None:
    vertex = {"id": "v1", "name": "Source: gen", "parallelism": 2, "maxParallelism": 128}
    metrics = {
        "busyTimeMsPerSecond": {"min": 100.0, "max": 900.0, "avg": 500.0, "sum": 1000.0},
        "backPressuredTimeMsPerSecond": {"min": float("nan"), "max": float("nan")},
    }
    bp = {"status": "ok", "backpressure-level": "low", "subtasks": []}
    v = vertex_load(vertex, metrics, inputs=["v0"], backpressure=bp)
    assert (v.busy_avg, v.busy_max, v.backpressured_max) == (0.5, 0.9, None)
    assert (v.backpressure_level, v.inputs, v.max_parallelism) == ("low", ("v0",), 128)
    assert vertex_load(vertex, {}).busy_avg is None


@pytest.mark.parametrize(
    "kwargs",
    [{"busy_high": 1.2}, {"idle_low": 0.0}, {"idle_low": 0.7}, {"target_busy": 0.9}],
)
def test_thresholds_must_be_ordered_ratios(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError):
        Thresholds(**kwargs)


def test_a_job_without_vertices_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="no vertices"):
        diagnose("j", "job", [])
