"""Maintenance operators refuse bad input when the DAG is parsed or before any I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.operators.iceberg_maintenance import (
    IcebergDeleteOrphanFilesOperator,
    IcebergExpireSnapshotsOperator,
    IcebergTablePropertiesOperator,
    writer_state,
)


@pytest.mark.parametrize(
    "kwargs",
    [{"older_than": -1}, {"older_than": "1d"}, {"retain_last": 0}, {"decision_horizon": timedelta(days=-1)}],
)
def test_expiry_bad_policy_fails_at_parse_time(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        IcebergExpireSnapshotsOperator(task_id="t", table="ods.t", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("min_age", "match"), [(-60, "negative"), (1800, "below the floor")])
def test_orphan_min_age_below_the_hard_floor_fails_at_parse_time(min_age: float, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        IcebergDeleteOrphanFilesOperator(task_id="t", table="ods.t", min_age=min_age)


def test_orphan_cleanup_defaults_to_a_dry_run_of_three_days() -> None:
    op = IcebergDeleteOrphanFilesOperator(task_id="t", table="ods.t")
    assert op.plan_only is True
    assert op.min_age == timedelta(days=3)
    assert set(op.template_fields) == {"table", "retained_job_ids"}


@pytest.mark.parametrize(
    "kwargs", [{"bloom_filters": "id"}, {"bloom_filters": {"id": 2.0}}, {"previous_versions_max": 0}]
)
def test_properties_bad_values_fail_at_parse_time(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        IcebergTablePropertiesOperator(task_id="t", table="ods.t", **kwargs)  # type: ignore[arg-type]


def test_a_table_without_namespace_fails_before_any_io() -> None:
    op = IcebergExpireSnapshotsOperator(task_id="t", table="orders")
    with pytest.raises(InvalidInputError, match=r"namespace\.table"):
        op.execute({})


class _Job:
    def __init__(self, job_id: str, ended: bool) -> None:
        self.job_id = job_id
        self.state = type("S", (), {"is_terminal": ended})()


class _Rest:
    """FlinkRestClient's job list and checkpoint intervals (None: a job taking no checkpoints)."""

    def list_jobs(self) -> list[_Job]:
        return [_Job("live1", False), _Job("live2", False), _Job("batch1", False), _Job("gone", True)]

    def checkpoint_interval(self, job_id: str) -> timedelta | None:
        return {"live1": timedelta(seconds=10), "live2": timedelta(seconds=2)}.get(job_id)


def test_writer_floor_is_three_of_the_longest_checkpoint_interval() -> None:
    running, floor = writer_state(_Rest())
    assert running == ["live1", "live2", "batch1"]
    assert floor == timedelta(seconds=30)
