"""Runs IcebergHealthReportOperator for tests/integration/test_lake_health.py.

The conf names the table and, optionally, the snapshot; the connections iceberg_default
(./dev) and rtp_it_influxdb (the test's environment) name the catalog and the shards.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_rtp.operators.iceberg_health import IcebergHealthReportOperator

with DAG(
    "rtp_it_lake_health",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    render_template_as_native_obj=True,
):
    IcebergHealthReportOperator(
        task_id="health",
        table="{{ dag_run.conf['table'] }}",
        snapshot_id="{{ dag_run.conf.get('snapshot_id') }}",
        orphans="{{ dag_run.conf.get('orphans') }}",
        influxdb_conn_id="rtp_it_influxdb",
        thresholds={"max_small_files": 5},
    )
