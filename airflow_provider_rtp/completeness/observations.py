"""What one evaluation read from the systems, as plain frozen values.

Adapters (hooks, triggers) fill these in; nothing here performs I/O. Field
names follow the systems they come from so that an adapter is a thin mapping.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from airflow_provider_rtp.completeness._time import require_utc, require_utc_or_none, to_iso
from airflow_provider_rtp.completeness.errors import MalformedObservationError
from airflow_provider_rtp.completeness.models import Policy, Window
from airflow_provider_rtp.completeness.results import Advice, CommitPoint, Stage, StageResult
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "CdcObservation",
    "CommitOutcome",
    "CommitStage",
    "JobObservation",
    "JobState",
    "KafkaObservation",
    "LagSample",
    "Observations",
    "PartitionObservation",
    "RestoreInfo",
]


class JobState(enum.StrEnum):
    """Flink job states, as the JobManager REST API spells them (``flink`` re-exports this one enum)."""

    INITIALIZING = "INITIALIZING"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"
    SUSPENDED = "SUSPENDED"
    RECONCILING = "RECONCILING"

    @property
    def is_down(self) -> bool:
        """Failed, failing, restarting or cancelled: no progress until someone or something acts."""
        return self in _DOWN

    @property
    def is_starting(self) -> bool:
        return self in (JobState.CREATED, JobState.INITIALIZING, JobState.RECONCILING)

    @property
    def is_terminal(self) -> bool:
        """Ended: the job will not change state again (SUSPENDED only ends with its JobManager)."""
        return self in (JobState.FAILED, JobState.CANCELED, JobState.FINISHED, JobState.SUSPENDED)

    @classmethod
    def parse(cls, value: str) -> JobState:
        """Any case; an unknown state is an ``InvalidInputError`` naming it."""
        try:
            return cls(value.upper())
        except ValueError:
            raise InvalidInputError(f"unknown Flink job state {value!r}") from None


_DOWN = frozenset(
    {
        JobState.FAILING,
        JobState.FAILED,
        JobState.CANCELLING,
        JobState.CANCELED,
        JobState.RESTARTING,
        JobState.SUSPENDED,
    }
)


def _nonneg_int(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObservationError(f"{what} must be an int, got {value!r}")
    if value < 0:
        raise MalformedObservationError(f"{what} must not be negative, got {value}")


@dataclass(frozen=True)
class RestoreInfo:
    """Where a job's state came from (``latest.restored`` of ``GET /jobs/:id/checkpoints``)."""

    checkpoint_id: int
    path: str | None = None
    is_savepoint: bool | None = None

    def __post_init__(self) -> None:
        _nonneg_int(self.checkpoint_id, "restored checkpoint id")


@dataclass(frozen=True)
class JobObservation:
    """A Flink job: the ingestion job J, or the CDC job C.

    :param latest_checkpoint_id: the latest *completed* checkpoint, read after the Kafka offsets.
    :param latest_checkpoint_trigger: when that checkpoint was triggered.
    :param committed_checkpoint_trigger: when the completed checkpoint *before* the latest was
        triggered. A two-phase-commit sink (the CDC job's Kafka transactions) commits a checkpoint
        when its completion is announced, after Flink reports it complete; the job's tasks handle
        that announcement before they acknowledge the next checkpoint. So records emitted before
        this time are committed in Kafka once the latest checkpoint completed; this, not the
        latest trigger, proves a metric watermark durable.
    :param start_time: when this run started; commits of the same job id stamped earlier belong
        to a previous run (fixed job ids) and are not trusted.
    :param restored: set when the run was restored from a checkpoint or savepoint.
    """

    job_id: str
    name: str
    state: JobState
    latest_checkpoint_id: int | None = None
    latest_checkpoint_trigger: datetime | None = None
    start_time: datetime | None = None
    restored: RestoreInfo | None = None
    committed_checkpoint_trigger: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.job_id, str) or not self.job_id:
            raise MalformedObservationError(f"job id must be a non-empty string, got {self.job_id!r}")
        try:
            object.__setattr__(self, "state", JobState(str(self.state).upper()))
        except ValueError:
            raise MalformedObservationError(
                f"job {self.job_id}: unknown Flink job state {self.state!r}"
            ) from None
        _nonneg_int(self.latest_checkpoint_id, f"job {self.job_id}: checkpoint id", optional=True)
        trigger = require_utc_or_none(
            self.latest_checkpoint_trigger, f"job {self.job_id}: checkpoint trigger"
        )
        object.__setattr__(self, "latest_checkpoint_trigger", trigger)
        committed = require_utc_or_none(
            self.committed_checkpoint_trigger, f"job {self.job_id}: committed checkpoint trigger"
        )
        if committed is not None and trigger is not None and committed > trigger:
            raise MalformedObservationError(
                f"job {self.job_id}: the checkpoint before the latest was triggered after it "
                f"({to_iso(committed)} > {to_iso(trigger)})"
            )
        object.__setattr__(self, "committed_checkpoint_trigger", committed)
        object.__setattr__(
            self, "start_time", require_utc_or_none(self.start_time, f"job {self.job_id}: start")
        )


@dataclass(frozen=True)
class LagSample:
    """One reading of a CDC source's gauges (max over its subtasks: the safe side).

    Flink's source gauges, read at one instant ``r``: ``sourceIdleTime`` = ``r`` minus when the
    source went idle after its last record (0 while it emits), ``currentEmitEventTimeLag`` =
    that record's emit time minus its event time (its binlog time). So the last record the
    source emitted carries the binlog time ``r - idle - emit_lag`` exactly, and binlog order
    puts every earlier change before it. Flink CDC's MySQL source emits only data changes
    (no binlog heartbeats, no event time in the snapshot phase): on a quiet database the lag
    freezes while the idle time grows, so this time stays put; it never reads as "now".

    :param job_id: the CDC job the gauges belong to.
    :param read_at: when the values were read; Flink computed them at or before it.
    :param max_age: how much older than ``read_at`` they may be (the REST server caches metrics
        for ``metrics.fetcher.update-interval``), plus how long the reading took.
    :param emit_lag: ``currentEmitEventTimeLag``; ``None``: the source has emitted no change
        with an event time since it started (Flink reports -1).
    :param idle: ``sourceIdleTime``.
    :param fetch_lag: ``currentFetchEventTimeLag`` (Flink CDC's own gauge), when reported; the
        larger of the two lags is used.
    """

    job_id: str
    read_at: datetime
    max_age: timedelta
    emit_lag: timedelta | None
    idle: timedelta
    fetch_lag: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_at", require_utc(self.read_at, "lag sample time"))
        for name in ("max_age", "idle", "emit_lag", "fetch_lag"):
            value = getattr(self, name)
            if value is None and name in ("emit_lag", "fetch_lag"):
                continue
            if not isinstance(value, timedelta):
                raise MalformedObservationError(f"lag sample {name} must be a timedelta, got {value!r}")
            if name in ("max_age", "idle") and value < timedelta(0):
                raise MalformedObservationError(f"lag sample {name} must not be negative, got {value}")

    @property
    def lag(self) -> timedelta | None:
        """The larger lag; a negative one (clock skew) counts as zero, never as a time ahead."""
        lags = [lag for lag in (self.emit_lag, self.fetch_lag) if lag is not None]
        return max([*lags, timedelta(0)]) if self.emit_lag is not None else None

    @property
    def emitted_by(self) -> datetime:
        """The source emitted its last record no later than this."""
        return self.read_at - self.idle

    @property
    def watermark(self) -> datetime | None:
        """Every change logged before this has left the source: ``read_at - max_age - idle - lag``;
        ``None`` while the source has emitted no change."""
        lag = self.lag
        return None if lag is None else self.read_at - self.max_age - self.idle - lag


@dataclass(frozen=True)
class CdcObservation:
    """The CDC capture job C: a heartbeat watermark (preferred) or a lag sample (fallback).

    :param heartbeat: source time of the newest *committed* heartbeat in the heartbeat topic
        (read_committed), captured by the same binlog reader as the data tables.
    :param metric: C's source gauges, read *before* ``job`` so that ``job``'s latest checkpoint
        can show that what the gauges saw is durable.
    :param job: C itself: its state and latest completed checkpoint.
    """

    name: str
    heartbeat: datetime | None = None
    metric: LagSample | None = None
    job: JobObservation | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "heartbeat", require_utc_or_none(self.heartbeat, f"cdc {self.name}: heartbeat")
        )


@dataclass(frozen=True)
class PartitionObservation:
    """One partition of the ingested topics, seen by group G.

    :param log_start: the first offset still in the log (retention moves it).
    :param end: the read_committed end offset (LSO).
    :param committed: G's committed offset, ``None`` when G committed none for this partition.
    :param offset_for_target: ``offsets_for_times(target)``: first offset stamped at or after the
        target, ``None`` when every record in the partition is older.
    :param first_unconsumed_offset: offset of the first *data* record at or after ``committed``
        (control records skipped), ``None`` when there is none: a caught-up consumer of a
        transactional topic may sit one control record short of ``end``.
    :param first_unconsumed_timestamp: that record's timestamp.
    """

    topic: str
    partition: int
    log_start: int
    end: int
    committed: int | None
    offset_for_target: int | None
    first_unconsumed_offset: int | None = None
    first_unconsumed_timestamp: datetime | None = None

    def __post_init__(self) -> None:
        where = f"partition {self.topic}[{self.partition}]"
        _nonneg_int(self.partition, f"{where}: partition number")
        _nonneg_int(self.log_start, f"{where}: log start offset")
        _nonneg_int(self.end, f"{where}: end offset")
        _nonneg_int(self.committed, f"{where}: committed offset", optional=True)
        _nonneg_int(self.offset_for_target, f"{where}: offset for target", optional=True)
        _nonneg_int(self.first_unconsumed_offset, f"{where}: first unconsumed offset", optional=True)
        if self.log_start > self.end:
            raise MalformedObservationError(
                f"{where}: log start offset {self.log_start} is beyond the end offset {self.end}"
            )
        if self.first_unconsumed_offset is not None:
            if self.committed is None or self.first_unconsumed_offset < self.committed:
                raise MalformedObservationError(
                    f"{where}: first unconsumed offset {self.first_unconsumed_offset} must be at or "
                    f"after the committed offset {self.committed}"
                )
        elif self.first_unconsumed_timestamp is not None:
            raise MalformedObservationError(
                f"{where}: a first unconsumed timestamp ({to_iso(self.first_unconsumed_timestamp)}) "
                "needs the offset of that record"
            )
        ts = require_utc_or_none(self.first_unconsumed_timestamp, f"{where}: first unconsumed timestamp")
        object.__setattr__(self, "first_unconsumed_timestamp", ts)

    @property
    def name(self) -> str:
        return f"{self.topic}.p{self.partition}"

    @property
    def has_data_in_lag(self) -> bool:
        """Whether any data record lies in ``[committed, end)``."""
        return self.first_unconsumed_offset is not None


@dataclass(frozen=True)
class KafkaObservation:
    """Every partition of every topic J reads, for group G.

    :param target: the time ``offsets_for_times`` was asked for; must equal the window's target.
    :param read_at: when the reading ended (the offsets were read at or before it); a decision
        whose Kafka stage holds says the stage held since then (``Decision.kafka_held_at``).
    """

    group: str
    target: datetime
    partitions: tuple[PartitionObservation, ...]
    read_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", require_utc(self.target, "kafka target"))
        object.__setattr__(self, "read_at", require_utc_or_none(self.read_at, "kafka read time"))
        object.__setattr__(self, "partitions", tuple(self.partitions))
        if not self.partitions:
            raise MalformedObservationError(
                f"no partitions observed for group {self.group!r}; a topic always has at least one"
            )
        seen: set[tuple[str, int]] = set()
        for p in self.partitions:
            if not isinstance(p, PartitionObservation):
                raise MalformedObservationError(f"expected PartitionObservation, got {p!r}")
            if (p.topic, p.partition) in seen:
                raise MalformedObservationError(f"partition {p.name} observed twice")
            seen.add((p.topic, p.partition))


@dataclass(frozen=True)
class CommitOutcome:
    result: StageResult
    commit: CommitPoint | None = None
    advice: tuple[Advice, ...] = field(default_factory=tuple)


@runtime_checkable
class CommitStage(Protocol):
    """Decides whether J's sink has committed what J consumed.

    :param upstream_held: the CDC and Kafka stages held in this evaluation; c* was read after.
    """

    @property
    def stage(self) -> Stage: ...

    @property
    def name(self) -> str: ...

    def evaluate(self, job: JobObservation, *, upstream_held: bool, policy: Policy) -> CommitOutcome: ...


@dataclass(frozen=True)
class Observations:
    """Everything one evaluation read, for one window.

    The observations must be gathered in this order: CDC, then Kafka offsets, then
    job J (its latest completed checkpoint id c*), then the commit target. The
    order is part of the proof: the checkpoint that committed the observed offsets
    is then at most c*, so a commit covering c* covers those offsets; and the CDC
    watermark read first makes "no record at or after the target" mean "none will come".

    :param commit: the commit stage (e.g. :class:`~.commit.IcebergCommitStage`).
    :param cdc: ``None`` when no CDC job feeds the topics.
    """

    window: Window
    kafka: KafkaObservation
    job: JobObservation
    commit: CommitStage
    cdc: CdcObservation | None = None

    def __post_init__(self) -> None:
        for name, kind in (("window", Window), ("kafka", KafkaObservation), ("job", JobObservation)):
            if not isinstance(getattr(self, name), kind):
                raise MalformedObservationError(
                    f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}"
                )
        if not callable(getattr(self.commit, "evaluate", None)):
            raise MalformedObservationError(f"commit must be a CommitStage, got {self.commit!r}")
        if self.cdc is not None and not isinstance(self.cdc, CdcObservation):
            raise MalformedObservationError(f"cdc must be a CdcObservation or None, got {self.cdc!r}")
