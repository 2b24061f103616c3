"""The completeness sensor on a pipeline whose sink is ClickHouse."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

PIPELINE = Pipeline(
    "ch.orders", ("shop.orders",), "g", "orders-clickhouse", sink="clickhouse", clickhouse_table="shop.orders"
)


def test_the_check_reads_the_clickhouse_connection_not_the_catalog() -> None:
    sensor = IngestionCompleteSensor(
        task_id="t", table="ch.orders", pipeline=PIPELINE, clickhouse_conn_id="ch", deferrable=False
    )
    check = sensor._check()
    assert check.conn_ids == ("rtp_default", "kafka_default", "ch")
    assert check.to_dict()["pipeline"]["sink"] == "clickhouse"


def test_a_tag_pattern_has_no_snapshot_to_tag() -> None:
    sensor = IngestionCompleteSensor(
        task_id="t", table="ch.orders", pipeline=PIPELINE, tag_pattern="complete-{start:%H}", deferrable=False
    )
    with pytest.raises(
        InvalidInputError, match=r"sink clickhouse \(shop.orders\) has none; drop tag_pattern"
    ):
        sensor._check()
