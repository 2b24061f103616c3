"""The one evaluator behind the completeness sensor, its trigger and the event-driven trigger.

A :class:`CompletenessCheck` is what a DAG declares (pipeline, policy, connection
ids); it serialises into trigger kwargs. :func:`run_check` answers it for one
window with clients built from already fetched connections, so the sensor's
``poke()`` calls it directly and the triggers call it in a thread after fetching
the connections asynchronously. A decided window is persisted by the caller
(the table asset's state store) and handed back here, so it is answered with the
same snapshot instead of being decided again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from airflow_provider_rtp.completeness import (
    CompletenessError,
    Decision,
    InvalidWindowError,
    PersistedDecision,
    Pipeline,
    Policy,
    Stage,
    Verdict,
    Window,
)
from airflow_provider_rtp.completeness._time import parse_utc, to_iso
from airflow_provider_rtp.evaluation.gather import DEFAULT_CHECKPOINT_WAIT, evaluate
from airflow_provider_rtp.exceptions import (
    ClickHouseError,
    FlinkConnectionError,
    InvalidInputError,
    KafkaError,
    RtpError,
)
from airflow_provider_rtp.flink import FlinkRestClient
from airflow_provider_rtp.iceberg.snapshot_log import read_snapshot_log
from airflow_provider_rtp.kafka import KafkaLagReader, is_transient_kafka_error

__all__ = ["CheckResult", "Clients", "CompletenessCheck", "is_transient", "run_check"]

# Completed checkpoints after which a running job has surely committed offsets for what it read.
_CHECKPOINTS_BEFORE_GROUP_CHECK = 3
# Group states of a group the broker does not know (never committed, or expired).
_UNKNOWN_GROUP_STATES = {"DEAD", "UNKNOWN"}


@dataclass(frozen=True)
class CompletenessCheck:
    """What to check: the pipeline feeding a table, the policy, and where its systems are.

    :param kafka_conn_id: a ``kafka`` connection whose extra is a librdkafka config
        (``bootstrap.servers``, security settings), as the Apache Kafka provider's.
    :param clickhouse_conn_id: read instead of ``iceberg_conn_id`` when the pipeline's sink is
        ClickHouse (to check that its table exists).
    """

    pipeline: Pipeline
    policy: Policy = field(default_factory=Policy)
    rtp_conn_id: str = "rtp_default"
    kafka_conn_id: str = "kafka_default"
    iceberg_conn_id: str = "iceberg_default"
    clickhouse_conn_id: str = "clickhouse_default"

    @property
    def conn_ids(self) -> tuple[str, str, str]:
        """The connections the check reads: the third is where the commit is looked up."""
        target = self.clickhouse_conn_id if self.pipeline.sink == "clickhouse" else self.iceberg_conn_id
        return (self.rtp_conn_id, self.kafka_conn_id, target)

    def to_dict(self) -> dict[str, Any]:
        p = self.pipeline
        return {
            "pipeline": p.to_dict(),
            "policy": self.policy.to_dict(),
            "rtp_conn_id": self.rtp_conn_id,
            "kafka_conn_id": self.kafka_conn_id,
            "iceberg_conn_id": self.iceberg_conn_id,
            "clickhouse_conn_id": self.clickhouse_conn_id,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CompletenessCheck:
        return cls(
            pipeline=Pipeline.from_dict(raw["pipeline"]),
            policy=Policy.from_dict(raw["policy"]),
            rtp_conn_id=raw["rtp_conn_id"],
            kafka_conn_id=raw["kafka_conn_id"],
            iceberg_conn_id=raw["iceberg_conn_id"],
            clickhouse_conn_id=raw.get("clickhouse_conn_id", "clickhouse_default"),
        )


class Clients(Protocol):
    """The three systems one check reads, already configured.

    :class:`~airflow_provider_rtp.hooks.completeness.CheckClients` builds them from connections.
    For a ClickHouse-sink pipeline ``catalog`` is not read; an attribute ``clickhouse`` with
    ``table_engine(database, table)`` (a ClickHouseHook), when present, is asked whether the
    declared table exists.
    """

    @property
    def kafka(self) -> KafkaLagReader: ...

    @property
    def flink(self) -> FlinkRestClient: ...

    @property
    def catalog(self) -> Any: ...


@dataclass(frozen=True)
class CheckResult:
    """One evaluation's outcome. ``decision`` is ``None`` when a persisted decision was reused."""

    window: Window
    verdict: Verdict
    report: str
    decision: Decision | None = None
    record: PersistedDecision | None = None  # set when complete
    snapshot_id: int | None = None
    pipeline_key: str | None = None  # what was checked: a stored decision is reused only for the same

    @property
    def complete(self) -> bool:
        return self.verdict is Verdict.COMPLETE

    @property
    def reused(self) -> bool:
        return self.record is not None and self.decision is None

    @property
    def blocker(self) -> str | None:
        """Why the window is not complete, in the report's own words: the blocking stage's line
        (or, for a system that is unavailable, the error's); ``None`` when complete."""
        if self.complete:
            return None
        lines = [line.strip() for line in self.report.splitlines()[1:]]
        blocking = self.decision.blocking if self.decision is not None else None
        if blocking is not None:
            lines = [line for line in lines if line.split(" ", 1)[0] == blocking.value]
        return lines[0] if lines else None

    def xcom(self) -> dict[str, Any]:
        """``{snapshot_id, window, watermarks, decided_at}`` plus the covering job and checkpoint."""
        if self.record is None:
            raise CompletenessError(f"window {self.window.label()} is not complete: no XCom to push")
        out = self.record.to_dict()
        out["snapshot_id"] = self.snapshot_id
        out["decided_snapshot_id"] = self.record.snapshot_id
        return out

    def stored(self) -> dict[str, Any]:
        """What to persist for this window: the record and the target it was decided for."""
        if self.record is None or self.decision is None:
            raise CompletenessError("only a fresh complete decision is persisted")
        return {
            **self.record.to_dict(),
            "target_time": to_iso(self.decision.target),
            "pipeline": self.pipeline_key,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for a trigger event."""
        return {
            "window": self.window.to_dict(),
            "verdict": self.verdict.value,
            "report": self.report,
            "record": self.record.to_dict() if self.record else None,
            "stored": self.stored() if self.record and self.decision else None,
            "snapshot_id": self.snapshot_id,
            "reused": self.reused,
        }


def check_window(window: Window, policy: Policy, now: datetime) -> None:
    """Refuse a window the evaluation could only wait for forever, before any I/O."""
    if window.end > now + policy.future_window_limit:
        raise InvalidWindowError(
            f"window {window.label()} ends more than {policy.future_window_limit} after now "
            f"({to_iso(now)}); check the window, or raise future_window_limit"
        )


def run_check(
    check: CompletenessCheck,
    window: Window,
    clients: Clients,
    *,
    persisted: Any = None,
    now: datetime | None = None,
    kafka_held_since: datetime | None = None,
    checkpoint_wait: timedelta = DEFAULT_CHECKPOINT_WAIT,
) -> CheckResult:
    """Answer ``check`` for ``window``: a persisted decision if there is a valid one, else decide now.

    :param persisted: the stored record of this window (``PersistedDecision.to_dict()``), if any.
    :param kafka_held_since: ClickHouse sink: ``decision.kafka_held_at`` of the first of the
        caller's evaluations of this window in a row whose Kafka stage held (see
        :func:`~airflow_provider_rtp.evaluation.gather.evaluate`).
    :param checkpoint_wait: ClickHouse sink: how long to watch J for the checkpoint still missing.
    :raises InvalidInputError, RtpError: bad input, named; the caller fails the task.
    """
    now = now or datetime.now(tz=UTC)
    check_window(window, check.policy, now)
    if persisted is not None:
        reused = _reuse(check, window, clients, persisted)
        if reused is not None:
            return reused
    try:
        return _decide(check, window, clients, now, kafka_held_since, checkpoint_wait)
    except (RtpError, OSError) as exc:
        if not is_transient(exc):
            raise
        # A system that is restarting is a reason to wait, not to fail: report it and ask again.
        report = f"window {window.label()} → WAITING (unavailable)\n  {type(exc).__name__}: {exc}"
        return CheckResult(window=window, verdict=Verdict.WAITING, report=report)


def is_transient(exc: BaseException) -> bool:
    """Connection-level trouble (a broker or JobManager restarting), as opposed to bad input."""
    if isinstance(exc, FlinkConnectionError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ClickHouseError):  # only unreachable; a rejected statement is not transient
        cause = exc.__cause__
        return isinstance(cause, OSError) or type(cause).__name__ in ("NetworkError", "SocketTimeoutError")
    return isinstance(exc, KafkaError) and is_transient_kafka_error(exc)


def _refuse_unknown_group(check: CompletenessCheck, clients: Clients) -> None:
    """A misspelt group never gets a commit: fail once the job has clearly had the chance to commit.

    A group exists only after its first commit, so a new pipeline (or one whose job was
    cancelled before it committed) legitimately has none yet: that waits.
    """
    pipeline = check.pipeline
    state = clients.kafka.group_state(pipeline.group)
    if state.upper() not in _UNKNOWN_GROUP_STATES:
        return
    flink = clients.flink
    job = flink.find_running_job(pipeline.ingestion_job)
    if job is None:
        return
    completed = flink.checkpoints(job.job_id).completed
    if completed >= _CHECKPOINTS_BEFORE_GROUP_CHECK:
        raise KafkaError(
            f"consumer group {pipeline.group!r} is unknown to the Kafka cluster (state {state}) although "
            f"job {pipeline.ingestion_job!r} completed {completed} checkpoints: check the group name, and "
            "that the job sets group.id and commits offsets on checkpoints"
        )


def _check_clickhouse_table(check: CompletenessCheck, clients: Clients) -> None:
    """A declared ClickHouse table that does not exist is bad input, named with where it was looked."""
    pipeline = check.pipeline
    lookup = getattr(clients, "clickhouse", None)
    if pipeline.sink != "clickhouse" or lookup is None or pipeline.clickhouse_table is None:
        return
    database, table = pipeline.clickhouse_table.split(".", 1)
    try:
        lookup.table_engine(database, table)
    except InvalidInputError:
        raise InvalidInputError(
            f"pipeline {pipeline.table}: ClickHouse table {pipeline.clickhouse_table} does not exist on "
            f"connection {check.clickhouse_conn_id!r}; check clickhouse_table in the declaration"
        ) from None


def _decide(
    check: CompletenessCheck,
    window: Window,
    clients: Clients,
    now: datetime,
    kafka_held_since: datetime | None = None,
    checkpoint_wait: timedelta = DEFAULT_CHECKPOINT_WAIT,
) -> CheckResult:
    pipeline = check.pipeline
    kafka = clients.kafka
    _check_clickhouse_table(check, clients)
    decision = evaluate(
        pipeline,
        window,
        check.policy,
        kafka=kafka,
        flink=clients.flink,
        catalog=clients.catalog if pipeline.sink == "iceberg" else None,
        now=now,
        kafka_held_since=kafka_held_since,
        checkpoint_wait=checkpoint_wait,
    )
    if decision.blocking is Stage.KAFKA:
        _refuse_unknown_group(check, clients)
    record = PersistedDecision.from_decision(decision) if decision.is_complete else None
    return CheckResult(
        window=window,
        verdict=decision.verdict,
        report=decision.report(),
        decision=decision,
        record=record,
        snapshot_id=record.snapshot_id if record else None,
        pipeline_key=pipeline_key(pipeline),
    )


def pipeline_key(pipeline: Pipeline) -> str:
    """The pipeline a decision was taken for, as stored beside it."""
    return pipeline.key()


def _reuse(check: CompletenessCheck, window: Window, clients: Clients, raw: Any) -> CheckResult | None:
    record = PersistedDecision.from_dict(raw)
    if record.window != window or raw.get("pipeline") != pipeline_key(check.pipeline):
        return None  # another window, or decided for other topics, group or jobs: decide afresh
    decided_target = parse_utc(raw.get("target_time"), "target_time")
    if decided_target is None or decided_target < window.target(check.policy):
        return None  # decided under a smaller lateness or margin: it proves less than asked now
    if record.snapshot_id is None:  # a ClickHouse sink: nothing to resolve, no catalog to read
        report = (
            f"window {window.label()} → COMPLETE (decided at {to_iso(record.decided_at)}, reused)\n"
            f"  {record.target}: job {record.commit.job_id} checkpoint {record.commit.checkpoint_id}"
        )
        return CheckResult(window=window, verdict=Verdict.COMPLETE, report=report, record=record)
    resolution = record.resolve(read_snapshot_log(clients.catalog, check.pipeline.table))
    note = ""
    if resolution.expired:
        note = f" (snapshot {record.snapshot_id} was expired; its descendant, main's head, is handed out)"
    report = (
        f"window {window.label()} → COMPLETE (decided at {to_iso(record.decided_at)}, reused)\n"
        f"  {record.target}: snapshot {resolution.snapshot_id}, job {record.commit.job_id} "
        f"checkpoint {record.commit.checkpoint_id}{note}"
    )
    return CheckResult(
        window=window,
        verdict=Verdict.COMPLETE,
        report=report,
        record=record,
        snapshot_id=resolution.snapshot_id,
    )
