"""Runs KafkaLagExporterOperator once for tests/integration/test_lag_exporter.py.

The conf names the pipelines YAML and extra targets; the connections rtp_it_kafka and
rtp_it_influxdb come from the test's environment.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rtp.operators.lag_exporter import KafkaLagExporterOperator

with DAG(
    "rtp_it_lag_exporter",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
):
    KafkaLagExporterOperator(
        task_id="export",
        pipelines_file="{{ dag_run.conf['pipelines_file'] }}",
        targets="{{ dag_run.conf.get('targets', []) }}",
        kafka_config_id="rtp_it_kafka",
        influxdb_conn_id="rtp_it_influxdb",
    )
