"""The stack's Flink session cluster runs a JAR job and a SQL job that complete checkpoints."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from tests.stack import sql_gateway_url, stack_env


@pytest.fixture
def gateway() -> Iterator[SqlGatewayClient]:
    client = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    yield client
    client.close()


def cancel_by_name(rest: FlinkRestClient, name: str) -> None:
    """Cancel the RUNNING job called ``name``, if any, and wait until it is."""
    job = rest.find_running_job(name)
    if job is not None:
        rest.cancel(job.job_id)
        rest.wait_for_state(job.job_id, [JobState.CANCELED], timeout=60)


@functools.cache
def smoke_jar() -> Path:
    """The smoke job's jar, under a name of this test process's own.

    Uploads are found again by name and checksum: tests running side by side in other
    processes neither reuse this process's upload nor delete it under its feet.
    """
    for root in (stack_env()["RTP_STATE"], stack_env()["RTP_CACHE"]):
        found = sorted(Path(root, "jobs").glob("*smoke*.jar"))
        if found:
            own = Path(stack_env()["RTP_STATE"], "data", "it-jars", f"smoke-{os.getpid()}.jar")
            own.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found[-1], own)
            return own
    raise AssertionError("smoke job jar not built: run stack/rtp-stack pipeline up")


def test_cluster_has_eight_slots_and_a_gateway(rest: FlinkRestClient, gateway: SqlGatewayClient) -> None:
    overview = rest.overview()
    assert overview["flink-version"].startswith("1.20")
    assert overview["taskmanagers"] >= 1 and overview["slots-total"] >= 8
    assert gateway.info()["version"].startswith("1.20")


def test_jar_job_runs_and_checkpoints(rest: FlinkRestClient) -> None:
    name = f"it-smoke-{uuid.uuid4().hex[:6]}"
    jar_id, _ = rest.upload_jar(smoke_jar())
    job_id = None
    try:
        job_id = rest.run_jar(
            jar_id,
            args=["--name", name, "--rate", "50"],
            parallelism=1,
            flink_configuration={"execution.checkpointing.interval": "2s"},
        )
        assert rest.wait_for_state(job_id, [JobState.RUNNING], timeout=90) is JobState.RUNNING
        assert rest.find_running_job(name).job_id == job_id
        stats = rest.wait_for_checkpoint(job_id, timeout=90)
        assert stats.latest_completed_id >= 1
    finally:
        if job_id:
            rest.cancel(job_id)
            rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60)
        rest.delete_jar(jar_id)
    assert all(j["id"] != jar_id for j in rest.list_jars())


def test_sql_job_runs_and_checkpoints(rest: FlinkRestClient, gateway: SqlGatewayClient) -> None:
    name = f"it-sql-{uuid.uuid4().hex[:6]}"
    results = gateway.run_script(
        [
            "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10')",
            "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
            "INSERT INTO sink SELECT id FROM gen",
        ],
        session_properties={"execution.checkpointing.interval": "2s"},
        last_config={"pipeline.name": name},
    )
    job_id = results[-1].job_id
    assert job_id, results[-1]
    try:
        rest.wait_for_state(job_id, [JobState.RUNNING], timeout=90)
        assert rest.find_running_job(name).job_id == job_id
        assert rest.wait_for_checkpoint(job_id, timeout=90).latest_completed_id >= 1
    finally:
        rest.cancel(job_id)
        rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60)


def test_sql_syntax_error_keeps_flink_text_and_closes_session(gateway: SqlGatewayClient) -> None:
    from airflow_provider_rtp.exceptions import FlinkSqlError

    with pytest.raises(FlinkSqlError, match=r"(?i)SQL parse failed|Encountered"):
        gateway.run_script(["SELEC 1"])
