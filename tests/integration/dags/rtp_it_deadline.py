"""Test DAGs: the completeness sensor's deadline on the reference pipeline, poke and deferrable.

The window, the deadline (seconds after the window end) and the file the alert callback
appends to come from the run's conf, so a test can count the alerts.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PIPELINES = Path(__file__).resolve().parents[3] / "stack" / "pipelines.yaml"


def record_alert(context: Any) -> None:
    """Appends the alert, one JSON line, to the file the run's conf names."""
    with Path(context["dag_run"].conf["alerts"]).open("a") as out:
        out.write(json.dumps(context["rtp_deadline"]) + "\n")


def build(dag_id: str, deadline: float, deferrable: bool) -> None:
    with DAG(dag_id, schedule=None, start_date=START, max_active_runs=4):
        IngestionCompleteSensor(
            task_id="ods_orders_complete",
            table="ods.orders",
            pipelines_file=str(PIPELINES),
            window_start="{{ dag_run.conf['start'] }}",
            window_end="{{ dag_run.conf['end'] }}",
            idle_timeout=timedelta(seconds=30),
            deadline=deadline,
            on_deadline_missed=record_alert,
            poke_interval=3,
            timeout=600,
            deferrable=deferrable,
        )


# The deadline is the window end: the sensor waits at least the clock-skew margin past it.
build("rtp_it_deadline_missed_poke", 0, deferrable=False)
build("rtp_it_deadline_missed_deferrable", 0, deferrable=True)
# Ten minutes after the end: a window of a running pipeline completes long before.
build("rtp_it_deadline_kept", 600, deferrable=False)
