"""Hourly batch on the lake, started exactly when an hour is in: three ways to wire it.

1. ``rtp_orders_hourly``: a scheduled DAG whose first task is the completeness sensor
   for the run's hour (reschedule mode: no worker slot is held between pokes); the
   batch task reads the hour as of the covering snapshot from XCom
   (``IcebergHook.read_window``). Past hours: ``airflow backfill create``. A manual
   run may ask about any window with the params ``window_start``/``window_end``.
   ``rtp_orders_hourly_deferrable`` is the same DAG with the sensor waiting in the
   triggerer.
2. ``rtp_orders_daily_rollup``: runs per day once all of that day's hours were
   announced; the sensor's asset events carry the hour as ``partition_key`` and
   ``StartOfDayMapper`` maps them onto the day.
3. ``lake.ods.orders.events``: an asset fired by the event-driven trigger, with no
   sensor task at all; ``rtp_orders_on_event`` runs once per completed hour. Its first
   hour: ``RTP_ORDERS_EVENTS_START`` in the DAG processor's environment (ISO, UTC;
   default 2026-11-01T00:00:00Z), e.g. a few hours back on a new deployment.

Overdue hours, two ways: the sensor's ``deadline`` (an hour not complete 30 minutes after
its end: ``on_deadline_missed`` is called once, with the report saying what blocks it), and
Airflow's own deadline alert on the DAG run (run not finished 45 minutes after the hour's end,
whatever the reason, e.g. the batch task itself running late).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import (
    DAG,
    Asset,
    AssetWatcher,
    CronDataIntervalTimetable,
    Param,
    PartitionedAssetTimetable,
    StartOfDayMapper,
    task,
)
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from airflow_provider_rtp.assets import table_asset
from airflow_provider_rtp.completeness import Policy, load_pipelines
from airflow_provider_rtp.evaluation import CompletenessCheck
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor
from airflow_provider_rtp.triggers.ingestion import IngestionCompleteEventTrigger

PIPELINES = Path(__file__).resolve().parents[1] / "stack" / "pipelines.yaml"
ORDERS = table_asset("ods.orders")
START = pendulum.datetime(2026, 11, 1, tz="UTC")
# Changes stamped before a window's end plus this belong to it.
ALLOWED_LATENESS = timedelta(seconds=10)

# A manual run names its window; a scheduled or backfill run leaves them empty: its data interval.
WINDOW_PARAMS = {
    "window_start": Param(
        None, type=["null", "string"], format="date-time", description="Window start (ISO, with zone)"
    ),
    "window_end": Param(
        None, type=["null", "string"], format="date-time", description="Window end (ISO, with zone)"
    ),
}


def hour_overdue(context) -> None:
    """The sensor's alert route: swap in a notifier (Slack, PagerDuty, …); it takes the context too."""
    overdue = context["rtp_deadline"]
    logging.getLogger(__name__).error(
        "orders hour overdue by %ss:\n%s", overdue["missed_by_seconds"], overdue["report"]
    )


def run_overdue(context=None, **kwargs) -> None:
    """Airflow's deadline alert route for the whole run."""
    logging.getLogger(__name__).error("rtp_orders_hourly run not finished by its deadline: %s", kwargs)


for dag_id, deferrable in (("rtp_orders_hourly", False), ("rtp_orders_hourly_deferrable", True)):
    with DAG(
        dag_id,
        # A data-interval timetable: the run for 10:00 covers [10:00, 11:00). No catchup: unpaused,
        # it runs the last closed hour, then each new one; earlier hours: `airflow backfill create`.
        schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=4,
        params=WINDOW_PARAMS,
        tags=["rtp", "example"],
        # The run's logical date is its hour's start: end of the hour + 45 minutes.
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
            interval=timedelta(hours=1, minutes=45),
            callback=SyncCallback(run_overdue),
        ),
    ):
        hour_in_lake = IngestionCompleteSensor(
            task_id="orders_hour_in_lake",
            table="ods.orders",
            pipelines_file=str(PIPELINES),
            window_start="{{ params.window_start or '' }}",
            window_end="{{ params.window_end or '' }}",
            allowed_lateness=ALLOWED_LATENESS,
            poke_interval=30,
            timeout=timedelta(hours=6).total_seconds(),
            mode="reschedule",
            deferrable=deferrable,
            deadline=timedelta(minutes=30),
            on_deadline_missed=hour_overdue,
        )

        @task
        def hourly_batch(decision: dict) -> dict:
            """The hour's orders as of the covering snapshot, never a later one (deletes applied)."""
            from datetime import datetime

            import pyarrow.compute as pc

            from airflow_provider_rtp.hooks.iceberg import IcebergHook

            window = decision["window"]
            reader = IcebergHook().read_window(
                "ods.orders",
                snapshot_id=decision["snapshot_id"],
                window=(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])),
                time_column="updated_at",
                columns=["id", "amount", "status"],
            )
            orders, amount = 0, 0.0
            for batch in reader:  # streamed: memory stays bounded whatever the hour's size
                orders += batch.num_rows
                amount += float(pc.sum(batch.column("amount")).as_py() or 0)
            # The same read in Flink SQL: SELECT ... FROM lake.ods.orders FOR VERSION AS OF <snapshot_id>.
            snapshot_id = decision["snapshot_id"]
            return {"window": window, "snapshot_id": snapshot_id, "orders": orders, "amount": amount}

        hourly_batch(hour_in_lake.output)

with DAG(
    "rtp_orders_daily_rollup",
    schedule=PartitionedAssetTimetable(assets=ORDERS, default_partition_mapper=StartOfDayMapper()),
    start_date=START,
    tags=["rtp", "example"],
):

    @task
    def daily_rollup(**context) -> str:
        return f"roll up day {context['dag_run'].partition_key}"

    daily_rollup()

ORDERS_EVENTS = Asset(
    name="lake.ods.orders.events",
    # Its own URI: Airflow drops a URI's #fragment, and two assets may not share one.
    uri="iceberg://lake/ods/orders?events=hours",
    watchers=[
        AssetWatcher(
            name="orders_hours",
            trigger=IngestionCompleteEventTrigger(
                check=CompletenessCheck(
                    load_pipelines(PIPELINES)["ods.orders"], Policy(allowed_lateness=ALLOWED_LATENESS)
                ).to_dict(),
                start=os.environ.get("RTP_ORDERS_EVENTS_START", "2026-11-01T00:00:00Z"),
                every=3600,
                poke_interval=60,
            ),
        )
    ],
)

with DAG("rtp_orders_on_event", schedule=[ORDERS_EVENTS], start_date=START, tags=["rtp", "example"]):

    @task
    def on_completed_hour(**context) -> None:
        for event in context["triggering_asset_events"][ORDERS_EVENTS]:
            payload = event.extra.get("payload", {})
            print(
                f"hour {payload.get('partition_key')} is in the lake: snapshot {payload.get('snapshot_id')}"
            )

    on_completed_hour()
