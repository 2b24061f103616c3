"""Test DAGs: lake maintenance; table, partitions and jar come from the run's conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.iceberg_compaction import IcebergCompactOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
COMPACT = {
    "table": "{{ dag_run.conf['table'] }}",
    "partitions": "{{ dag_run.conf.get('partitions', 'all') }}",
    "jar": "{{ dag_run.conf['jar'] }}",
    "poll_interval": 1.0,
}

# Native rendering: `partitions` may be a list in the conf.
with DAG("rtp_it_lake_compact", schedule=None, start_date=START, render_template_as_native_obj=True):
    IcebergCompactOperator(task_id="compact", **COMPACT)

with DAG("rtp_it_lake_compact_deferred", schedule=None, start_date=START, render_template_as_native_obj=True):
    IcebergCompactOperator(task_id="compact", deferrable=True, **COMPACT)
