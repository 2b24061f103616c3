"""Test DAGs: hour tags set by the completeness sensor and an expiry that keeps decided snapshots.

They watch the private pipeline of tests/integration/test_lake_expiry.py (fixed names, tag
``itlakeexp``); windows come from the run's conf (``start``/``end``, ISO).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.iceberg_maintenance import IcebergExpireSnapshotsOperator
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
NAME = "itlakeexp"
TABLE = f"it.orders_{NAME}"
TAG_PATTERN = "complete-{start:%Y%m%dT%H%M%S}"

for mode in ("poke", "deferrable"):
    with DAG(f"rtp_it_lake_tag_{mode}", schedule=None, start_date=START, max_active_runs=1):
        IngestionCompleteSensor(
            task_id="complete",
            table=TABLE,
            topics=[f"{NAME}.orders"],
            group=f"{NAME}-ods-orders",
            ingestion_job=f"{NAME}-ingest",
            cdc_job=f"{NAME}-cdc",
            heartbeat_topic=f"{NAME}.heartbeat",
            window_start="{{ dag_run.conf['start'] }}",
            window_end="{{ dag_run.conf['end'] }}",
            idle_timeout=timedelta(seconds=30),
            poke_interval=3,
            timeout=300,
            deferrable=mode == "deferrable",
            tag_pattern=TAG_PATTERN,
            tag_max_age=timedelta(days=1),
        )

with DAG("rtp_it_lake_expire", schedule=None, start_date=START, max_active_runs=1):
    IcebergExpireSnapshotsOperator(task_id="expire", table=TABLE, older_than=0, retain_last=1)
