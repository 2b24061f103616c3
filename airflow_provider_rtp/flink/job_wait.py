"""Waiting for a Flink job: what one look at it saw, and the one evaluator of it. Pure: no I/O.

:meth:`FlinkRestClient.observe_job <airflow_provider_rtp.flink.rest.FlinkRestClient.observe_job>`
reads the job's state, restarts, checkpoints, vertices and (when the job has failed or
restarted) its exception history into a :class:`JobObservation`. :func:`evaluate_job`
turns it into a verdict. Every wait drives these two: the sync loop
(``FlinkRestClient.wait_for_job``, used by operators and by the sensor's poke) and the
deferrable trigger, so all of them decide alike and fail at once with Flink's root cause.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtp.completeness import observations as core
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.flink.models import JobState

__all__ = [
    "JobFailure",
    "JobObservation",
    "JobVerdict",
    "JobWaitCriteria",
    "Progress",
    "Verdict",
    "VertexParallelism",
    "evaluate_job",
    "failures_from_rest",
    "restarts_from_history",
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
class VertexParallelism:
    vertex_id: str
    name: str
    parallelism: int


@dataclass(frozen=True)
class JobObservation:
    """What the JobManager said about one job at one moment.

    The completeness core takes a narrower view of the same reads (:meth:`for_completeness`):
    it decides on state and checkpoints only, so restarts and failures stay here.
    """

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
    latest_checkpoint_trigger_ms: int | None = None
    previous_checkpoint_trigger_ms: int | None = None
    start_time_ms: int | None = None
    restored: core.RestoreInfo | None = None
    vertices: tuple[VertexParallelism, ...] = ()

    def for_completeness(self) -> core.JobObservation:
        """The completeness contract's input: the same reads, in the core's terms."""
        return core.JobObservation(
            job_id=self.job_id,
            name=self.name,
            state=self.state,
            latest_checkpoint_id=self.latest_checkpoint_id,
            latest_checkpoint_trigger=_utc_ms(self.latest_checkpoint_trigger_ms),
            committed_checkpoint_trigger=_utc_ms(self.previous_checkpoint_trigger_ms),
            start_time=_utc_ms(self.start_time_ms),
            restored=self.restored,
        )


def _utc_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None and ms >= 0 else None


@dataclass(frozen=True)
class JobWaitCriteria:
    """The states that end the wait, and what must hold besides once RUNNING: a completed
    checkpoint, or each vertex (by id) at its wanted parallelism."""

    target_states: frozenset[JobState]
    wait_for_checkpoint: bool = False
    parallelism: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(
        cls,
        target_states: Iterable[str | JobState],
        wait_for_checkpoint: bool = False,
        parallelism: Mapping[str, int] | None = None,
    ) -> JobWaitCriteria:
        if isinstance(target_states, str):
            target_states = [target_states]
        states = frozenset(JobState.parse(str(s)) for s in target_states)
        if not states:
            raise InvalidInputError("target_states is empty: name at least one Flink job state, e.g. RUNNING")
        if (wait_for_checkpoint or parallelism) and JobState.RUNNING not in states:
            raise InvalidInputError(
                "wait_for_checkpoint (or a parallelism) needs RUNNING among target_states"
            )
        return cls(states, wait_for_checkpoint, tuple(sorted((parallelism or {}).items())))

    def describe(self) -> str:
        states = "/".join(sorted(self.target_states))
        if self.wait_for_checkpoint:
            return f"{states} and a completed checkpoint"
        if self.parallelism:
            return f"{states} at the new parallelism"
        return states


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
    if obs.state in criteria.target_states and criteria.parallelism and obs.state is JobState.RUNNING:
        running = {v.vertex_id: v.parallelism for v in obs.vertices}
        if all(running.get(vid) == p for vid, p in criteria.parallelism):
            return verdict(Verdict.DONE, f"{desc} runs at {_by_name(obs)}")
        targets = dict(criteria.parallelism)
        want = {v.name: targets.get(v.vertex_id, v.parallelism) for v in obs.vertices}
        return verdict(
            Verdict.WAITING,
            f"{desc} runs at {_by_name(obs)}, waiting for {want} (are enough task slots free?)",
        )
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


def _by_name(obs: JobObservation) -> dict[str, int]:
    return {v.name: v.parallelism for v in obs.vertices}


def restarts_from_history(state: JobState, failures: tuple[JobFailure, ...]) -> int:
    """Every failure but a FAILED job's last one led to a restart."""
    return max(0, len(failures) - (1 if state is JobState.FAILED else 0))


def failures_from_rest(raw: Mapping[str, Any]) -> tuple[JobFailure, ...]:
    """The entries of ``GET /jobs/:id/exceptions`` (``exceptionHistory``), newest first."""
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
