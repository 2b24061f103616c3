"""OpenLineage datasets: named per the naming spec in one place, on every operator that moves data,
never carrying a secret of the connections they come from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.lineage import (
    LineageDataset,
    declared_pipeline,
    kafka_namespace,
    pipeline_lineage,
)
from airflow_provider_rtp.operators.clickhouse_load import (
    ClickHouseReconcileOperator,
    IcebergToClickHouseOperator,
)
from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator
from airflow_provider_rtp.operators.iceberg_compaction import IcebergCompactOperator
from airflow_provider_rtp.operators.iceberg_maintenance import (
    IcebergDeleteOrphanFilesOperator,
    IcebergExpireSnapshotsOperator,
    IcebergTablePropertiesOperator,
)
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

SECRET = "pw-4d9a-never-shown"
KAFKA = "kafka://broker1.example:9093"
ICEBERG = "iceberg://warehouse_a"
CLICKHOUSE = "clickhouse://ch1.example:9440"
ORDERS = Pipeline("ods.orders", ("shop.orders", "shop.refunds"), "g", "ods-orders-ingest")
TO_CLICKHOUSE = Pipeline(
    "shop.orders_ch",
    ("shop.orders",),
    "g2",
    "orders-clickhouse",
    sink="clickhouse",
    clickhouse_table="shop.orders",
)


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    conns = {
        "kafka_lin": {
            "conn_type": "kafka",
            "extra": {
                "bootstrap.servers": "SASL_SSL://broker1.example:9093,broker2.example:9093",
                "sasl.username": "svc",
                "sasl.password": SECRET,
            },
        },
        "iceberg_lin": {
            "conn_type": "iceberg",
            "host": "pg.example",
            "port": 5432,
            "login": "catalog",
            "password": SECRET,
            "schema": "iceberg_catalog",
            "extra": {"catalog_type": "sql", "catalog_name": "warehouse_a"},
        },
        "clickhouse_lin": {
            "conn_type": "clickhouse",
            "host": "ch1.example",
            "port": 8443,
            "login": "loader",
            "password": SECRET,
            "extra": {"native_port": 9440, "secure": True},
        },
    }
    for conn_id, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    pipelines = tmp_path / "pipelines.yaml"
    pipelines.write_text(
        "pipelines:\n  ods.orders:\n    topics: [shop.orders, shop.refunds]\n    group: g\n"
        "    ingestion_job: ods-orders-ingest\n"
    )
    monkeypatch.setenv("AIRFLOW__RTP__PIPELINES_FILE", str(pipelines))


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def assert_no_secret(lineage: Any) -> None:
    assert SECRET not in repr(lineage) and "svc" not in json.dumps(names(lineage.inputs + lineage.outputs))


@pytest.mark.parametrize(
    ("servers", "namespace"),
    [
        ("broker:9092", "kafka://broker:9092"),
        (" PLAINTEXT://a:1, b:2", "kafka://a:1"),
        ("SASL_SSL://b.example:9093", "kafka://b.example:9093"),
    ],
)
def test_kafka_namespace_is_the_first_bootstrap_server(servers: str, namespace: str) -> None:
    assert kafka_namespace(servers) == namespace


def test_kafka_namespace_without_a_server_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="bootstrap server"):
        kafka_namespace(" , ")


def test_a_pipeline_reads_its_topics_and_writes_its_table() -> None:
    inputs, outputs = pipeline_lineage(ORDERS, kafka_conn_id="kafka_lin", iceberg_conn_id="iceberg_lin")
    assert inputs == [LineageDataset(KAFKA, "shop.orders"), LineageDataset(KAFKA, "shop.refunds")]
    assert outputs == [LineageDataset(ICEBERG, "ods.orders")]
    _, outputs = pipeline_lineage(
        TO_CLICKHOUSE, kafka_conn_id="kafka_lin", clickhouse_conn_id="clickhouse_lin"
    )
    assert outputs == [LineageDataset(CLICKHOUSE, "shop.orders")]


def test_sensor_names_the_topics_in_and_the_table_out() -> None:
    sensor = IngestionCompleteSensor(
        task_id="t",
        table="ods.orders",
        pipeline=ORDERS,
        kafka_conn_id="kafka_lin",
        iceberg_conn_id="iceberg_lin",
    )
    lineage = sensor.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [(KAFKA, "shop.orders"), (KAFKA, "shop.refunds")]
    assert names(lineage.outputs) == [(ICEBERG, "ods.orders")]
    assert_no_secret(lineage)


def test_load_reads_the_lake_table_and_writes_the_clickhouse_one_reconcile_only_reads() -> None:
    args = {
        "table": "ods.orders",
        "clickhouse_table": "shop.orders_hourly",
        "time_column": "updated_at",
        "iceberg_conn_id": "iceberg_lin",
        "clickhouse_conn_id": "clickhouse_lin",
    }
    load = IcebergToClickHouseOperator(task_id="load", **args).get_openlineage_facets_on_complete(None)
    assert names(load.inputs) == [(ICEBERG, "ods.orders")]
    assert names(load.outputs) == [(CLICKHOUSE, "shop.orders_hourly")]
    assert_no_secret(load)
    audit = ClickHouseReconcileOperator(task_id="audit", **args).get_openlineage_facets_on_complete(None)
    assert names(audit.inputs) == [(ICEBERG, "ods.orders"), (CLICKHOUSE, "shop.orders_hourly")]
    assert audit.outputs == []


@pytest.mark.parametrize(
    "operator",
    [
        IcebergExpireSnapshotsOperator(task_id="e", table="ods.orders", iceberg_conn_id="iceberg_lin"),
        IcebergDeleteOrphanFilesOperator(task_id="o", table="ods.orders", iceberg_conn_id="iceberg_lin"),
        IcebergTablePropertiesOperator(task_id="p", table="ods.orders", iceberg_conn_id="iceberg_lin"),
        IcebergCompactOperator(task_id="c", table="ods.orders", iceberg_conn_id="iceberg_lin"),
    ],
    ids=lambda op: type(op).__name__,
)
def test_maintenance_reads_and_rewrites_its_table(operator: Any) -> None:
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == names(lineage.outputs) == [(ICEBERG, "ods.orders")]
    assert_no_secret(lineage)


def test_a_declared_ingestion_job_has_its_pipelines_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_DEFAULT",
        json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "k:1"}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICEBERG_DEFAULT",
        json.dumps({"conn_type": "iceberg", "extra": {"catalog_name": "lake"}}),
    )
    assert declared_pipeline("ods-orders-ingest") is not None
    assert declared_pipeline("not-declared") is None
    sql = FlinkSqlJobOperator(task_id="s", job_name="ods-orders-ingest", insert_sql="INSERT INTO t SELECT 1")
    lineage = sql.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("kafka://k:1", "shop.orders"), ("kafka://k:1", "shop.refunds")]
    assert names(lineage.outputs) == [("iceberg://lake", "ods.orders")]
    jar = FlinkJarJobOperator(task_id="j", job_name="ad-hoc", jar="/x.jar")
    unknown = jar.get_openlineage_facets_on_complete(None)
    assert unknown.inputs == [] and unknown.outputs == []
