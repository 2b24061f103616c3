"""The example DAGs import cleanly with the provider installed: what a user copies must parse."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
EXPECTED = {
    "rtp_orders_hourly",
    "rtp_orders_hourly_deferrable",
    "rtp_orders_daily_rollup",
    "rtp_orders_on_event",
    "rtp_lake_maintenance",
    "rtp_reference_pipeline",
    "rtp_orders_to_clickhouse",
    "rtp_flink_job_lifecycle",
    "rtp_flink_jar_job",
    "rtp_kafka_lag",
    "rtp_lake_table_properties",
}


def test_example_dags_parse_without_errors() -> None:
    dagbag_module = pytest.importorskip("airflow.dag_processing.dagbag")
    bag = dagbag_module.DagBag(dag_folder=str(EXAMPLES))
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dag_ids) >= EXPECTED, sorted(bag.dag_ids)
