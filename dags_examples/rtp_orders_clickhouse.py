"""Hourly into ClickHouse: the hour is complete in the lake → loaded into ClickHouse → reconciled.

``rtp_orders_to_clickhouse`` runs per hour (catchup, so backfills load past hours):

1. ``orders_hour_in_lake``: the completeness sensor; its result names the covering snapshot.
2. ``load_hour``: ``IcebergToClickHouseOperator`` replaces the hour in the ClickHouse table
   with the rows of that snapshot: staged per shard, swapped by partition, reconciled per
   shard. A retry or a re-run (e.g. after a late correction upstream) leaves one copy.
3. ``reconcile_hour``: ``ClickHouseReconcileOperator`` reads the hour again and checks every
   shard; run later on its own it tells whether the table still holds the lake's hour.

``clickhouse_tables`` creates the target on the stack's cluster if it is missing: a local
MergeTree table on every shard, partitioned by hour so that loading one hour swaps only it, and
a Distributed table over them sharded by ``cityHash64(id)``. ``updated_at`` is Int64 epoch
microseconds, the exact form on ClickHouse before DateTime64 (20.1); use DateTime64(6) on newer
servers. Params override the target and, for a test or a rerun of a smaller span, the window.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from airflow_provider_rtp.operators.clickhouse_load import (
    ClickHouseReconcileOperator,
    IcebergToClickHouseOperator,
)
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

PIPELINES = Path(__file__).resolve().parents[1] / "stack" / "pipelines.yaml"
COLUMNS = ["id", "customer_id", "amount", "status", "updated_at"]
DECIDED = "ti.xcom_pull(task_ids='orders_hour_in_lake')"

with DAG(
    "rtp_orders_to_clickhouse",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=True,
    max_active_runs=2,
    params={
        "clickhouse_table": Param("rtp.orders", type="string", description="database.table (Distributed)"),
        "cluster": Param("rtp_cluster", type="string"),
        "window_start": Param(None, type=["null", "string"], description="ISO time; default: the hour"),
        "window_end": Param(None, type=["null", "string"]),
    },
    tags=["rtp", "example", "clickhouse"],
):

    @task
    def clickhouse_tables(params: dict | None = None) -> str:
        """The target on every shard of the cluster, if missing (no ZooKeeper: no ON CLUSTER)."""
        from airflow_provider_rtp.clickhouse.sql import quote_identifier as q
        from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook

        assert params is not None
        database, table = params["clickhouse_table"].split(".", 1)
        local = f"{q(database)}.{q(table + '_local')}"
        hook = ClickHouseHook()
        columns = (
            "id Int64, customer_id Nullable(Int64), amount Nullable(Decimal(12, 2)), "
            "status Nullable(String), updated_at Int64"
        )
        for shard in hook.cluster(params["cluster"]).shards:
            for replica in shard.replicas:
                hook.execute(f"CREATE DATABASE IF NOT EXISTS {q(database)}", replica=replica)
                hook.execute(
                    f"CREATE TABLE IF NOT EXISTS {local} ({columns}) ENGINE = MergeTree "
                    "PARTITION BY intDiv(updated_at, 3600000000) ORDER BY id",
                    replica=replica,
                )
        hook.execute(f"CREATE DATABASE IF NOT EXISTS {q(database)}")
        hook.execute(
            f"CREATE TABLE IF NOT EXISTS {q(database)}.{q(table)} AS {local} ENGINE = Distributed("
            f"'{params['cluster']}', '{database}', '{table}_local', cityHash64(id))"
        )
        hook.close()
        return params["clickhouse_table"]

    hour_in_lake = IngestionCompleteSensor(
        task_id="orders_hour_in_lake",
        table="ods.orders",
        pipelines_file=str(PIPELINES),
        window_start="{{ params.window_start or data_interval_start }}",
        window_end="{{ params.window_end or data_interval_end }}",
        allowed_lateness=timedelta(minutes=2),
        poke_interval=30,
        timeout=timedelta(hours=6).total_seconds(),
        mode="reschedule",
    )
    # The decided window and its covering snapshot, exactly as the sensor answered.
    window = {
        "window_start": "{{ " + DECIDED + "['window']['start'] }}",
        "window_end": "{{ " + DECIDED + "['window']['end'] }}",
        "snapshot_id": "{{ " + DECIDED + "['snapshot_id'] }}",
    }
    load_hour = IcebergToClickHouseOperator(
        task_id="load_hour",
        table="ods.orders",
        clickhouse_table="{{ params.clickhouse_table }}",
        time_column="updated_at",
        columns=COLUMNS,
        write_path="local_shards",
        **window,
    )
    reconcile_hour = ClickHouseReconcileOperator(
        task_id="reconcile_hour",
        table="ods.orders",
        clickhouse_table="{{ params.clickhouse_table }}",
        time_column="updated_at",
        columns=COLUMNS,
        **window,
    )
    [clickhouse_tables(), hour_in_lake] >> load_hour >> reconcile_hour
