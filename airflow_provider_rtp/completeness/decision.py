"""The answer of one evaluation: a verdict, why, and what to read."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_rtp.completeness._time import parse_utc, require_utc, require_utc_or_none, to_iso
from airflow_provider_rtp.completeness.errors import MalformedRecordError
from airflow_provider_rtp.completeness.models import Policy, Window
from airflow_provider_rtp.completeness.report import guarantee, render
from airflow_provider_rtp.completeness.results import (
    Advice,
    AdviceCode,
    CommitPoint,
    PartitionResult,
    Stage,
    StageResult,
)

__all__ = ["DECISION_FORMAT_VERSION", "Decision", "Verdict"]

#: Bumped when the serialised form changes incompatibly; ``from_dict`` refuses other versions.
DECISION_FORMAT_VERSION = 1


class Verdict(enum.StrEnum):
    COMPLETE = "complete"  # every record stamped before the target is in the commit named
    WAITING = "waiting"  # not yet; the blocking stage says what is missing
    FAILED = "failed"  # a job is down and the policy says fail


@dataclass(frozen=True)
class Decision:
    """The verdict with every stage's standing, JSON-able through :meth:`to_dict`.

    :param target: ``window.end + lateness + clock-skew margin``.
    :param blocking: the first stage (in evaluation order) that is not ok; a failed stage wins.
    :param commit: on COMPLETE, the covering commit (the snapshot to read ``FOR VERSION AS OF``).
    :param kafka_held_at: when the CDC and Kafka stages held in this evaluation: the time its
        offsets were read (``KafkaObservation.read_at``), else the evaluation time.
    """

    verdict: Verdict
    window: Window
    policy: Policy
    target: datetime
    decided_at: datetime
    stages: tuple[StageResult, ...]
    blocking: Stage | None = None
    group: str | None = None
    slowest_partition: PartitionResult | None = None
    waiting_partitions: tuple[PartitionResult, ...] = ()
    commit: CommitPoint | None = None
    advice: tuple[Advice, ...] = field(default_factory=tuple)
    kafka_held_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", require_utc(self.target, "target"))
        object.__setattr__(self, "decided_at", require_utc(self.decided_at, "decided_at"))
        object.__setattr__(self, "kafka_held_at", require_utc_or_none(self.kafka_held_at, "kafka_held_at"))
        for name in ("stages", "waiting_partitions", "advice"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.verdict is Verdict.COMPLETE and (self.commit is None or self.blocking is not None):
            raise MalformedRecordError("a complete decision needs a commit and no blocking stage")
        if self.verdict is not Verdict.COMPLETE and self.blocking is None:
            raise MalformedRecordError(f"a {self.verdict.value} decision needs the stage that blocks")

    @property
    def is_complete(self) -> bool:
        return self.verdict is Verdict.COMPLETE

    @property
    def snapshot_id(self) -> int | None:
        return self.commit.snapshot_id if self.is_complete and self.commit else None

    @property
    def checkpoint_id(self) -> int | None:
        return self.commit.checkpoint_id if self.is_complete and self.commit else None

    @property
    def job_id(self) -> str | None:
        return self.commit.job_id if self.is_complete and self.commit else None

    @property
    def advice_codes(self) -> frozenset[AdviceCode]:
        return frozenset(a.code for a in self.advice)

    def stage(self, stage: Stage) -> StageResult | None:
        return next((s for s in self.stages if s.stage is stage), None)

    def watermarks(self) -> dict[str, str | None]:
        """Each stage's time watermark, ISO in UTC, for XCom and asset-event extras."""
        return {s.stage.value: to_iso(s.watermark) for s in self.stages if s.watermark is not None}

    @property
    def guarantee(self) -> str | None:
        """The commit stage's weaker guarantee in one sentence (ClickHouse); ``None`` for Iceberg."""
        return guarantee(self.stages)

    def report(self) -> str:
        """The human report: a header line, one line per stage, then findings."""
        return render(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": DECISION_FORMAT_VERSION,
            "verdict": self.verdict.value,
            "window": self.window.to_dict(),
            "policy": self.policy.to_dict(),
            "target": to_iso(self.target),
            "decided_at": to_iso(self.decided_at),
            "stages": [s.to_dict() for s in self.stages],
            "blocking": self.blocking.value if self.blocking else None,
            "group": self.group,
            "slowest_partition": self.slowest_partition.to_dict() if self.slowest_partition else None,
            "waiting_partitions": [p.to_dict() for p in self.waiting_partitions],
            "commit": self.commit.to_dict() if self.commit else None,
            "advice": [a.to_dict() for a in self.advice],
            "kafka_held_at": to_iso(self.kafka_held_at),
            "guarantee": self.guarantee,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Decision:
        if not isinstance(raw, dict):
            raise MalformedRecordError(f"a decision must be a mapping, got {type(raw).__name__}")
        if raw.get("version") != DECISION_FORMAT_VERSION:
            raise MalformedRecordError(
                f"decision format version {raw.get('version')!r} is not {DECISION_FORMAT_VERSION}; "
                "decide again instead of reading it"
            )
        try:
            verdict = Verdict(raw["verdict"])
            blocking = None if raw.get("blocking") is None else Stage(raw["blocking"])
            slowest = raw.get("slowest_partition")
            commit = raw.get("commit")
            target = parse_utc(raw["target"], "target")
            decided_at = parse_utc(raw["decided_at"], "decided_at")
            if target is None or decided_at is None:
                raise MalformedRecordError("a decision needs 'target' and 'decided_at'")
            return cls(
                verdict=verdict,
                window=Window.from_dict(raw["window"]),
                policy=Policy.from_dict(raw["policy"]),
                target=target,
                decided_at=decided_at,
                stages=tuple(StageResult.from_dict(s) for s in raw["stages"]),
                blocking=blocking,
                group=raw.get("group"),
                slowest_partition=None if slowest is None else PartitionResult.from_dict(slowest),
                waiting_partitions=tuple(
                    PartitionResult.from_dict(p) for p in raw.get("waiting_partitions", ())
                ),
                commit=None if commit is None else CommitPoint.from_dict(commit),
                advice=tuple(Advice.from_dict(a) for a in raw.get("advice", ())),
                kafka_held_at=parse_utc(raw.get("kafka_held_at"), "kafka_held_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MalformedRecordError):
                raise
            raise MalformedRecordError(f"not a decision record ({type(exc).__name__}: {exc})") from exc
