"""Test DAGs: FlinkJobSensor (sync and deferred) and deferred job submission; names come from the conf."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator
from airflow_provider_rtp.sensors.flink import FlinkJobSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
NAME = "{{ dag_run.conf['job_name'] }}"
GEN = "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')"
SINK_BIGINT = "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')"
SINK_INT = "CREATE TEMPORARY TABLE sink (n INT) WITH ('connector' = 'blackhole')"
# Fails on its first record: 'x1' is no INT. Two restarts, then FAILED.
FAILING_INSERT = "INSERT INTO sink SELECT CAST(CONCAT('x', CAST(id AS STRING)) AS INT) FROM gen"
RESTART_TWICE = {
    "execution.checkpointing.interval": "60s",
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "2",
    "restart-strategy.fixed-delay.delay": "1 s",
}


def datagen_job(task_id: str, checkpoint_interval: str | None, **kwargs: Any) -> FlinkSqlJobOperator:
    """A SQL job that runs until cancelled: generated rows into a blackhole; no interval, no checkpoints."""
    return FlinkSqlJobOperator(
        task_id=task_id,
        job_name=NAME,
        setup_sql=[GEN, SINK_BIGINT],
        insert_sql="INSERT INTO sink SELECT id FROM gen",
        session_properties={"execution.checkpointing.interval": checkpoint_interval}
        if checkpoint_interval
        else {},
        **kwargs,
    )


for mode, deferrable in (("sync", False), ("deferred", True)):
    sense_checkpointed = {"job_name": NAME, "wait_for_checkpoint": True, "poke_interval": 2, "timeout": 120}

    # The sensor alone: by name from the conf (an unknown name must fail at once).
    with DAG(f"rtp_it_flink_sensor_{mode}", schedule=None, start_date=START):
        FlinkJobSensor(task_id="sense", deferrable=deferrable, **sense_checkpointed)

    # Submit without waiting, then let the sensor wait for RUNNING and the first checkpoint.
    with DAG(f"rtp_it_flink_submit_then_sense_{mode}", schedule=None, start_date=START):
        # No periodic checkpoint within the test: the test triggers the first one once the sensor
        # has looked (and, deferrable, handed the wait to its trigger), however busy the machine.
        submit = datagen_job("submit", "1h", wait_for="none")
        submit >> FlinkJobSensor(task_id="sense", deferrable=deferrable, **sense_checkpointed)

    # A job that fails at runtime: the sensor must fail with Flink's root cause, not wait. It waits
    # for a checkpoint too, which this job never completes: RUNNING alone may be seen between failures.
    with DAG(f"rtp_it_flink_failing_{mode}", schedule=None, start_date=START):
        submit = FlinkSqlJobOperator(
            task_id="submit",
            job_name=NAME,
            setup_sql=[GEN, SINK_INT],
            insert_sql=FAILING_INSERT,
            session_properties=RESTART_TWICE,
            wait_for="none",
        )
        submit >> FlinkJobSensor(
            task_id="sense",
            job_name=NAME,
            wait_for_checkpoint=True,
            poke_interval=1,
            timeout=120,
            deferrable=deferrable,
        )

    # Waiting for a checkpoint of a job that has checkpointing disabled fails at once.
    with DAG(f"rtp_it_flink_no_checkpointing_{mode}", schedule=None, start_date=START):
        submit = datagen_job("submit", None, wait_for="running")
        submit >> FlinkJobSensor(task_id="sense", deferrable=deferrable, **sense_checkpointed)

# The submit operators with their wait deferred to the trigger.
with DAG("rtp_it_flink_jar_deferred", schedule=None, start_date=START):
    FlinkJarJobOperator(
        task_id="jar_job",
        job_name=NAME,
        jar="{{ dag_run.conf['jar'] }}",
        args=["--name", NAME, "--rate", "20"],
        wait_for="checkpoint",
        flink_configuration={"execution.checkpointing.interval": "2s"},
        deferrable=True,
    )

with DAG("rtp_it_flink_sql_deferred", schedule=None, start_date=START):
    datagen_job("sql_job", "2s", wait_for="checkpoint", deferrable=True)
