"""Per-stage results of one evaluation: what each stage has reached, needs, and why it waits."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from airflow_provider_rtp.completeness._time import parse_utc, to_iso
from airflow_provider_rtp.completeness.errors import MalformedRecordError

__all__ = [
    "FINAL_CHECKPOINT_ID",
    "Advice",
    "AdviceCode",
    "CommitPoint",
    "PartitionResult",
    "Reason",
    "Stage",
    "StageResult",
    "StageStatus",
    "gap_seconds",
]

#: Checkpoint id of the Iceberg sink's final commit on a drained stop or bounded end (Long.MAX_VALUE).
FINAL_CHECKPOINT_ID = 9223372036854775807


class Stage(enum.StrEnum):
    """The stages of the chain, in evaluation order; the commit stage is one of the last two."""

    CDC = "cdc"
    KAFKA = "kafka"
    JOB = "job"
    ICEBERG = "iceberg"
    CLICKHOUSE = "clickhouse"


class StageStatus(enum.StrEnum):
    OK = "ok"
    WAITING = "waiting"
    FAILED = "failed"
    SKIPPED = "skipped"  # not configured (no CDC job)


class Reason(enum.StrEnum):
    """Why a stage (or a partition) is where it is."""

    OK = "ok"
    NOT_CONFIGURED = "not_configured"
    # cdc
    CDC_BEHIND = "cdc_behind"
    CDC_UNKNOWN = "cdc_unknown"
    CDC_NOT_DURABLE = "cdc_not_durable"
    CDC_ASSUMED = "cdc_assumed"  # quiet source: delivered within the idle timeout, by assumption
    # kafka, per partition
    CAUGHT_UP_CDC = "caught_up_cdc"
    CAUGHT_UP_IDLE = "caught_up_idle"
    BEHIND = "behind"
    NO_COMMITTED_OFFSET = "no_committed_offset"
    BELOW_LOG_START = "below_log_start"
    IDLE_WAIT = "idle_wait"
    WAITING_FOR_CDC = "waiting_for_cdc"
    # job
    JOB_FINISHED = "job_finished"
    JOB_STARTING = "job_starting"
    JOB_DOWN = "job_down"
    # commit
    NO_CHECKPOINT = "no_checkpoint"
    COMMIT_BEHIND = "commit_behind"
    NEW_JOB_NO_COMMIT = "new_job_no_commit"
    NO_COMMIT = "no_commit"

    @property
    def is_ok(self) -> bool:
        return self in (
            Reason.OK,
            Reason.NOT_CONFIGURED,
            Reason.CDC_ASSUMED,
            Reason.CAUGHT_UP_CDC,
            Reason.CAUGHT_UP_IDLE,
            Reason.JOB_FINISHED,
        )


class AdviceCode(enum.StrEnum):
    """Closed set of findings a report explains beyond "waiting"."""

    INSTALL_HEARTBEATS = "install_heartbeats"
    CDC_JOB_DOWN = "cdc_job_down"
    JOB_DOWN = "job_down"
    MISSING_GROUP_OFFSET = "missing_group_offset"
    RETENTION = "retention"
    OFFSETS_DELETED = "offsets_deleted"
    EMPTY_COMMITS = "empty_commits"
    RESTORE_SKIPS_COMMITS = "restore_skips_commits"
    JOB_ID_REUSED = "job_id_reused"
    HISTORY_EXPIRED = "history_expired"


_E = TypeVar("_E", bound=enum.Enum)


def _opt_int(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MalformedRecordError(f"{key} must be an int or null, got {value!r}")
    return value


def _opt_float(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise MalformedRecordError(f"{key} must be a number or null, got {value!r}")
    return None if value is None else float(value)


def _enum(kind: type[_E], raw: dict[str, Any], key: str) -> _E:
    try:
        return kind(raw[key])
    except (KeyError, ValueError):
        raise MalformedRecordError(
            f"{key} must be one of {[e.value for e in kind]}, got {raw.get(key)!r}"
        ) from None


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise MalformedRecordError(f"{key} must be a string, got {value!r}")
    return value


@dataclass(frozen=True)
class Advice:
    """A finding with the fix, attached to the stage it concerns."""

    code: AdviceCode
    stage: Stage
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "stage": self.stage.value, "message": self.message}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Advice:
        return cls(_enum(AdviceCode, raw, "code"), _enum(Stage, raw, "stage"), _str(raw, "message"))


@dataclass(frozen=True)
class PartitionResult:
    """One partition's standing. ``consumed_through`` is the timestamp of its first unconsumed
    record, or the evaluation time when caught up; ``None`` when unknown."""

    topic: str
    partition: int
    reason: Reason
    consumed_through: datetime | None
    needed_offset: int | None
    committed: int | None
    end: int
    records_behind: int | None

    @property
    def name(self) -> str:
        return f"{self.topic}.p{self.partition}"

    @property
    def ok(self) -> bool:
        return self.reason.is_ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "reason": self.reason.value,
            "consumed_through": to_iso(self.consumed_through),
            "needed_offset": self.needed_offset,
            "committed": self.committed,
            "end": self.end,
            "records_behind": self.records_behind,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PartitionResult:
        partition, end = _opt_int(raw, "partition"), _opt_int(raw, "end")
        if partition is None or end is None:
            raise MalformedRecordError(f"a partition result needs 'partition' and 'end', got {raw!r}")
        return cls(
            topic=_str(raw, "topic"),
            partition=partition,
            reason=_enum(Reason, raw, "reason"),
            consumed_through=parse_utc(raw.get("consumed_through"), "consumed_through"),
            needed_offset=_opt_int(raw, "needed_offset"),
            committed=_opt_int(raw, "committed"),
            end=end,
            records_behind=_opt_int(raw, "records_behind"),
        )


@dataclass(frozen=True)
class CommitPoint:
    """The commit that answers the question: J's checkpoint and, for Iceberg, the snapshot to read."""

    job_id: str
    checkpoint_id: int
    snapshot_id: int | None = None

    @property
    def is_final(self) -> bool:
        """The sink's final commit on a drained stop: it covers everything the job read."""
        return self.checkpoint_id == FINAL_CHECKPOINT_ID

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "checkpoint_id": self.checkpoint_id, "snapshot_id": self.snapshot_id}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CommitPoint:
        checkpoint = _opt_int(raw, "checkpoint_id")
        if checkpoint is None:
            raise MalformedRecordError(f"a commit point needs 'checkpoint_id', got {raw!r}")
        return cls(_str(raw, "job_id"), checkpoint, _opt_int(raw, "snapshot_id"))


@dataclass(frozen=True)
class StageResult:
    """One line of the report, as data.

    :param watermark: the time through which the stage is known complete (``None``: unknown).
    :param needed: the time it must reach (the target).
    :param gap_seconds: ``needed - watermark`` when positive, else 0; ``None`` when unknown.
    :param records_behind: offsets still to consume (may include transaction markers).
    :param checkpoint_id: J's checkpoint (job stage) or the checkpoint committed (commit stage).
    :param needed_checkpoint_id: c*, the checkpoint the commit stage must reach.
    :param job_state: the job's Flink state, for the job stage and a down CDC job.
    :param subject: what the stage is about beyond its name: the slowest partition, J's job id.
    :param note: a stage-specific remark for the report (e.g. who committed last).
    """

    stage: Stage
    name: str
    status: StageStatus
    reason: Reason
    watermark: datetime | None = None
    needed: datetime | None = None
    gap_seconds: float | None = None
    records_behind: int | None = None
    checkpoint_id: int | None = None
    needed_checkpoint_id: int | None = None
    job_state: str | None = None
    subject: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (StageStatus.OK, StageStatus.SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason.value,
            "watermark": to_iso(self.watermark),
            "needed": to_iso(self.needed),
            "gap_seconds": self.gap_seconds,
            "records_behind": self.records_behind,
            "checkpoint_id": self.checkpoint_id,
            "needed_checkpoint_id": self.needed_checkpoint_id,
            "job_state": self.job_state,
            "subject": self.subject,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StageResult:
        for key in ("job_state", "subject", "note"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise MalformedRecordError(f"{key} must be a string or null, got {raw[key]!r}")
        return cls(
            stage=_enum(Stage, raw, "stage"),
            name=_str(raw, "name"),
            status=_enum(StageStatus, raw, "status"),
            reason=_enum(Reason, raw, "reason"),
            watermark=parse_utc(raw.get("watermark"), "watermark"),
            needed=parse_utc(raw.get("needed"), "needed"),
            gap_seconds=_opt_float(raw, "gap_seconds"),
            records_behind=_opt_int(raw, "records_behind"),
            checkpoint_id=_opt_int(raw, "checkpoint_id"),
            needed_checkpoint_id=_opt_int(raw, "needed_checkpoint_id"),
            job_state=raw.get("job_state"),
            subject=raw.get("subject"),
            note=raw.get("note"),
        )


def gap_seconds(watermark: datetime | None, needed: datetime | None) -> float | None:
    """How far ``watermark`` trails ``needed``, never negative; ``None`` when either is unknown."""
    if watermark is None or needed is None:
        return None
    return max(0.0, (needed - watermark).total_seconds())
