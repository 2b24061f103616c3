"""Test DAGs: each submits bad input and must fail its task with Flink's message and a summary."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
NAME = "{{ dag_run.conf['job_name'] }}"
JAR = "{{ dag_run.conf['jar'] }}"

with DAG("rtp_it_flink_bad_missing_jar", schedule=None, start_date=START):
    FlinkJarJobOperator(task_id="submit", job_name=NAME, jar=JAR, wait_for="none")

with DAG("rtp_it_flink_bad_entry_class", schedule=None, start_date=START):
    FlinkJarJobOperator(
        task_id="submit", job_name=NAME, jar=JAR, entry_class="com.example.NoSuchMain", wait_for="none"
    )

with DAG("rtp_it_flink_bad_sql", schedule=None, start_date=START):
    FlinkSqlJobOperator(
        task_id="submit",
        job_name=NAME,
        setup_sql=["CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')"],
        insert_sql="INSERT INTO sink SELEC 1",
        wait_for="none",
    )

# The connection exists only in the environment of the run that needs it (AIRFLOW_CONN_RTP_UNREACHABLE).
with DAG("rtp_it_flink_bad_unreachable", schedule=None, start_date=START):
    FlinkJarJobOperator(
        task_id="submit", job_name=NAME, jar=JAR, rtp_conn_id="rtp_unreachable", wait_for="none"
    )
