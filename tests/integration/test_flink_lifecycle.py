"""Resume, rescale and diagnose by job name, driven by real `airflow dags test` runs on the stack's Flink."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_rtp.exceptions import FlinkError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from tests.integration.dagrun import RUN_ID, returned, run_dag
from tests.integration.test_stack_flink import cancel_by_name, smoke_jar
from tests.stack import flink_rest_url, sql_gateway_url

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_flink_lifecycle.py"
SQL = [
    "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
    "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
    "INSERT INTO sink SELECT id FROM gen",
]


def run(dag_id: str, conf: dict, *, expect_success: bool = True) -> tuple[Any, str]:
    """One real task run: what the task returned (None if it failed, as expected) and the log."""
    succeeded, log = run_dag(DAG_FILE, dag_id, conf)
    assert succeeded is expect_success, log[-4000:]
    return (returned(dag_id, log) if succeeded else None), log


def link_of(dag_id: str, log: str) -> str:
    """The job link the run's task stored for the web UI."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_rtp.links.flink import FlinkJobLink

    run_id = RUN_ID.findall(log)[-1]
    query = select(XComModel).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == FlinkJobLink().xcom_key
    )
    with create_session() as session:
        return XComModel.deserialize_value(session.execute(query).scalar_one())


def _run_smoke(rest: FlinkRestClient, name: str, parallelism: int = 1) -> str:
    jar_id, _ = rest.upload_jar(smoke_jar())
    try:
        job_id = rest.run_jar(
            jar_id,
            args=["--name", name, "--rate", "20"],
            parallelism=parallelism,
            flink_configuration={"execution.checkpointing.interval": "2s", "pipeline.name": name},
        )
    finally:
        rest.delete_jar(jar_id)
    rest.wait_for_state(job_id, [JobState.RUNNING], timeout=90)
    rest.wait_for_checkpoint(job_id, timeout=90)
    return job_id


def _stop(rest: FlinkRestClient, job_id: str) -> str:
    location = rest.wait_for_savepoint(job_id, rest.stop_with_savepoint(job_id), timeout=120).location
    rest.wait_for_state(job_id, [JobState.FINISHED], timeout=60)
    return location


def _parallelism(rest: FlinkRestClient, job_id: str) -> dict[str, int]:
    return {v["name"]: v["parallelism"] for v in rest.job_details(job_id)["vertices"]}


def test_jar_job_rescale_diagnose_stop_resume(rest: FlinkRestClient) -> None:
    name = f"it-life-jar-{uuid.uuid4().hex[:6]}"
    conf = {"job_name": name, "jar": str(smoke_jar())}
    try:
        first = _run_smoke(rest, name, parallelism=1)
        assert set(_parallelism(rest, first).values()) == {1}

        # Default scheduler: stop with savepoint, resubmit at 2, restored from exactly that savepoint.
        rescaled, rescale_log = run("rtp_it_flink_rescale_jar", conf)
        assert rescaled["method"] == "savepoint" and rescaled["previous_job_id"] == first
        new_id = rescaled["job_id"]
        assert link_of("rtp_it_flink_rescale_jar", rescale_log).endswith(f"/#/job/running/{new_id}/overview")
        assert new_id != first and rest.job_state(first) is JobState.FINISHED
        assert set(rescaled["before"].values()) == {1} and set(rescaled["after"].values()) == {2}
        assert set(_parallelism(rest, new_id).values()) == {2}
        savepoint = rest.checkpoints(first)
        restored = rest.checkpoints(new_id)
        assert restored.restored_is_savepoint is True
        assert restored.restored_id == int(
            rest.http.request("GET", f"/jobs/{first}/checkpoints")["latest"]["savepoint"]["id"]
        )
        assert restored.restored_path.rstrip("/") == rescaled["restored_from"].rstrip("/")
        assert savepoint.latest_savepoint_path.rstrip("/") == rescaled["restored_from"].rstrip("/")

        # Diagnosis on the running job: real metrics for both vertices; 20 records/s idles at parallelism 2.
        rest.wait_for_checkpoint(new_id, timeout=60)
        # busyTimeMsPerSecond reads high for a while after a restore, and on a loaded machine:
        # diagnose once the cluster itself reports the vertices idle.
        deadline = time.monotonic() + 60
        while any((v.busy_avg is None or v.busy_avg >= 0.2) for v in rest.vertex_loads(new_id)):
            assert time.monotonic() < deadline, f"vertices not idle: {rest.vertex_loads(new_id)}"
            time.sleep(2)
        report, log = run("rtp_it_flink_diagnose", conf)
        assert report["job_id"] == new_id and report["parallelism"] == 2
        assert len(report["vertices"]) == len(_parallelism(rest, new_id))
        for v in report["vertices"]:
            assert v["busy_avg"] is not None and v["busy_avg"] < 0.2, v
            assert v["suggested_parallelism"] == 1 and "idle" in v["reason"], v
        assert report["suggested_parallelism"] == 1
        assert "parallelism 2 -> 1" in log

        # Stop, then resume by name from the stop's savepoint (found in the JobManager's job history).
        stop_savepoint = _stop(rest, new_id)
        resumed, _ = run("rtp_it_flink_resume_jar", conf)
        assert (resumed["action"], resumed["restored_kind"]) == ("resumed", "savepoint")
        assert resumed["previous_job_id"] == new_id
        assert resumed["restored_from"].rstrip("/") == stop_savepoint.rstrip("/")
        stats = rest.checkpoints(resumed["job_id"])
        assert stats.restored_is_savepoint is True and stats.restored_path.rstrip(
            "/"
        ) == stop_savepoint.rstrip("/")

        # A second resume while it runs is a no-op.
        again, _ = run("rtp_it_flink_resume_jar", conf)
        assert (again["action"], again["job_id"]) == ("skipped", resumed["job_id"])

        # Cancelled: the retained checkpoint is newer than the savepoint, so the resume uses it.
        rest.wait_for_checkpoint(resumed["job_id"], timeout=60)
        cancel_by_name(rest, name)
        latest = rest.checkpoints(resumed["job_id"]).latest_completed_path
        from_checkpoint, _ = run("rtp_it_flink_resume_jar", conf)
        assert from_checkpoint["restored_kind"] == "checkpoint"
        assert from_checkpoint["restored_from"] == latest
        # Flink counts any restore from a given path as a savepoint restore; the path tells them apart.
        assert rest.checkpoints(from_checkpoint["job_id"]).restored_path == latest
    finally:
        cancel_by_name(rest, name)


def test_sql_job_stop_and_resume(rest: FlinkRestClient) -> None:
    name = f"it-life-sql-{uuid.uuid4().hex[:6]}"
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        job_id = gateway.run_script(
            SQL,
            session_properties={"execution.checkpointing.interval": "2s"},
            last_config={"pipeline.name": name},
        )[-1].job_id
        rest.wait_for_state(job_id, [JobState.RUNNING], timeout=90)
        savepoint = _stop(rest, job_id)
        resumed, _ = run("rtp_it_flink_resume_sql", {"job_name": name})
        assert resumed["restored_from"].rstrip("/") == savepoint.rstrip("/")
        assert rest.job_details(resumed["job_id"])["name"] == name
        assert rest.checkpoints(resumed["job_id"]).restored_path.rstrip("/") == savepoint.rstrip("/")
    finally:
        gateway.close()
        cancel_by_name(rest, name)


def test_adaptive_only_requirements_fail_clearly_on_the_default_scheduler(rest: FlinkRestClient) -> None:
    """The stack runs the default scheduler: the client names it instead of echoing a stack trace only."""
    name = f"it-life-req-{uuid.uuid4().hex[:6]}"
    try:
        job_id = _run_smoke(rest, name)
        assert rest.scheduler(job_id) == "default"
        with pytest.raises(FlinkError, match="does not run under the adaptive scheduler") as info:
            rest.resource_requirements(job_id)
        assert any("DefaultScheduler does not support" in e for e in info.value.flink_errors)
        # Flink checks the body first (every vertex must be named), then the scheduler refuses it.
        vertices = [v["id"] for v in rest.job_details(job_id)["vertices"]]
        with pytest.raises(FlinkError, match="missing job vertex"):
            rest.set_resource_requirements(
                job_id, {vertices[0]: {"parallelism": {"lowerBound": 1, "upperBound": 2}}}
            )
        every = {v: {"parallelism": {"lowerBound": 1, "upperBound": 2}} for v in vertices}
        with pytest.raises(FlinkError, match="does not run under the adaptive scheduler"):
            rest.set_resource_requirements(job_id, every)
        assert set(_parallelism(rest, job_id).values()) == {1}
    finally:
        cancel_by_name(rest, name)


@pytest.mark.parametrize(
    ("dag_id", "message"),
    [
        ("rtp_it_flink_resume_jar", "nothing to resume"),
        ("rtp_it_flink_rescale_jar", "no RUNNING Flink job named"),
        ("rtp_it_flink_diagnose", "no RUNNING Flink job named"),
    ],
)
def test_unknown_job_name_fails_the_task_clearly(dag_id: str, message: str) -> None:
    name = f"it-life-none-{uuid.uuid4().hex[:6]}"
    _, log = run(dag_id, {"job_name": name, "jar": str(smoke_jar())}, expect_success=False)
    assert message in log and name in log, log[-3000:]


class _Ti:
    """Just enough task instance for an operator's execute(): the job link goes to XCom."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def test_fifty_submissions_leak_no_session_jar_or_connection(
    rest: FlinkRestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Good and bad JAR and SQL submissions through the operators leave nothing behind.

    SQL submissions run three at a time, JAR submissions one at a time (each takes a slot until
    it is cancelled).
    """
    import shutil
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    import psutil

    from airflow_provider_rtp.exceptions import FlinkSqlError
    from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator

    prefix = f"it-leak-{uuid.uuid4().hex[:6]}"
    # One retry: a failed statement answers HTTP 500, and bad submissions should stay cheap.
    extra = {"sql_gateway_url": sql_gateway_url(), "retries": 1}
    monkeypatch.setenv(
        "AIRFLOW_CONN_RTP_LEAK", json.dumps({"conn_type": "rtp", "host": flink_rest_url(), "extra": extra})
    )
    flink_ports = {int(flink_rest_url().rsplit(":", 1)[1]), int(sql_gateway_url().rsplit(":", 1)[1])}
    me = psutil.Process()

    def open_connections() -> int:
        return sum(1 for c in me.net_connections("tcp") if c.raddr and c.raddr.port in flink_ports)

    sessions: list[str] = []
    jar_ids: list[str] = []
    job_ids: list[str] = []
    failed: list[str] = []
    messages: list[str] = []

    def submit(op: FlinkJarJobOperator | FlinkSqlJobOperator, kind: str) -> None:
        gateway, rest_client = op.hook.sql_gateway, op.hook.rest
        open_session, upload_jar = gateway.open_session, rest_client.upload_jar

        def recording_open(*args: Any, **kwargs: Any) -> str:
            handle = open_session(*args, **kwargs)
            sessions.append(handle)
            return handle

        def recording_upload(path: Path, **kwargs: Any) -> tuple[str, bool]:
            jar_id, uploaded = upload_jar(path, **kwargs)
            jar_ids.append(jar_id)
            return jar_id, uploaded

        gateway.open_session, rest_client.upload_jar = recording_open, recording_upload
        try:
            job_id = op.execute({"ti": _Ti()})["job_id"]
            job_ids.append(job_id)
            if kind == "jar":  # unbounded: cancel right away, a slot is precious
                with FlinkRestClient(HttpSettings(flink_rest_url())) as own:
                    own.cancel(job_id)
        except (FlinkError, FileNotFoundError) as exc:
            failed.append(type(exc).__name__)
            messages.append(f"{op.job_name}: {str(exc)[:300]}")

    # A jar of its own (the smoke jar with a unique zip comment): other tests submitting the smoke
    # jar at the same time share nothing with this one through the checksum dedup.
    own_jar = tmp_path / "leak-smoke.jar"
    shutil.copy(smoke_jar(), own_jar)
    with zipfile.ZipFile(own_jar, "a") as zf:
        zf.comment = prefix.encode()

    def jar_op(i: int, **kwargs: Any) -> FlinkJarJobOperator:
        name = f"{prefix}-jar-{i}"
        defaults = {"jar": str(own_jar), "args": ["--name", name]}
        return FlinkJarJobOperator(
            task_id=f"jar_{i}", job_name=name, wait_for="none", **{**defaults, **kwargs}
        )

    def sql_op(i: int, insert: str) -> FlinkSqlJobOperator:
        setup = [
            "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')",
            "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
        ]
        return FlinkSqlJobOperator(
            task_id=f"sql_{i}",
            job_name=f"{prefix}-sql-{i}",
            setup_sql=setup,
            insert_sql=insert,
            wait_for="none",
        )

    rest.overview()  # the fixture's own keep-alive connection belongs to the baseline
    baseline = open_connections()
    jars = [(jar_op(i), "jar") for i in range(8)]
    jars += [(jar_op(100 + i, entry_class="com.example.NoSuchMain"), "jar") for i in range(8)]
    jars += [(jar_op(200 + i, jar=f"/no/such/{prefix}-{i}.jar"), "jar") for i in range(4)]
    sqls = [(sql_op(i, "INSERT INTO sink SELECT id FROM gen"), "sql") for i in range(15)]
    sqls += [(sql_op(100 + i, "INSERT INTO sink SELEC id FROM gen"), "sql") for i in range(15)]
    assert len(jars) + len(sqls) == 50
    with ThreadPoolExecutor(3) as pool:
        running_sql = pool.map(lambda w: submit(*w), sqls)
        for op, kind in jars:
            submit(op, kind)
        list(running_sql)
    failures = {name: failed.count(name) for name in set(failed)}
    expected = (8 + 15, {"FlinkError": 8, "FileNotFoundError": 4, "FlinkSqlError": 15})
    assert (len(job_ids), failures) == expected, messages
    assert issubclass(FlinkSqlError, FlinkError)

    # Every session we opened is gone: the gateway no longer knows its handle.
    assert len(sessions) == 30
    probe = SqlGatewayClient(HttpSettings(sql_gateway_url(), retries=0))
    try:
        for handle in sessions:
            with pytest.raises(FlinkError, match="does not exist"):
                probe.http.request("GET", f"/v1/sessions/{handle}")
    finally:
        probe.close()
    # No jar we uploaded stays on the cluster.
    assert len(jar_ids) == 16
    assert not set(jar_ids) & {j["id"] for j in rest.list_jars()}
    # The operators closed their HTTP connections.
    assert open_connections() <= baseline, me.net_connections("tcp")
    # And every job we started ended (cancelled, or bounded and finished; FAILED if the shared
    # cluster had no free slot for it).
    for job_id in job_ids:
        rest.wait_for_state(job_id, [JobState.CANCELED, JobState.FINISHED, JobState.FAILED], timeout=60)
