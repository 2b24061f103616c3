"""The Flink job operators, driven by real `airflow dags test` runs against the stack's cluster."""

from __future__ import annotations

import re
import shutil
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_rtp.flink import FlinkRestClient, JobState
from airflow_provider_rtp.flink.rest import jar_checksum
from airflow_provider_rtp.operators.flink import FlinkJarJobOperator
from tests.integration import dagrun
from tests.integration.test_flink_lifecycle import _Ti
from tests.integration.test_stack_flink import cancel_by_name, smoke_jar

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_flink_jobs.py"


def run_dag(dag_id: str, conf: dict) -> dict:
    """Run the DAG with `airflow dags test` and return what its one task returned."""
    ok, log = dagrun.run_dag(DAG_FILE, dag_id, conf)
    assert ok, log[-4000:]
    return dagrun.returned(dag_id, log)


def test_jar_job_submit_skip_upgrade(rest: FlinkRestClient, tmp_path: Path) -> None:
    name = f"it-op-jar-{uuid.uuid4().hex[:6]}"
    # A jar of our own content: side by side, other tests upload the smoke jar and their pipelines' jars.
    jar = tmp_path / "skip-upgrade-smoke.jar"
    shutil.copy(smoke_jar(), jar)
    with zipfile.ZipFile(jar, "a") as zf:
        zf.comment = name.encode()
    stored_name = f"{jar_checksum(jar)}-{jar.name}"
    conf = {"job_name": name, "jar": str(jar)}

    def uploads() -> set[str]:
        return {j["id"] for j in rest.list_jars() if j["name"] == stored_name}

    try:
        first = run_dag("rtp_it_flink_jar_skip", conf)
        assert first["action"] == "submitted" and first["job_name"] == name

        again = run_dag("rtp_it_flink_jar_skip", conf)
        assert (again["action"], again["job_id"]) == ("skipped", first["job_id"])
        live = [j for j in rest.list_jobs() if j.name == name and j.state is JobState.RUNNING]
        assert [j.job_id for j in live] == [first["job_id"]]

        upgraded = run_dag("rtp_it_flink_jar_upgrade", conf)
        assert upgraded["action"] == "upgraded" and upgraded["job_id"] != first["job_id"]
        assert rest.job_state(first["job_id"]) is JobState.FINISHED
        restored = rest.checkpoints(upgraded["job_id"])
        assert restored.restored_is_savepoint is True
        assert restored.restored_path.rstrip("/") == upgraded["restored_from"].rstrip("/")
    finally:
        cancel_by_name(rest, name)
    # The uploaded jar was deleted after each submission.
    assert not uploads()


def test_sql_job_submit_then_skip(rest: FlinkRestClient) -> None:
    name = f"it-op-sql-{uuid.uuid4().hex[:6]}"
    try:
        first = run_dag("rtp_it_flink_sql", {"job_name": name})
        assert first["action"] == "submitted"
        assert rest.job_details(first["job_id"])["name"] == name
        again = run_dag("rtp_it_flink_sql", {"job_name": name})
        assert (again["action"], again["job_id"]) == ("skipped", first["job_id"])
    finally:
        cancel_by_name(rest, name)


def _logged_at(log: str, event: str) -> datetime:
    line = next(line for line in log.splitlines() if event in line)
    return datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))


def test_sync_wait_fails_within_a_poll_interval_of_the_job_failing(rest: FlinkRestClient) -> None:
    """RUNNING, then FAILED while the task waits (deferrable=False) for its first checkpoint: the task
    fails at its next look with Flink's root cause, not at its 300 s timeout."""
    name = f"it-op-fails-{uuid.uuid4().hex[:6]}"
    dag_id = "rtp_it_flink_sql_fails_while_waited_for"
    try:
        ok, log = dagrun.run_dag(DAG_FILE, dag_id, {"job_name": name})
        assert not ok and "state=failed" in log, log[-4000:]
        failed = [j for j in rest.list_jobs() if j.name == name]
        assert [j.state for j in failed] == [JobState.FAILED], failed
        job_id = failed[0].job_id
        # The wait saw the job RUNNING before it failed.
        assert f"Flink job '{name}' ({job_id}) is RUNNING; waiting for its first completed checkpoint" in log
        failure = log[log.index("Task failed with exception") :]
        assert re.search(
            rf"FlinkError: Flink job '{name}' \({job_id}\) is FAILED while waiting for RUNNING and a "
            r"completed checkpoint; root cause: java.lang.NumberFormatException: For input string: 'x21'",
            failure,
        ), failure[:3000]
        job_ended = datetime.fromtimestamp(failed[0].end_time_ms / 1000, tz=UTC)
        late = (_logged_at(log, "Task failed with exception") - job_ended).total_seconds()
        assert late < 2 + 5, f"the task failed {late:.1f}s after the job (poll interval 2 s)"
    finally:
        cancel_by_name(rest, name)


def test_savepoint_stop_and_cancel_by_name(rest: FlinkRestClient) -> None:
    name = f"it-op-life-{uuid.uuid4().hex[:6]}"
    conf = {"job_name": name, "jar": str(smoke_jar())}
    try:
        first = run_dag("rtp_it_flink_jar_skip", conf)
        saved = run_dag("rtp_it_flink_savepoint", {"job_name": name})
        assert saved["job_id"] == first["job_id"] and Path(saved["savepoint"].removeprefix("file:")).exists()
        assert rest.job_state(first["job_id"]) is JobState.RUNNING

        stopped = run_dag("rtp_it_flink_stop", {"job_name": name})
        assert (stopped["state"], stopped["drained"]) == ("FINISHED", True)
        assert Path(stopped["savepoint"].removeprefix("file:")).exists()

        second = run_dag("rtp_it_flink_jar_skip", conf)
        cancelled = run_dag("rtp_it_flink_cancel", {"job_name": name})
        assert (cancelled["job_id"], cancelled["state"]) == (second["job_id"], "CANCELED")
    finally:
        cancel_by_name(rest, name)


def _parallelism(rest: FlinkRestClient, job_id: str) -> dict[str, int]:
    return {v["name"]: v["parallelism"] for v in rest.job_details(job_id)["vertices"]}


def test_sql_job_upgrade_rescale_cancel(rest: FlinkRestClient) -> None:
    """One DAG run: submit, upgrade from a savepoint, rescale 1 -> 2 (savepoint + resubmit), cancel."""
    name = f"it-op-sqlup-{uuid.uuid4().hex[:6]}"
    dag_id = "rtp_it_flink_sql_upgrade_rescale_cancel"
    try:
        ok, log = dagrun.run_dag(DAG_FILE, dag_id, {"job_name": name})
        assert ok, log[-4000:]
        first, upgraded, rescaled, cancelled = (
            dagrun.returned(dag_id, log, task) for task in ("submit", "upgrade", "rescale", "cancel")
        )
        assert first["action"] == "submitted"

        # Upgrade: the old job stopped with a savepoint; the new one restored exactly that savepoint.
        assert upgraded["action"] == "upgraded" and upgraded["job_id"] != first["job_id"]
        assert rest.job_state(first["job_id"]) is JobState.FINISHED
        savepoint = rest.http.request("GET", f"/jobs/{first['job_id']}/checkpoints")["latest"]["savepoint"]
        restored = rest.checkpoints(upgraded["job_id"])
        assert restored.restored_is_savepoint is True
        assert restored.restored_id == int(savepoint["id"])
        assert restored.restored_path.rstrip("/") == upgraded["restored_from"].rstrip("/")
        assert savepoint["external_path"].rstrip("/") == upgraded["restored_from"].rstrip("/")

        # Rescale: the default scheduler resubmits from a savepoint at the new parallelism.
        assert rescaled["method"] == "savepoint" and rescaled["previous_job_id"] == upgraded["job_id"]
        assert set(rescaled["before"].values()) == {1} and set(rescaled["after"].values()) == {2}
        assert set(_parallelism(rest, upgraded["job_id"]).values()) == {1}
        assert set(_parallelism(rest, rescaled["job_id"]).values()) == {2}
        assert rest.job_details(rescaled["job_id"])["name"] == name
        resaved = rest.http.request("GET", f"/jobs/{upgraded['job_id']}/checkpoints")["latest"]["savepoint"]
        assert rest.checkpoints(rescaled["job_id"]).restored_id == int(resaved["id"])

        # Cancel by name: the rescaled job, and no job of that name runs any more.
        assert (cancelled["job_id"], cancelled["state"]) == (rescaled["job_id"], "CANCELED")
        assert rest.job_state(rescaled["job_id"]) is JobState.CANCELED
        assert rest.find_running_job(name) is None
    finally:
        cancel_by_name(rest, name)


def test_submitters_sharing_one_jar_do_not_delete_it_under_each_other(
    rest: FlinkRestClient, tmp_path: Path
) -> None:
    """Checksum dedup lets a second submitter reuse a jar another one uploaded and is about to run.

    The reuser must not delete it; and when the uploader deletes it between the reuser's lookup
    and its run, the reuser uploads its own copy instead of failing.
    """
    prefix = f"it-op-share-{uuid.uuid4().hex[:6]}"
    jar = tmp_path / "share-smoke.jar"  # our own content: nobody else's submissions share it
    shutil.copy(smoke_jar(), jar)
    with zipfile.ZipFile(jar, "a") as zf:
        zf.comment = prefix.encode()
    stored_name = f"{jar_checksum(jar)}-{jar.name}"

    def ours() -> set[str]:
        return {j["id"] for j in rest.list_jars() if j["name"] == stored_name}

    def submit(name: str, after_lookup: Any = None) -> dict[str, Any]:
        op = FlinkJarJobOperator(
            task_id="submit", job_name=name, jar=str(jar), args=["--name", name], wait_for="none"
        )
        if after_lookup is not None:
            lookup = op.hook.rest.upload_jar

            def upload(path: Path, **kwargs: Any) -> tuple[str, bool]:
                jar_id, uploaded = lookup(path, **kwargs)
                after_lookup(jar_id, uploaded)
                return jar_id, uploaded

            op.hook.rest.upload_jar = upload
        return op.execute({"ti": _Ti()})

    others, _ = rest.upload_jar(jar)  # the other submitter's upload, its run still to come
    try:
        first = submit(f"{prefix}-1")
        assert first["jar_id"] == others
        assert ours() == {others}, "the reusing task deleted a jar another submitter is about to run"

        def uploader_finishes(jar_id: str, uploaded: bool) -> None:
            if not uploaded:  # the other submitter ran and cleaned up right after our lookup
                rest.delete_jar(jar_id)

        second = submit(f"{prefix}-2", after_lookup=uploader_finishes)
        assert second["jar_id"] != others
        assert rest.job_details(second["job_id"])["name"] == f"{prefix}-2"
        assert ours() == set()  # our own copy was deleted after our run
    finally:
        for jar_id in ours():
            rest.delete_jar(jar_id)
        for i in (1, 2):
            cancel_by_name(rest, f"{prefix}-{i}")
