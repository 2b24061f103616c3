"""Test DAGs: submit Flink jobs through the operators; names and paths come from the run's conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator
from airflow_provider_rtp.operators.flink_lifecycle import (
    FlinkCancelJobOperator,
    FlinkSavepointOperator,
    FlinkStopJobOperator,
)
from airflow_provider_rtp.operators.flink_scaling import FlinkRescaleOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")

for mode in ("skip", "upgrade"):
    with DAG(f"rtp_it_flink_jar_{mode}", schedule=None, start_date=START):
        FlinkJarJobOperator(
            task_id="jar_job",
            job_name="{{ dag_run.conf['job_name'] }}",
            jar="{{ dag_run.conf['jar'] }}",
            args=["--name", "{{ dag_run.conf['job_name'] }}", "--rate", "20"],
            if_running=mode,
            wait_for="checkpoint",
            flink_configuration={"execution.checkpointing.interval": "2s"},
        )

SQL_JOB = {
    "job_name": "{{ dag_run.conf['job_name'] }}",
    "setup_sql": [
        "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
        "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    ],
    "insert_sql": "INSERT INTO sink SELECT id FROM gen",
    "session_properties": {"execution.checkpointing.interval": "2s"},
}

with DAG("rtp_it_flink_sql", schedule=None, start_date=START):
    FlinkSqlJobOperator(task_id="sql_job", wait_for="checkpoint", **SQL_JOB)

# One SQL job through its whole life: each step stops the previous job with a savepoint, which
# needs every task running, hence the wait for a checkpoint.
with DAG("rtp_it_flink_sql_upgrade_rescale_cancel", schedule=None, start_date=START):
    submit = FlinkSqlJobOperator(task_id="submit", wait_for="checkpoint", **SQL_JOB)
    upgrade = FlinkSqlJobOperator(task_id="upgrade", if_running="upgrade", wait_for="checkpoint", **SQL_JOB)
    rescale = FlinkRescaleOperator(task_id="rescale", parallelism=2, **SQL_JOB)
    cancel = FlinkCancelJobOperator(task_id="cancel", job_name=SQL_JOB["job_name"])
    submit >> upgrade >> rescale >> cancel

# RUNNING for about four seconds, then FAILED: row 21's text is no INT, and nothing restarts it.
# The operator waits for a checkpoint the job never completes (one an hour), so it is still
# waiting, synchronously, when the job fails.
with DAG("rtp_it_flink_sql_fails_while_waited_for", schedule=None, start_date=START):
    FlinkSqlJobOperator(
        task_id="sql_job",
        job_name="{{ dag_run.conf['job_name'] }}",
        setup_sql=[
            "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5', "
            "'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000000')",
            "CREATE TEMPORARY TABLE sink (n INT) WITH ('connector' = 'blackhole')",
        ],
        insert_sql="INSERT INTO sink SELECT CAST(IF(id > 20, CONCAT('x', CAST(id AS STRING)), "
        "CAST(id AS STRING)) AS INT) FROM gen",
        session_properties={"execution.checkpointing.interval": "1h", "restart-strategy.type": "none"},
        wait_for="checkpoint",
        poll_interval=2,
        deferrable=False,
    )

with DAG("rtp_it_flink_savepoint", schedule=None, start_date=START):
    FlinkSavepointOperator(task_id="savepoint", job_name="{{ dag_run.conf['job_name'] }}")

with DAG("rtp_it_flink_stop", schedule=None, start_date=START):
    FlinkStopJobOperator(task_id="stop", job_name="{{ dag_run.conf['job_name'] }}", drain=True)

with DAG("rtp_it_flink_cancel", schedule=None, start_date=START):
    FlinkCancelJobOperator(task_id="cancel", job_name="{{ dag_run.conf['job_name'] }}")
