"""Consumer-group lag and CDC watermarks of every declared pipeline, into InfluxDB, every minute.

``KafkaLagExporterOperator`` measures each pipeline of the pipelines YAML (per partition, the
slowest partition, the CDC heartbeat watermark) and writes the points to the InfluxDB shard
owning that pipeline (connection ``rtp_influxdb_default``; schema: docs/monitoring.md). A run
may name another YAML or only some pipelines through its params.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, conf

from airflow_provider_rtp.operators.lag_exporter import KafkaLagExporterOperator

PIPELINES = str(
    conf.get("rtp", "pipelines_file", fallback=None)
    or Path(__file__).resolve().parents[1] / "stack" / "pipelines.yaml"
)

with DAG(
    "rtp_kafka_lag",
    schedule=timedelta(minutes=1),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    params={
        "pipelines_file": Param(PIPELINES, type="string", description="The pipelines YAML"),
        "pipelines": Param([], type="array", description="Only these pipelines (default: all)"),
    },
    tags=["rtp", "example", "monitoring"],
):
    KafkaLagExporterOperator(
        task_id="export_lag",
        pipelines_file="{{ params.pipelines_file }}",
        pipelines="{{ params.pipelines }}",
        # One measurement per run; a DAG running less often could take several (rounds, interval).
        rounds=1,
        execution_timeout=timedelta(minutes=1),
    )
