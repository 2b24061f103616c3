"""Bad input fails fast with Flink's own message and a summary naming the problem: client calls
and real task runs."""

from __future__ import annotations

import json
import re
import socket
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_rtp.exceptions import FlinkConnectionError, FlinkError, FlinkJobNotFound, FlinkSqlError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, SqlGatewayClient
from tests.integration.dagrun import start_dag
from tests.integration.test_stack_flink import smoke_jar
from tests.stack import sql_gateway_url

BAD_DAGS = Path(__file__).parent / "dags" / "rtp_it_flink_bad_input.py"


def test_missing_jar_file_is_named(rest: FlinkRestClient) -> None:
    with pytest.raises(FileNotFoundError, match=r"/no/such/job\.jar"):
        rest.upload_jar(Path("/no/such/job.jar"))


def test_unknown_entry_class_keeps_flinks_text(rest: FlinkRestClient) -> None:
    jar_id, _ = rest.upload_jar(smoke_jar())
    try:
        with pytest.raises(FlinkError, match=r"(?s)HTTP 400|HTTP 500.*com\.example\.NoSuchMain") as info:
            rest.run_jar(jar_id, entry_class="com.example.NoSuchMain")
        assert any("com.example.NoSuchMain" in e for e in info.value.flink_errors)
    finally:
        rest.delete_jar(jar_id)


def test_identical_jar_is_not_uploaded_twice(rest: FlinkRestClient) -> None:
    first, uploaded = rest.upload_jar(smoke_jar())
    try:
        again, uploaded_again = rest.upload_jar(smoke_jar())
        assert uploaded and not uploaded_again and again == first
    finally:
        rest.delete_jar(first)


def test_unknown_job_name_and_id(rest: FlinkRestClient) -> None:
    with pytest.raises(FlinkJobNotFound, match="no-such-job-name"):
        rest.get_running_job("no-such-job-name")
    with pytest.raises(FlinkJobNotFound, match="0123456789abcdef0123456789abcdef"):
        rest.job_details("0123456789abcdef0123456789abcdef")


def test_sql_error_names_the_table_and_closes_the_session() -> None:
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        with pytest.raises(FlinkSqlError, match="no_such_table") as info:
            gateway.run_script(["INSERT INTO no_such_table SELECT 1"])
        assert "statement: INSERT INTO no_such_table" in str(info.value)
    finally:
        gateway.close()


def test_unreachable_rest_url_fails_after_bounded_retries() -> None:
    client = FlinkRestClient(HttpSettings("http://127.0.0.1:9", retries=2, backoff=0.05))
    with pytest.raises(FlinkConnectionError, match=r"unreachable.*3 times"):
        client.list_jobs()


def _free_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _task_seconds(log: str) -> float:
    """From the task's start to its failure, by the task log's own timestamps (the start-up of
    `airflow dags test` before the task runs is not the task's)."""

    def stamp(event: str) -> datetime:
        line = next(line for line in log.splitlines() if event in line)
        return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))

    return (stamp("Task failed with exception") - stamp("Task started")).total_seconds()


def test_bad_input_fails_the_task_with_flinks_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rest: FlinkRestClient
) -> None:
    """Real task runs, four at once; an unknown job name is covered per operator in test_flink_lifecycle."""
    prefix = f"it-bad-{uuid.uuid4().hex[:6]}"
    unreachable = f"http://127.0.0.1:{_free_loopback_port()}"
    runs = {
        "rtp_it_flink_bad_missing_jar": {"jar": f"/no/such/{prefix}.jar"},
        "rtp_it_flink_bad_entry_class": {"jar": str(smoke_jar())},
        "rtp_it_flink_bad_sql": {},
        "rtp_it_flink_bad_unreachable": {"jar": str(smoke_jar())},
    }
    started = {}
    for dag_id, conf in runs.items():
        with monkeypatch.context() as env:
            if dag_id == "rtp_it_flink_bad_unreachable":  # this run's connection only
                conn = {"conn_type": "rtp", "host": unreachable, "extra": {"retries": 2}}
                env.setenv("AIRFLOW_CONN_RTP_UNREACHABLE", json.dumps(conn))
            conf = {"job_name": f"{prefix}-{dag_id.rsplit('_', 1)[-1]}", **conf}
            started[dag_id] = start_dag(BAD_DAGS, dag_id, conf, tmp_path / f"{dag_id}.log")
    logs = {}
    for dag_id, proc in started.items():
        proc.wait(timeout=300)
        logs[dag_id] = (tmp_path / f"{dag_id}.log").read_text()
        assert "Task failed with exception" in logs[dag_id] and "state=failed" in logs[dag_id], logs[dag_id]

    def failure(dag_id: str) -> str:
        """The task's exception as the task log shows it: type and message, first line first."""
        log = logs[dag_id]
        return log[log.index("Task failed with exception") :]

    assert re.search(
        rf"FileNotFoundError: jar file '/no/such/{prefix}\.jar' does not exist",
        failure("rtp_it_flink_bad_missing_jar"),
    )
    # Flink's own words, summarised on the exception's first line and kept whole below it.
    entry = failure("rtp_it_flink_bad_entry_class")
    assert re.search(
        r"FlinkError: Flink JobManager POST /jars/\S+/run returned HTTP \d+: \S*ProgramInvocationException: "
        r"The program's entry point class 'com\.example\.NoSuchMain' was not found in the jar file",
        entry,
    ), entry[:3000]
    assert "Caused by: java.lang.ClassNotFoundException: com.example.NoSuchMain" in entry
    sql = failure("rtp_it_flink_bad_sql")
    assert re.search(r"FlinkSqlError: Flink SQL failed: Caused by: \S+: Non-query expression", sql), sql[
        :3000
    ]
    assert "statement: INSERT INTO sink SELEC 1" in sql
    assert "SqlParserException: SQL parse failed" in sql
    # A failed statement's result is fetched once (it is Flink's verdict, not a transient fault).
    assert "HTTP 500 (attempt" not in logs["rtp_it_flink_bad_sql"]
    down = failure("rtp_it_flink_bad_unreachable")
    assert re.search(
        rf"FlinkConnectionError: Flink JobManager at {re.escape(unreachable)} is unreachable: "
        r"GET /jobs/overview failed 3 times",
        down,
    ), down[:3000]
    assert "connection failed (attempt 3/3)" in logs["rtp_it_flink_bad_unreachable"]
    # retries=2 from the connection: three refused attempts, the second at once, the third after 1 s.
    assert _task_seconds(logs["rtp_it_flink_bad_unreachable"]) < 10
    # Nothing of ours stayed on the cluster.
    assert not [j for j in rest.list_jobs() if j.name.startswith(prefix)]
