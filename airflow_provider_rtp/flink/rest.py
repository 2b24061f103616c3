"""Client of the Flink JobManager REST API (the endpoints of ``/v1``)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

from airflow_provider_rtp.completeness.observations import RestoreInfo
from airflow_provider_rtp.exceptions import (
    FlinkError,
    FlinkJobAmbiguous,
    FlinkJobNotFound,
    FlinkOperationTimeout,
    InvalidInputError,
)
from airflow_provider_rtp.flink._http import HttpSettings, JsonHttpClient
from airflow_provider_rtp.flink.diagnosis import JobDiagnosis, Thresholds, VertexLoad, diagnose, vertex_load
from airflow_provider_rtp.flink.job_wait import (
    JobFailure,
    JobObservation,
    JobVerdict,
    JobWaitCriteria,
    Progress,
    Verdict,
    VertexParallelism,
    evaluate_job,
    failures_from_rest,
    restarts_from_history,
)
from airflow_provider_rtp.flink.models import CheckpointStats, JobState, JobSummary, SavepointResult
from airflow_provider_rtp.flink.rescale import scheduler_of
from airflow_provider_rtp.flink.restore import RestorePoint, newest_restore_point, restore_points

__all__ = ["FlinkRestClient", "JarRun", "is_missing_jar", "jar_checksum"]

log = logging.getLogger(__name__)


class JarRun(TypedDict, total=False):
    """How to run an uploaded jar (``POST /jars/:id/run``)."""

    entry_class: str | None
    args: Sequence[str]
    parallelism: int | None
    savepoint_path: str | None
    allow_non_restored_state: bool
    restore_mode: str | None
    flink_configuration: Mapping[str, str] | None


_RUN_BODY_KEYS = (
    ("entryClass", "entry_class"),
    ("parallelism", "parallelism"),
    ("savepointPath", "savepoint_path"),
    ("restoreMode", "restore_mode"),
)

# Uploaded jars are stored as "<uuid>_<name>"; we name them "<sha256[:16]>-<name>"
# so an identical jar already on the cluster is found and reused.
_CHECKSUM_LEN = 16
_LOAD_METRICS = ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond")


def jar_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:_CHECKSUM_LEN]


def is_missing_jar(exc: FlinkError, jar_id: str) -> bool:
    """Whether running ``jar_id`` failed because the jar is gone (e.g. deleted by whoever uploaded it)."""
    return any(jar_id in e and "does not exist" in e for e in exc.flink_errors)


class FlinkRestClient:
    """Talks to one JobManager. Pure I/O wrapper: no Airflow imports."""

    def __init__(self, settings: HttpSettings) -> None:
        self.http = JsonHttpClient(settings, system="Flink JobManager")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FlinkRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cluster ---------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self.http.request("GET", "/overview")

    def config(self) -> dict[str, Any]:
        return self.http.request("GET", "/config")

    # -- jobs --------------------------------------------------------------
    def list_jobs(self) -> list[JobSummary]:
        raw = self.http.request("GET", "/jobs/overview")
        return [JobSummary.from_overview(j) for j in raw.get("jobs", [])]

    def find_job(self, name: str) -> JobSummary | None:
        """The job called ``name`` (the name is the identity DAGs use): the live one, else the
        newest ended one, else None. A live job (starting, RUNNING, restarting, failing; not
        ended nor cancelling) wins over the other runs of the same name; two live ones make the
        name no identity."""
        if not name or not name.strip():
            raise InvalidInputError("job name must not be empty: it is the job's identity")
        named = [j for j in self.list_jobs() if j.name == name]
        # CANCELLING only ends in CANCELED: not live (an upgrade's new run may already be
        # starting beside it). FAILING may still restart, so it stays live.
        live = [j for j in named if not j.state.is_terminal and j.state is not JobState.CANCELLING]
        if len(live) > 1:
            ids = ", ".join(f"{j.job_id} ({j.state})" for j in live)
            raise FlinkJobAmbiguous(
                f"{len(live)} live Flink jobs are named {name!r} ({ids}); "
                "cancel the extra ones so the name identifies one job"
            )
        if live:
            return live[0]
        return max(named, key=lambda j: (j.start_time_ms, j.end_time_ms or 0), default=None)

    def find_running_job(self, name: str) -> JobSummary | None:
        """The live job called ``name`` (see :meth:`find_job`), or None when none is live."""
        job = self.find_job(name)
        ended = job is None or job.state.is_terminal or job.state is JobState.CANCELLING
        return None if ended else job

    def get_running_job(self, name: str) -> JobSummary:
        job = self.find_running_job(name)
        if job is None:
            raise FlinkJobNotFound(
                f"no RUNNING Flink job named {name!r}; running jobs: {self._running_names()}"
            )
        return job

    def _running_names(self) -> str:
        running = sorted({j.name for j in self.list_jobs() if j.state is JobState.RUNNING})
        shown = ", ".join(running[:20]) + (f" (+{len(running) - 20} more)" if len(running) > 20 else "")
        return shown or "none"

    def job_details(self, job_id: str) -> dict[str, Any]:
        try:
            return self.http.request("GET", f"/jobs/{job_id}")
        except FlinkError as exc:
            if exc.status == 404:
                raise FlinkJobNotFound(f"Flink job {job_id} does not exist: {exc}") from exc
            raise

    def job_state(self, job_id: str) -> JobState:
        return JobState.parse(self.job_details(job_id)["state"])

    def checkpoints(self, job_id: str) -> CheckpointStats:
        return CheckpointStats.from_rest(self.http.request("GET", f"/jobs/{job_id}/checkpoints"))

    def exceptions(self, job_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"/jobs/{job_id}/exceptions")

    def cancel(self, job_id: str) -> None:
        self.http.request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    # -- observing and waiting -------------------------------------------------
    def observe_job(self, *, job_id: str | None = None, job_name: str | None = None) -> JobObservation:
        """One look at the job, by id or by name (:meth:`find_job`); an unknown name fails."""
        if bool(job_id) == bool(job_name):
            raise InvalidInputError("give exactly one of job_id and job_name")
        if not job_id:
            found = self.find_job(str(job_name))
            if found is None:
                raise FlinkJobNotFound(
                    f"no Flink job named {job_name!r} on the cluster; running jobs: {self._running_names()}"
                )
            job_id = found.job_id
        details = self.job_details(job_id)
        state = JobState.parse(str(details["state"]))
        stats = self._checkpoint_stats(job_id)
        restarts = self._restarts(job_id)
        failures: tuple[JobFailure, ...] = ()
        if restarts or state in (JobState.FAILING, JobState.RESTARTING) or state.is_terminal:
            failures = failures_from_rest(self.exceptions(job_id) or {})
        enabled = None
        if state is JobState.RUNNING and stats.latest_completed_id is None:
            enabled = self._checkpointing_enabled(job_id)
        restored = None
        if stats.restored_id is not None:
            restored = RestoreInfo(stats.restored_id, stats.restored_path, stats.restored_is_savepoint)
        start = int(details.get("start-time", -1))
        return JobObservation(
            job_id=job_id,
            name=str(details.get("name", job_name or "")),
            state=state,
            # The metric is refreshed every few seconds and gone once the job ends; the history is current.
            restarts=max(restarts or 0, restarts_from_history(state, failures)),
            latest_checkpoint_id=stats.latest_completed_id,
            checkpoints_in_progress=stats.in_progress,
            failed_checkpoints=stats.failed,
            checkpoint_failure=stats.latest_failure,
            failures=failures,
            checkpointing_enabled=enabled,
            latest_checkpoint_trigger_ms=stats.latest_completed_trigger_ms,
            previous_checkpoint_trigger_ms=stats.previous_completed_trigger_ms,
            start_time_ms=start if start >= 0 else None,
            restored=restored,
            vertices=tuple(
                VertexParallelism(str(v["id"]), str(v.get("name", v["id"])), int(v.get("parallelism", 0)))
                for v in details.get("vertices") or []
            ),
        )

    def wait_for_job(
        self,
        criteria: JobWaitCriteria,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        timeout: float,
        poll_interval: float = 2.0,
        seen: Progress | None = None,
    ) -> JobVerdict:
        """Look at the job every ``poll_interval`` seconds until :func:`evaluate_job` ends the wait.

        The synchronous twin of the deferrable trigger: a job that fails (or ends otherwise)
        fails the wait at the next look, with Flink's root cause; restarts and failed
        checkpoints are logged as they appear.
        """
        if poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        deadline = time.monotonic() + timeout
        seen = seen or Progress()
        while True:
            verdict = evaluate_job(self.observe_job(job_id=job_id, job_name=job_name), criteria, seen)
            for note in verdict.notes:
                log.warning("%s", note)
            seen = verdict.progress
            if verdict.verdict is Verdict.DONE:
                log.info("%s", verdict.message)
                return verdict
            if verdict.verdict is Verdict.FAILED:
                raise FlinkError(verdict.message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FlinkOperationTimeout(f"{verdict.message}; gave up after {timeout:.0f}s")
            log.info("%s", verdict.message)
            time.sleep(min(poll_interval, remaining))

    def wait_for_state(
        self, job_id: str, states: Sequence[JobState], timeout: float, poll: float = 1.0
    ) -> JobState:
        """:meth:`wait_for_job` for one of ``states``; returns the state reached."""
        verdict = self.wait_for_job(
            JobWaitCriteria.of(states), job_id=job_id, timeout=timeout, poll_interval=poll
        )
        return JobState.parse(str(verdict.result["state"]))

    def wait_for_checkpoint(self, job_id: str, timeout: float = 120.0, poll: float = 1.0) -> CheckpointStats:
        """:meth:`wait_for_job` for RUNNING with a completed checkpoint; returns the statistics."""
        criteria = JobWaitCriteria.of([JobState.RUNNING], wait_for_checkpoint=True)
        self.wait_for_job(criteria, job_id=job_id, timeout=timeout, poll_interval=poll)
        return self.checkpoints(job_id)

    def _checkpoint_stats(self, job_id: str) -> CheckpointStats:
        try:
            return self.checkpoints(job_id)
        except FlinkError as exc:
            # A job without checkpointing (or not yet scheduled) has no statistics.
            if exc.status == 404:
                return CheckpointStats.from_rest({})
            raise

    def _checkpointing_enabled(self, job_id: str) -> bool | None:
        try:
            config = self.http.request("GET", f"/jobs/{job_id}/checkpoints/config") or {}
        except FlinkError as exc:
            if exc.status == 404:
                return None
            raise
        interval = config.get("interval")
        return None if interval is None else _periodic_interval(interval) is not None

    def checkpoint_interval(self, job_id: str) -> timedelta | None:
        """How often the job checkpoints; None when it takes no periodic checkpoints (a batch
        job, checkpointing off) or no longer exists."""
        try:
            config = self.http.request("GET", f"/jobs/{job_id}/checkpoints/config") or {}
        except FlinkError:
            return None  # ended meanwhile, or no checkpointing
        return _periodic_interval(config.get("interval"))

    def _restarts(self, job_id: str) -> int | None:
        raw = self.http.request("GET", f"/jobs/{job_id}/metrics", params={"get": "numRestarts"}) or []
        for metric in raw:
            if metric.get("id") == "numRestarts" and "value" in metric:
                return int(float(metric["value"]))
        return None

    def plan(self, job_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"/jobs/{job_id}/plan")["plan"]

    def terminated_jobs(self, name: str) -> list[JobSummary]:
        """Jobs of that name the JobManager still remembers after they ended (its job store)."""
        return [j for j in self.list_jobs() if j.name == name and j.state.is_terminal]

    def newest_restore_point(self, name: str) -> RestorePoint | None:
        """The newest savepoint or retained checkpoint of any terminated job called ``name``."""
        points: list[RestorePoint] = []
        for job in self.terminated_jobs(name):
            raw = self.http.request("GET", f"/jobs/{job.job_id}/checkpoints")
            points.extend(restore_points(job.job_id, raw))
        return newest_restore_point(points)

    # -- scaling and load ----------------------------------------------------
    def scheduler(self, job_id: str) -> str:
        """``default`` or ``adaptive`` (or another ``jobmanager.scheduler`` value) the job runs under."""
        return scheduler_of(self.http.request("GET", f"/jobs/{job_id}/jobmanager/config"))

    def resource_requirements(self, job_id: str) -> dict[str, Any]:
        """Vertex id -> ``{"parallelism": {"lowerBound", "upperBound"}}``; adaptive scheduler only."""
        return self._requirements("GET", job_id)

    def set_resource_requirements(self, job_id: str, requirements: Mapping[str, Any]) -> None:
        self._requirements("PUT", job_id, dict(requirements))

    def _requirements(self, method: str, job_id: str, body: Any = None) -> Any:
        try:
            return self.http.request(method, f"/jobs/{job_id}/resource-requirements", json=body)
        except FlinkError as exc:
            if exc.status == 404:
                raise FlinkJobNotFound(f"Flink job {job_id} does not exist: {exc}") from exc
            if "UnsupportedOperationException" in str(exc):
                raise FlinkError(
                    f"Flink job {job_id} does not run under the adaptive scheduler, so its resource "
                    "requirements cannot change in place (that needs jobmanager.scheduler: adaptive); "
                    f"Flink said: {exc}",
                    status=exc.status,
                    flink_errors=exc.flink_errors,
                ) from exc
            raise

    def vertex_metrics(
        self, job_id: str, vertex_id: str, names: Sequence[str] = _LOAD_METRICS
    ) -> dict[str, dict[str, float]]:
        """Metrics aggregated over the vertex's subtasks: metric id -> {min, max, avg, sum}."""
        raw = self.http.request(
            "GET",
            f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics",
            params={"get": ",".join(names), "agg": "min,max,avg,sum"},
        )
        return {str(m["id"]): {k: v for k, v in m.items() if k != "id"} for m in raw or []}

    def vertex_metric_ids(self, job_id: str, vertex_id: str) -> list[str]:
        """Ids of the metrics the vertex's subtasks report (operator metrics carry the operator's name)."""
        raw = self.http.request("GET", f"/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics")
        return [str(m["id"]) for m in raw or []]

    def backpressure(self, job_id: str, vertex_id: str, timeout: float = 10.0) -> dict[str, Any] | None:
        """The vertex's backpressure sample; the first request only starts sampling, so poll briefly.

        None when Flink cannot tell yet: right after a restore, Flink 1.20 answers HTTP 500
        (``NoSuchElementException: No value present`` in ``JobVertexBackPressureHandler``)
        until the vertex's subtasks have reported.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                raw = self.http.request("GET", f"/jobs/{job_id}/vertices/{vertex_id}/backpressure")
            except FlinkError as exc:
                if exc.status is None or exc.status < 500:
                    raise
                log.info("Backpressure of vertex %s of job %s not known yet: %s", vertex_id, job_id, exc)
                return None
            if raw.get("status") == "ok" or time.monotonic() > deadline:
                return raw
            time.sleep(0.5)

    def vertex_loads(self, job_id: str, metrics_timeout: float = 20.0) -> list[VertexLoad]:
        """Load of every vertex. The REST server fetches metrics from the TaskManagers periodically
        (``metrics.fetcher.update-interval``, 10 s), so a young job's are polled for a little while."""
        details = self.job_details(job_id)
        inputs = {
            str(node["id"]): [str(i["id"]) for i in node.get("inputs") or []]
            for node in self.plan(job_id).get("nodes", [])
        }
        deadline = time.monotonic() + metrics_timeout
        loads = []
        for v in details.get("vertices", []):
            while True:
                load = vertex_load(
                    v,
                    self.vertex_metrics(job_id, v["id"]),
                    inputs=inputs.get(str(v["id"]), []),
                    backpressure=self.backpressure(job_id, v["id"]),
                )
                if load.busy_avg is not None or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
            loads.append(load)
        return loads

    def diagnose(self, name: str, thresholds: Thresholds | None = None) -> JobDiagnosis:
        """Per-vertex busy/backpressure of the RUNNING job called ``name`` and a suggested parallelism."""
        job = self.get_running_job(name)
        return diagnose(job.job_id, name, self.vertex_loads(job.job_id), thresholds)

    # -- savepoints --------------------------------------------------------
    def trigger_savepoint(
        self, job_id: str, target_directory: str | None = None, cancel_job: bool = False
    ) -> str:
        body: dict[str, Any] = {"cancel-job": cancel_job}
        if target_directory:
            body["target-directory"] = target_directory
        return self.http.request("POST", f"/jobs/{job_id}/savepoints", json=body)["request-id"]

    def stop_with_savepoint(
        self, job_id: str, target_directory: str | None = None, drain: bool = False
    ) -> str:
        body: dict[str, Any] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = target_directory
        return self.http.request("POST", f"/jobs/{job_id}/stop", json=body)["request-id"]

    def wait_for_savepoint(
        self, job_id: str, request_id: str, timeout: float = 300.0, poll: float = 1.0
    ) -> SavepointResult:
        deadline = time.monotonic() + timeout
        while True:
            raw = self.http.request("GET", f"/jobs/{job_id}/savepoints/{request_id}")
            if (raw.get("status") or {}).get("id") == "COMPLETED":
                op = raw.get("operation") or {}
                if "failure-cause" in op:
                    cause = op["failure-cause"]
                    text = cause.get("stack-trace") or cause.get("class") or str(cause)
                    raise FlinkError(f"savepoint of Flink job {job_id} failed: {text}")
                return SavepointResult(job_id=job_id, location=str(op["location"]))
            if time.monotonic() > deadline:
                raise FlinkOperationTimeout(
                    f"savepoint {request_id} of job {job_id} not done in {timeout:.0f}s"
                )
            time.sleep(poll)

    # -- jars --------------------------------------------------------------
    def list_jars(self) -> list[dict[str, Any]]:
        return list(self.http.request("GET", "/jars").get("files", []))

    def upload_jar(self, path: Path, *, reuse: bool = True) -> tuple[str, bool]:
        """Upload ``path`` unless (with ``reuse``) a jar with the same content is already there.

        Returns ``(jar_id, uploaded)``; ``uploaded`` is False when an identical
        jar was reused and zero bytes were sent.
        """
        if not path.is_file():
            raise FileNotFoundError(f"jar file {str(path)!r} does not exist")
        stored_name = f"{jar_checksum(path)}-{path.name}"
        for jar in self.list_jars() if reuse else ():
            if jar.get("name") == stored_name:
                return str(jar["id"]), False
        with path.open("rb") as fh:
            raw = self.http.request(
                "POST",
                "/jars/upload",
                files={"jarfile": (stored_name, fh, "application/x-java-archive")},
                timeout=600,
            )
        return Path(str(raw["filename"])).name, True

    def run_jar(self, jar_id: str, **run: Unpack[JarRun]) -> str:
        body: dict[str, Any] = {
            "programArgsList": list(run.get("args") or ()),
            "allowNonRestoredState": bool(run.get("allow_non_restored_state")),
        }
        for key, option in _RUN_BODY_KEYS:
            if run.get(option):
                body[key] = run.get(option)
        if run.get("flink_configuration"):
            body["flinkConfiguration"] = dict(run.get("flink_configuration") or {})
        return str(self.http.request("POST", f"/jars/{jar_id}/run", json=body, timeout=300)["jobid"])

    def delete_jar(self, jar_id: str) -> None:
        self.http.request("DELETE", f"/jars/{jar_id}")


def _periodic_interval(raw: Any) -> timedelta | None:
    """A checkpoint interval (ms) as Flink reports it; a job without checkpointing reports
    Long.MAX_VALUE, which is no interval."""
    interval = int(raw or 0)
    return timedelta(milliseconds=interval) if 0 < interval < 2**63 - 1 else None
