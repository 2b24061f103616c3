"""Test DAG for the freshness page: the completeness sensor on lake.ods.orders, its window and
pipelines file from the run's conf, so a test makes one window complete and another fail."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

with DAG(
    "rtp_it_freshness", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), max_active_runs=1
):
    IngestionCompleteSensor(
        task_id="ods_orders_in_lake",
        table="ods.orders",
        pipelines_file="{{ dag_run.conf['pipelines'] }}",
        window_start="{{ dag_run.conf['start'] }}",
        window_end="{{ dag_run.conf['end'] }}",
        idle_timeout=timedelta(seconds=30),
        poke_interval=3,
        timeout=300,
        retries=0,
    )
