"""IcebergHealthReportOperator rejects bad arguments when the DAG is parsed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.health import HealthThresholds, OrphanSummary
from airflow_provider_rtp.operators.iceberg_health import IcebergHealthReportOperator


def test_thresholds_as_a_dict_are_checked_at_parse_time() -> None:
    op = IcebergHealthReportOperator(task_id="h", table="ods.orders", thresholds={"min_quiet": 1800})
    assert op.thresholds == HealthThresholds(min_quiet=timedelta(minutes=30))
    with pytest.raises(InvalidInputError, match="unknown thresholds"):
        IcebergHealthReportOperator(task_id="h", table="ods.orders", thresholds={"max_files": 1})


def test_counting_useless_deletes_can_be_switched_off() -> None:
    assert IcebergHealthReportOperator(task_id="h", table="t.t").useless_budget is not None
    assert (
        IcebergHealthReportOperator(task_id="h", table="t.t", count_useless_deletes=False).useless_budget
        is None
    )


def test_small_file_bytes_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="small_file_bytes"):
        IcebergHealthReportOperator(task_id="h", table="ods.orders", small_file_bytes=0)


def test_rendered_orphans_and_snapshot_id_are_checked() -> None:
    op = IcebergHealthReportOperator(task_id="h", table="ods.orders", orphans={"files": 2, "bytes": 10})
    assert op._orphans() == OrphanSummary(2, 10)
    op.orphans = {"orphan_count": 3, "total_bytes": 30, "dry_run": True, "orphans": ["a", "b", "c"]}
    assert op._orphans() == OrphanSummary(3, 30)
    op.orphans = {"count": 2}
    with pytest.raises(InvalidInputError, match="orphans must be"):
        op._orphans()
    op.snapshot_id = "123"
    assert op._snapshot_id() == 123
    op.snapshot_id = "latest"
    with pytest.raises(InvalidInputError, match="snapshot_id must be an integer"):
        op._snapshot_id()


def test_a_malformed_table_fails_the_parse_and_a_template_waits_for_the_run() -> None:
    with pytest.raises(InvalidInputError, match="namespace"):
        IcebergHealthReportOperator(task_id="h", table="ods..orders")
    assert IcebergHealthReportOperator(task_id="h", table="{{ params.table }}").table == "{{ params.table }}"
