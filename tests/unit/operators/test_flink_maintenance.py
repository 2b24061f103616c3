"""Resume, rescale and diagnose operators reject bad arguments when the DAG is parsed."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.links.flink import FlinkJobLink
from airflow_provider_rtp.operators.flink_resume import FlinkResumeJobOperator
from airflow_provider_rtp.operators.flink_scaling import FlinkDiagnoseJobOperator, FlinkRescaleOperator


def test_resume_needs_exactly_one_definition() -> None:
    with pytest.raises(InvalidInputError, match="needs the job's definition"):
        FlinkResumeJobOperator(task_id="r", job_name="j")
    with pytest.raises(InvalidInputError, match="not both"):
        FlinkResumeJobOperator(task_id="r", job_name="j", jar="a.jar", insert_sql="INSERT INTO t SELECT 1")
    op = FlinkResumeJobOperator(task_id="r", job_name="j", insert_sql="INSERT INTO t SELECT 1")
    assert op.has_definition and "restore_path" in op.template_fields


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"if_running": "upgrade"}, "if_running must be skip or fail"),
        ({"parallelism": 0}, "parallelism must be >= 1"),
        ({"timeout": 0}, "timeout must be > 0"),
    ],
)
def test_resume_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        FlinkResumeJobOperator(task_id="r", job_name="j", jar="a.jar", **kwargs)


def test_rescale_parallelism_must_be_positive_and_definition_is_optional() -> None:
    with pytest.raises(InvalidInputError, match="parallelism must be >= 1"):
        FlinkRescaleOperator(task_id="s", job_name="j", parallelism=0)
    assert not FlinkRescaleOperator(task_id="s", job_name="j", parallelism=2).has_definition


def test_diagnose_thresholds_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="idle_low < target_busy < busy_high"):
        FlinkDiagnoseJobOperator(task_id="d", job_name="j", idle_low=0.7)


def test_every_new_operator_links_to_the_job() -> None:
    for cls in (FlinkResumeJobOperator, FlinkRescaleOperator, FlinkDiagnoseJobOperator):
        assert any(isinstance(link, FlinkJobLink) for link in cls.operator_extra_links)
