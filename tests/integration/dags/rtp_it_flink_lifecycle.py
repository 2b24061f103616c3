"""Test DAGs: resume, rescale and diagnose Flink jobs by name; names and paths come from the run's conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.flink_resume import FlinkResumeJobOperator
from airflow_provider_rtp.operators.flink_scaling import FlinkDiagnoseJobOperator, FlinkRescaleOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
NAME = "{{ dag_run.conf['job_name'] }}"
JAR = {
    "jar": "{{ dag_run.conf['jar'] }}",
    "args": ["--name", NAME, "--rate", "20"],
    "flink_configuration": {"execution.checkpointing.interval": "2s"},
}
SQL = {
    "setup_sql": [
        "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
        "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    ],
    "insert_sql": "INSERT INTO sink SELECT id FROM gen",
    "session_properties": {"execution.checkpointing.interval": "2s"},
}

with DAG("rtp_it_flink_resume_jar", schedule=None, start_date=START):
    FlinkResumeJobOperator(
        task_id="resume", job_name=NAME, restore_path="{{ dag_run.conf.get('restore_path', '') }}", **JAR
    )

with DAG("rtp_it_flink_resume_sql", schedule=None, start_date=START):
    FlinkResumeJobOperator(task_id="resume", job_name=NAME, **SQL)

with DAG("rtp_it_flink_rescale_jar", schedule=None, start_date=START):
    FlinkRescaleOperator(task_id="rescale", job_name=NAME, parallelism=2, **JAR)

with DAG("rtp_it_flink_diagnose", schedule=None, start_date=START):
    FlinkDiagnoseJobOperator(task_id="diagnose", job_name=NAME)
