"""Finding a job by name, the sync wait and the backpressure read, against a local HTTP server
that answers each path from a script (the last answer repeats)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from airflow_provider_rtp.exceptions import FlinkError, FlinkJobAmbiguous, FlinkJobNotFound
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState
from airflow_provider_rtp.flink.diagnosis import diagnose
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria

JOB = "a" * 32
NO_VALUE = (
    "<Exception on server side:\njava.util.NoSuchElementException: No value present\n"
    "\tat java.base/java.util.Optional.get(Optional.java:143)\n"
    "\tat org.apache.flink.runtime.rest.handler.job.JobVertexBackPressureHandler"
    ".createJobVertexBackPressureInfo(JobVertexBackPressureHandler.java:104)\n"
    "End of exception on server side>"
)
TRACE = (
    "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n"
    "\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handle(X.java:1)\n"
    "Caused by: java.lang.NumberFormatException: For input string: 'x21'\n"
)


class _Routes(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, list[tuple[int, Any]]]] = {}
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.seen.append(path)
        answers = self.routes.get(path) or [(404, {"errors": [f"Not found: {path}"]})]
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rest() -> Iterator[FlinkRestClient]:
    _Routes.routes, _Routes.seen = {}, []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Routes)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    client = FlinkRestClient(HttpSettings(f"http://127.0.0.1:{srv.server_port}", retries=2, backoff=0.01))
    yield client
    client.close()
    srv.shutdown()


def _jobs(*jobs: tuple[str, str, int]) -> None:
    overview = [
        {"jid": jid, "name": "orders", "state": state, "start-time": start, "end-time": -1}
        for jid, state, start in jobs
    ]
    _Routes.routes["/jobs/overview"] = [(200, {"jobs": overview})]


def test_a_live_job_wins_over_newer_ended_runs_of_its_name(rest: FlinkRestClient) -> None:
    _jobs(("old", "FINISHED", 1), ("live", "RESTARTING", 2), ("newer", "CANCELED", 3))
    assert rest.find_job("orders").job_id == "live"
    assert rest.find_running_job("orders").job_id == "live"


def test_without_a_live_job_the_newest_ended_run_is_found(rest: FlinkRestClient) -> None:
    _jobs(("old", "FAILED", 1), ("newest", "CANCELED", 3), ("mid", "FINISHED", 2))
    assert rest.find_job("orders").job_id == "newest"
    assert rest.find_running_job("orders") is None
    with pytest.raises(FlinkJobNotFound, match="no RUNNING Flink job named 'orders'"):
        rest.get_running_job("orders")
    assert rest.find_job("payments") is None


def test_a_cancelling_run_is_not_live_beside_its_successor(rest: FlinkRestClient) -> None:
    # An upgrade by cancel and resubmit: the old run is still CANCELLING when the new one starts.
    _jobs(("old", "CANCELLING", 1), ("new", "INITIALIZING", 2))
    assert rest.find_job("orders").job_id == "new"
    _jobs(("old", "CANCELLING", 1), ("older", "FINISHED", 0))
    assert rest.find_job("orders").job_id == "old"
    assert rest.find_running_job("orders") is None
    # A failing run may still restart: it is live, and a second live run is ambiguous.
    _jobs(("one", "FAILING", 1), ("two", "RUNNING", 2))
    with pytest.raises(FlinkJobAmbiguous):
        rest.find_job("orders")


def test_two_live_jobs_of_one_name_are_ambiguous(rest: FlinkRestClient) -> None:
    _jobs(("one", "RUNNING", 1), ("two", "INITIALIZING", 2), ("gone", "FINISHED", 3))
    with pytest.raises(
        FlinkJobAmbiguous, match=r"2 live Flink jobs are named 'orders' \(one \(RUNNING\), two"
    ):
        rest.find_job("orders")


def _job(state: str) -> tuple[int, dict]:
    return 200, {"jid": JOB, "name": "orders", "state": state, "start-time": 1, "vertices": []}


def test_sync_wait_fails_at_the_next_look_once_the_job_fails(rest: FlinkRestClient) -> None:
    _jobs((JOB, "RUNNING", 1))
    _Routes.routes.update(
        {
            f"/jobs/{JOB}": [_job("RUNNING"), _job("FAILED")],
            f"/jobs/{JOB}/checkpoints": [(200, {"counts": {"in_progress": 1}, "latest": {}})],
            f"/jobs/{JOB}/checkpoints/config": [(200, {"interval": 60000})],
            f"/jobs/{JOB}/metrics": [(200, [])],
            f"/jobs/{JOB}/exceptions": [(200, {"exceptionHistory": {"entries": [{"stacktrace": TRACE}]}})],
        }
    )
    criteria = JobWaitCriteria.of(["RUNNING"], wait_for_checkpoint=True)
    started = time.monotonic()
    with pytest.raises(FlinkError) as info:
        rest.wait_for_job(criteria, job_name="orders", timeout=300, poll_interval=0.2)
    assert time.monotonic() - started < 5
    first = str(info.value).splitlines()[0]
    assert "is FAILED while waiting for RUNNING and a completed checkpoint" in first
    assert first.endswith("root cause: java.lang.NumberFormatException: For input string: 'x21'")
    assert "Recovery is suppressed" in str(info.value)


def test_sync_wait_gives_up_at_its_deadline_saying_what_it_waited_for(rest: FlinkRestClient) -> None:
    _Routes.routes.update(
        {
            f"/jobs/{JOB}": [_job("INITIALIZING")],
            f"/jobs/{JOB}/checkpoints": [(404, {"errors": ["not ready"]})],
            f"/jobs/{JOB}/metrics": [(200, [])],
        }
    )
    with pytest.raises(FlinkError, match=r"is INITIALIZING; waiting for RUNNING; gave up after 0s"):
        rest.wait_for_job(JobWaitCriteria.of(["RUNNING"]), job_id=JOB, timeout=0.3, poll_interval=0.1)


def test_backpressure_unknown_after_a_restore_is_none_and_the_diagnosis_copes(rest: FlinkRestClient) -> None:
    vertex = {"id": "v1", "name": "Source: gen", "parallelism": 2, "maxParallelism": 128}
    _Routes.routes.update(
        {
            f"/jobs/{JOB}": [(200, {"jid": JOB, "name": "orders", "state": "RUNNING", "vertices": [vertex]})],
            f"/jobs/{JOB}/plan": [(200, {"plan": {"nodes": [{"id": "v1"}]}})],
            f"/jobs/{JOB}/vertices/v1/subtasks/metrics": [
                (200, [{"id": "busyTimeMsPerSecond", "min": 900, "max": 950, "avg": 920, "sum": 1840}])
            ],
            f"/jobs/{JOB}/vertices/v1/backpressure": [
                (500, {"errors": ["Internal server error.", NO_VALUE]})
            ],
        }
    )
    assert rest.backpressure(JOB, "v1") is None
    loads = rest.vertex_loads(JOB, metrics_timeout=1)
    assert loads[0].backpressure_level is None and loads[0].busy_avg == pytest.approx(0.92)
    report = diagnose(JOB, "orders", loads)
    assert report.suggested_parallelism > 2 and report.bottleneck == "Source: gen"
    # Flink's 500 is its answer, not a transient fault: asked once per read, never retried.
    assert _Routes.seen.count(f"/jobs/{JOB}/vertices/v1/backpressure") == 2


def test_rest_retries_come_from_the_connection_else_the_rtp_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_rtp.hooks.platform import _retries

    monkeypatch.setenv("AIRFLOW__RTP__REST_RETRIES", "5")
    assert (_retries(None), _retries(1), _retries("0")) == (5, 1, 0)


def test_observation_for_completeness_uses_the_same_reads(rest: FlinkRestClient) -> None:
    _jobs((JOB, "RUNNING", 1700000000000))
    checkpoints = {
        "counts": {"completed": 3},
        "latest": {
            "completed": {"id": 7, "trigger_timestamp": 1700000060000},
            "restored": {"id": 2, "external_path": "file:/sp/2", "is_savepoint": True},
        },
    }
    _Routes.routes.update(
        {
            f"/jobs/{JOB}": [
                (200, {"jid": JOB, "name": "orders", "state": "RUNNING", "start-time": 1700000000000})
            ],
            f"/jobs/{JOB}/checkpoints": [(200, checkpoints)],
            f"/jobs/{JOB}/metrics": [(200, [{"id": "numRestarts", "value": "0"}])],
        }
    )
    core = rest.observe_job(job_name="orders").for_completeness()
    assert (core.job_id, core.state, core.latest_checkpoint_id) == (JOB, JobState.RUNNING, 7)
    assert core.latest_checkpoint_trigger.timestamp() == 1700000060
    assert core.start_time.timestamp() == 1700000000
    assert (core.restored.checkpoint_id, core.restored.is_savepoint) == (2, True)


def test_a_checkpoint_interval_of_long_max_is_no_interval() -> None:
    """Flink reports Long.MAX_VALUE for a job without periodic checkpoints (a batch job)."""
    from datetime import timedelta

    from airflow_provider_rtp.flink.rest import _periodic_interval

    assert _periodic_interval(10_000) == timedelta(seconds=10)
    assert _periodic_interval(2**63 - 1) is None
    assert _periodic_interval(0) is None and _periodic_interval(None) is None
