"""Test DAGs: the completeness sensor on the reference pipeline, one DAG per mode.

The window comes from the run's conf (``start``/``end``, ISO), so a test asks about
any window, past or present, without waiting for a schedule.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PIPELINES = Path(__file__).resolve().parents[3] / "stack" / "pipelines.yaml"

for mode in ("poke", "reschedule", "deferrable"):
    with DAG(f"rtp_it_complete_{mode}", schedule=None, start_date=START, max_active_runs=1):
        IngestionCompleteSensor(
            task_id="ods_orders_complete",
            table="ods.orders",
            pipelines_file=str(PIPELINES),
            window_start="{{ dag_run.conf['start'] }}",
            window_end="{{ dag_run.conf['end'] }}",
            idle_timeout=timedelta(seconds=30),
            poke_interval=3,
            timeout=600,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
        )

# Spelled-out pipeline with names from the conf: bad input must fail the task, naming it.
with DAG("rtp_it_complete_named", schedule=None, start_date=START):
    IngestionCompleteSensor(
        task_id="named_complete",
        table="{{ dag_run.conf.get('table', 'ods.orders') }}",
        topics=["{{ dag_run.conf.get('topic', 'shop.orders') }}"],
        group="{{ dag_run.conf.get('group', 'rtp-ods-orders') }}",
        ingestion_job="{{ dag_run.conf.get('job', 'ods-orders-ingest') }}",
        window_start="{{ dag_run.conf['start'] }}",
        window_end="{{ dag_run.conf['end'] }}",
        poke_interval=3,
        timeout=120,
    )

# Catchup over past minutes: each run's data interval is its window.
with DAG(
    "rtp_it_complete_catchup",
    schedule=CronDataIntervalTimetable("* * * * *", timezone="UTC"),
    start_date=START,
    catchup=True,
):
    IngestionCompleteSensor(
        task_id="minute_in_lake",
        table="ods.orders",
        pipelines_file=str(PIPELINES),
        idle_timeout=timedelta(seconds=30),
        poke_interval=3,
        timeout=300,
    )
