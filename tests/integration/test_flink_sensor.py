"""FlinkJobSensor and the deferred wait of the job operators, through real `airflow dags test` runs.

`airflow dags test` runs a deferred task's trigger in-process ("running trigger in line"), so the
deferrable paths below really go through FlinkJobTrigger and the tasks' execute_complete.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_rtp.flink import FlinkRestClient, JobState
from tests.integration.dagrun import returned, run_dag, start_dag
from tests.integration.test_stack_flink import smoke_jar

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_flink_sensor.py"
TRIGGER_RAN = "[DAG TEST] running trigger in line"
MODES = ["sync", "deferred"]


@pytest.fixture
def job_name(rest: FlinkRestClient) -> Iterator[str]:
    name = f"it-sense-{uuid.uuid4().hex[:6]}"
    yield name
    for job in rest.list_jobs():
        if job.name == name and not job.state.is_terminal:
            rest.cancel(job.job_id)
            rest.wait_for_state(job.job_id, [JobState.CANCELED, JobState.FAILED], timeout=60)


@pytest.mark.parametrize("mode", MODES)
def test_sensor_waits_for_running_and_the_first_checkpoint(
    rest: FlinkRestClient, job_name: str, mode: str, tmp_path: Path
) -> None:
    dag_id = f"rtp_it_flink_submit_then_sense_{mode}"
    log_path = tmp_path / "run.log"
    proc = start_dag(DAG_FILE, dag_id, {"job_name": job_name}, log_path)
    try:
        # The job checkpoints once an hour: its first checkpoint comes when the sensor is waiting
        # for it (deferrable: in its trigger), triggered here through Flink's REST API.
        waiting = TRIGGER_RAN if mode == "deferred" else "waiting for its first completed checkpoint"
        deadline = time.monotonic() + 240
        while waiting not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-4000:]
            assert time.monotonic() < deadline, log_path.read_text()[-4000:]
            time.sleep(0.5)
        job = rest.get_running_job(job_name)
        rest.http.request("POST", f"/jobs/{job.job_id}/checkpoints", json={})
        assert proc.wait(timeout=240) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = log_path.read_text()
    assert "state=success" in log, log[-4000:]
    submitted = returned(dag_id, log, "submit")
    sensed = returned(dag_id, log, "sense")
    assert sensed["job_id"] == submitted["job_id"] == job.job_id and sensed["job_name"] == job_name
    assert sensed["state"] == "RUNNING" and sensed["checkpoint_id"] >= 1
    assert rest.checkpoints(sensed["job_id"]).latest_completed_id >= sensed["checkpoint_id"]
    # The job had no checkpoint at the sensor's first look: the deferrable sensor handed the wait
    # to the trigger, the other one poked.
    assert (TRIGGER_RAN in log) is (mode == "deferred")


@pytest.mark.parametrize("mode", MODES)
def test_sensor_fails_fast_with_the_root_cause_and_reports_restarts(
    rest: FlinkRestClient, job_name: str, mode: str
) -> None:
    dag_id = f"rtp_it_flink_failing_{mode}"
    ok, log = run_dag(DAG_FILE, dag_id, {"job_name": job_name})
    assert not ok and "state=failed" in log, log[-4000:]
    job_id = returned(dag_id, log, "submit")["job_id"]
    assert rest.job_state(job_id) is JobState.FAILED
    assert re.search(
        rf"FlinkError: Flink job '{job_name}' \({job_id}\) is FAILED while waiting for RUNNING and a "
        r"completed checkpoint "
        r"\(after 2 restart\(s\)\); root cause: java.lang.NumberFormatException: For input string: 'x",
        log,
    ), log[-4000:]
    assert "Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy" in log
    assert f"Flink job '{job_name}' ({job_id}) has restarted" in log


@pytest.mark.parametrize("mode", MODES)
def test_sensor_waiting_for_a_checkpoint_that_cannot_come_fails_at_once(job_name: str, mode: str) -> None:
    dag_id = f"rtp_it_flink_no_checkpointing_{mode}"
    ok, log = run_dag(DAG_FILE, dag_id, {"job_name": job_name})
    assert not ok and "state=failed" in log, log[-4000:]
    job_id = returned(dag_id, log, "submit")["job_id"]
    assert f"Flink job '{job_name}' ({job_id}) has checkpointing disabled" in log


@pytest.mark.parametrize("mode", MODES)
def test_sensor_on_an_unknown_job_name_fails_at_once(mode: str) -> None:
    name = f"it-no-such-job-{uuid.uuid4().hex[:6]}"
    ok, log = run_dag(DAG_FILE, f"rtp_it_flink_sensor_{mode}", {"job_name": name})
    assert not ok and "state=failed" in log, log[-4000:]
    assert f"FlinkJobNotFound: no Flink job named '{name}' on the cluster; running jobs:" in log
    assert TRIGGER_RAN not in log


def test_sensor_on_a_running_job_returns_at_the_first_look(rest: FlinkRestClient) -> None:
    running = [j for j in rest.list_jobs() if j.name == "ods-orders-ingest" and j.state is JobState.RUNNING]
    if not running:
        pytest.skip("the reference pipeline's ingestion job is not running")
    ok, log = run_dag(DAG_FILE, "rtp_it_flink_sensor_deferred", {"job_name": "ods-orders-ingest"})
    assert ok, log[-4000:]
    sensed = returned("rtp_it_flink_sensor_deferred", log, "sense")
    assert sensed["job_id"] == running[0].job_id and sensed["checkpoint_id"] >= 1
    assert TRIGGER_RAN not in log


def test_jar_operator_defers_its_wait_and_returns_what_the_sync_path_returns(
    rest: FlinkRestClient, job_name: str
) -> None:
    conf = {"job_name": job_name, "jar": str(smoke_jar())}
    ok, log = run_dag(DAG_FILE, "rtp_it_flink_jar_deferred", conf)
    assert ok, log[-4000:]
    assert TRIGGER_RAN in log
    result = returned("rtp_it_flink_jar_deferred", log, "jar_job")
    assert set(result) == {"job_id", "job_name", "action", "restored_from", "jar_id"}
    assert (result["job_name"], result["action"], result["restored_from"]) == (job_name, "submitted", None)
    assert rest.job_state(result["job_id"]) is JobState.RUNNING
    assert rest.checkpoints(result["job_id"]).latest_completed_id is not None
    # The jar it uploaded was deleted after submission (ids are unique per upload).
    assert result["jar_id"] not in {j["id"] for j in rest.list_jars()}


def test_sql_operator_defers_its_wait(rest: FlinkRestClient, job_name: str) -> None:
    ok, log = run_dag(DAG_FILE, "rtp_it_flink_sql_deferred", {"job_name": job_name})
    assert ok, log[-4000:]
    assert TRIGGER_RAN in log
    result = returned("rtp_it_flink_sql_deferred", log, "sql_job")
    assert set(result) == {"job_id", "job_name", "action", "restored_from"}
    assert result["action"] == "submitted" and rest.job_details(result["job_id"])["name"] == job_name
    assert rest.checkpoints(result["job_id"]).latest_completed_id is not None
