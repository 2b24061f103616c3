"""Waiting for a Flink job: one observation of the job, and one evaluator of it.

``observe_job`` reads the job's state, restarts, checkpoint counts and (when the
job has failed or restarted) its exception history. ``evaluate_job`` turns such
an observation into a verdict; it is pure, so the sensor's poke and the
trigger's loop decide identically and unit tests run it on plain data.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rtp.exceptions import FlinkError, FlinkJobNotFound
from airflow_provider_rtp.flink.models import JobState
from airflow_provider_rtp.flink.rest import FlinkRestClient

__all__ = [
    "JobFailure",
    "JobObservation",
    "JobVerdict",
    "JobWaitCriteria",
    "Progress",
    "Verdict",
    "evaluate_job",
    "find_job_by_name",
    "observe_job",
    "root_cause_line",
]

# Flink stack traces run to hundreds of lines; the message keeps the top of the
# chain and every "Caused by" line, which is where the root cause is.
_MAX_TRACE_CHARS = 6000


@dataclass(frozen=True)
class JobFailure:
    """One entry of the job's exception history (newest first in an observation)."""

    exception_name: str
    stacktrace: str
    timestamp_ms: int | None = None
    task_name: str | None = None


@dataclass(frozen=True)
class JobObservation:
    """What the JobManager said about one job at one moment."""

    job_id: str
    name: str
    state: JobState
    restarts: int = 0
    latest_checkpoint_id: int | None = None
    checkpoints_in_progress: int = 0
    failed_checkpoints: int = 0
    checkpoint_failure: str | None = None
    failures: tuple[JobFailure, ...] = ()
    # None when unknown; read only while the job is RUNNING without a completed checkpoint.
    checkpointing_enabled: bool | None = None


@dataclass(frozen=True)
class JobWaitCriteria:
    """The states that end the wait, and whether a completed checkpoint must follow RUNNING."""

    target_states: frozenset[JobState]
    wait_for_checkpoint: bool = False

    @classmethod
    def of(
        cls, target_states: Iterable[str | JobState], wait_for_checkpoint: bool = False
    ) -> JobWaitCriteria:
        if isinstance(target_states, str):
            target_states = [target_states]
        states = frozenset(JobState.parse(str(s)) for s in target_states)
        if not states:
            raise ValueError("target_states is empty: name at least one Flink job state, e.g. RUNNING")
        if wait_for_checkpoint and JobState.RUNNING not in states:
            raise ValueError("wait_for_checkpoint needs RUNNING among target_states")
        return cls(states, wait_for_checkpoint)

    def describe(self) -> str:
        states = "/".join(sorted(self.target_states))
        return f"{states} and a completed checkpoint" if self.wait_for_checkpoint else states


@dataclass(frozen=True)
class Progress:
    """Restarts and failed checkpoints already reported, so each is reported once."""

    restarts: int = 0
    failed_checkpoints: int = 0


class Verdict(enum.StrEnum):
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobVerdict:
    verdict: Verdict
    message: str
    notes: tuple[str, ...] = ()
    progress: Progress = field(default_factory=Progress)
    result: Mapping[str, Any] = field(default_factory=dict)


def root_cause_line(stacktrace: str) -> str:
    """The innermost ``Caused by:`` of a Java stack trace, else its first line."""
    lines = [line.strip() for line in stacktrace.splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")]
    if causes:
        return causes[-1]
    return lines[0] if lines else "no exception recorded"


def _trimmed(stacktrace: str) -> str:
    if len(stacktrace) <= _MAX_TRACE_CHARS:
        return stacktrace
    keep = [line for line in stacktrace.splitlines() if not line.lstrip().startswith("at ")]
    text = "\n".join(keep)
    return text if len(text) <= _MAX_TRACE_CHARS else text[:_MAX_TRACE_CHARS] + "\n…(truncated)"


def evaluate_job(obs: JobObservation, criteria: JobWaitCriteria, seen: Progress | None = None) -> JobVerdict:
    """Is the wait over, still on, or failed? Also notes restarts and failed checkpoints not seen before."""
    seen = seen or Progress()
    desc = f"Flink job {obs.name!r} ({obs.job_id})"
    notes: list[str] = []
    if obs.restarts > seen.restarts:
        last = f"; last failure: {root_cause_line(obs.failures[0].stacktrace)}" if obs.failures else ""
        notes.append(
            f"{desc} has restarted {obs.restarts} time(s) (+{obs.restarts - seen.restarts} since the "
            f"last check){last}"
        )
    if obs.failed_checkpoints > seen.failed_checkpoints:
        why = f"; latest: {obs.checkpoint_failure}" if obs.checkpoint_failure else ""
        notes.append(
            f"{desc} has {obs.failed_checkpoints} failed checkpoint(s) "
            f"(+{obs.failed_checkpoints - seen.failed_checkpoints}){why}"
        )
    progress = Progress(
        restarts=max(obs.restarts, seen.restarts),
        failed_checkpoints=max(obs.failed_checkpoints, seen.failed_checkpoints),
    )
    result = {
        "job_id": obs.job_id,
        "job_name": obs.name,
        "state": str(obs.state),
        "checkpoint_id": obs.latest_checkpoint_id,
        "restarts": obs.restarts,
        "failed_checkpoints": obs.failed_checkpoints,
    }

    def verdict(kind: Verdict, message: str) -> JobVerdict:
        return JobVerdict(kind, message, tuple(notes), progress, result)

    wanted = criteria.describe()
    if obs.state in criteria.target_states:
        if not criteria.wait_for_checkpoint or obs.latest_checkpoint_id is not None:
            done = f"{desc} is {obs.state}"
            if obs.latest_checkpoint_id is not None and criteria.wait_for_checkpoint:
                done += f", checkpoint {obs.latest_checkpoint_id} completed"
            return verdict(Verdict.DONE, done)
        if obs.checkpointing_enabled is False:
            return verdict(
                Verdict.FAILED,
                f"{desc} has checkpointing disabled, so it will never complete a checkpoint: set "
                "execution.checkpointing.interval for the job, or do not wait for a checkpoint",
            )
        if not obs.state.is_terminal:
            return verdict(
                Verdict.WAITING,
                f"{desc} is {obs.state}; waiting for its first completed checkpoint "
                f"({obs.checkpoints_in_progress} in progress, {obs.failed_checkpoints} failed)",
            )
    if obs.state.is_terminal:
        message = f"{desc} is {obs.state} while waiting for {wanted}"
        if obs.restarts:
            message += f" (after {obs.restarts} restart(s))"
        if obs.failures:
            newest = obs.failures[0]
            message += f"; root cause: {root_cause_line(newest.stacktrace)}\n{_trimmed(newest.stacktrace)}"
        elif obs.state is JobState.FAILED:
            message += "; Flink recorded no exception for it"
        return verdict(Verdict.FAILED, message)
    return verdict(Verdict.WAITING, f"{desc} is {obs.state}; waiting for {wanted}")


# -- reading the job from the JobManager ------------------------------------------


def find_job_by_name(rest: FlinkRestClient, name: str) -> str:
    """The id of the live job called ``name``, else of the newest finished one; unknown names fail."""
    if not name or not name.strip():
        raise ValueError("job_name must not be empty")
    live = rest.find_running_job(name)
    if live is not None:
        return live.job_id
    jobs = rest.list_jobs()
    named = [j for j in jobs if j.name == name]
    if named:
        return max(named, key=lambda j: j.start_time_ms).job_id
    running = sorted({j.name for j in jobs if j.state is JobState.RUNNING})
    shown = ", ".join(running[:20]) + (f" (+{len(running) - 20} more)" if len(running) > 20 else "")
    raise FlinkJobNotFound(f"no Flink job named {name!r} on the cluster; running jobs: {shown or 'none'}")


def observe_job(
    rest: FlinkRestClient, *, job_id: str | None = None, job_name: str | None = None
) -> JobObservation:
    """One look at the job (by id, or by name via :func:`find_job_by_name`)."""
    if bool(job_id) == bool(job_name):
        raise ValueError("give exactly one of job_id and job_name")
    jid = job_id or find_job_by_name(rest, str(job_name))
    details = rest.job_details(jid)
    state = JobState.parse(str(details["state"]))
    checkpoints = _checkpoints(rest, jid)
    counts = checkpoints.get("counts") or {}
    latest = checkpoints.get("latest") or {}
    completed = latest.get("completed") or {}
    failed = latest.get("failed") or {}
    restarts = _restarts(rest, jid)
    failures: tuple[JobFailure, ...] = ()
    if restarts or state in (JobState.FAILING, JobState.FAILED, JobState.RESTARTING) or state.is_terminal:
        failures = _failures(rest, jid)
    latest_checkpoint_id = int(completed["id"]) if "id" in completed else None
    enabled = None
    if state is JobState.RUNNING and latest_checkpoint_id is None:
        enabled = _checkpointing_enabled(rest, jid)
    return JobObservation(
        job_id=jid,
        name=str(details.get("name", job_name or "")),
        state=state,
        # The metric is refreshed every few seconds and gone once the job ends; the history is current.
        restarts=max(restarts or 0, _restarts_from_history(state, failures)),
        latest_checkpoint_id=latest_checkpoint_id,
        checkpoints_in_progress=int(counts.get("in_progress", 0)),
        failed_checkpoints=int(counts.get("failed", 0)),
        checkpoint_failure=failed.get("failure_message"),
        failures=failures,
        checkpointing_enabled=enabled,
    )


def _checkpoints(rest: FlinkRestClient, job_id: str) -> dict[str, Any]:
    try:
        return rest.http.request("GET", f"/jobs/{job_id}/checkpoints") or {}
    except FlinkError as exc:
        # A job without checkpointing (or not yet scheduled) has no statistics.
        if exc.status == 404:
            return {}
        raise


def _checkpointing_enabled(rest: FlinkRestClient, job_id: str) -> bool | None:
    try:
        config = rest.http.request("GET", f"/jobs/{job_id}/checkpoints/config") or {}
    except FlinkError as exc:
        if exc.status == 404:
            return None
        raise
    # A job without checkpointing reports the interval as Long.MAX_VALUE.
    interval = config.get("interval")
    return None if interval is None else 0 < int(interval) < 2**63 - 1


def _restarts(rest: FlinkRestClient, job_id: str) -> int | None:
    raw = rest.http.request("GET", f"/jobs/{job_id}/metrics", params={"get": "numRestarts"}) or []
    for metric in raw:
        if metric.get("id") == "numRestarts" and "value" in metric:
            return int(float(metric["value"]))
    return None


def _restarts_from_history(state: JobState, failures: tuple[JobFailure, ...]) -> int:
    # Every failure but a FAILED job's last one led to a restart.
    return max(0, len(failures) - (1 if state is JobState.FAILED else 0))


def _failures(rest: FlinkRestClient, job_id: str) -> tuple[JobFailure, ...]:
    raw = rest.exceptions(job_id) or {}
    entries = (raw.get("exceptionHistory") or {}).get("entries") or []
    return tuple(
        JobFailure(
            exception_name=str(e.get("exceptionName", "")),
            stacktrace=str(e.get("stacktrace") or e.get("exceptionName") or ""),
            timestamp_ms=e.get("timestamp"),
            task_name=e.get("taskName"),
        )
        for e in entries
    )
