"""A Flink job's life, by name, from Airflow: submit, wait, savepoint, stop, resume, rescale,
diagnose, cancel.

``rtp_flink_job_lifecycle`` walks a small SQL job (datagen -> blackhole, so it needs no data
and writes nothing) through every lifecycle operator; each task finds the job by its name,
so the DAG holds no job ids. The last task cancels the job whatever happened before it
(``trigger_rule="all_done"``), so a run leaves the cluster as it found it.

``rtp_flink_jar_job`` does the same for a JAR job (the stack's smoke job; its path is the
run's ``jar`` param): submit, wait for its first checkpoint, cancel.

Resume and rescale submit the job again, so they take its definition (``insert_sql`` +
``setup_sql``, or ``jar`` + ``args``) as the submit operator does: both are
``FlinkJobDefinitionOperator``s.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator
from airflow_provider_rtp.operators.flink_lifecycle import (
    FlinkCancelJobOperator,
    FlinkSavepointOperator,
    FlinkStopJobOperator,
)
from airflow_provider_rtp.operators.flink_resume import FlinkResumeJobOperator
from airflow_provider_rtp.operators.flink_scaling import FlinkDiagnoseJobOperator, FlinkRescaleOperator
from airflow_provider_rtp.sensors.flink import FlinkJobSensor

START = pendulum.datetime(2026, 11, 1, tz="UTC")
JOB = "{{ params.job_name }}"
# The job's definition, shared by the submit, resume and rescale tasks.
SQL_JOB = {
    "setup_sql": [
        "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
        "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    ],
    "insert_sql": "INSERT INTO sink SELECT id FROM gen",
    "session_properties": {"execution.checkpointing.interval": "2s"},
}

with DAG(
    "rtp_flink_job_lifecycle",
    schedule=None,
    start_date=START,
    params={"job_name": Param("rtp-example-lifecycle", type="string", description="The job's name")},
    tags=["rtp", "example", "flink"],
):
    submit = FlinkSqlJobOperator(task_id="submit", job_name=JOB, wait_for="running", **SQL_JOB)
    # Waits for the first completed checkpoint too: from then on the job has state to keep.
    checkpointed = FlinkJobSensor(
        task_id="checkpointed", job_name=JOB, wait_for_checkpoint=True, poke_interval=2
    )
    savepoint = FlinkSavepointOperator(task_id="savepoint", job_name=JOB)
    stop = FlinkStopJobOperator(task_id="stop_with_savepoint", job_name=JOB)
    # From the stop's final savepoint (found by name without restore_path, while Flink remembers it).
    resume = FlinkResumeJobOperator(
        task_id="resume",
        job_name=JOB,
        restore_path="{{ ti.xcom_pull(task_ids='stop_with_savepoint')['savepoint'] }}",
        **SQL_JOB,
    )
    rescale = FlinkRescaleOperator(task_id="rescale", job_name=JOB, parallelism=2, **SQL_JOB)
    diagnose = FlinkDiagnoseJobOperator(task_id="diagnose", job_name=JOB)
    cancel = FlinkCancelJobOperator(task_id="cancel", job_name=JOB, missing_ok=True, trigger_rule="all_done")
    submit >> checkpointed >> savepoint >> stop >> resume >> rescale >> diagnose >> cancel

with DAG(
    "rtp_flink_jar_job",
    schedule=None,
    start_date=START,
    params={
        "job_name": Param("rtp-example-jar", type="string", description="The job's name"),
        # e.g. the stack's smoke job, built from stack/jobs/smoke into $RTP_STATE/jobs.
        "jar": Param("/path/to/job.jar", type="string", description="Local path of the job's jar"),
    },
    tags=["rtp", "example", "flink"],
):
    submit_jar = FlinkJarJobOperator(
        task_id="submit",
        job_name=JOB,
        jar="{{ params.jar }}",
        args=["--name", JOB, "--rate", "20"],
        flink_configuration={"execution.checkpointing.interval": "2s"},
        wait_for="checkpoint",
    )
    running = FlinkJobSensor(task_id="running", job_name=JOB, poke_interval=2)
    done = FlinkCancelJobOperator(task_id="cancel", job_name=JOB, missing_ok=True, trigger_rule="all_done")
    submit_jar >> running >> done
