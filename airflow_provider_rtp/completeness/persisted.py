"""What is stored once a window is decided, so that deciding it again hands out the same data.

Storage is the caller's; this is the record and its (de)serialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_rtp.completeness._frozen import FrozenMap
from airflow_provider_rtp.completeness._time import parse_utc, require_utc, to_iso
from airflow_provider_rtp.completeness.decision import Decision
from airflow_provider_rtp.completeness.errors import CompletenessError, MalformedRecordError
from airflow_provider_rtp.completeness.models import Window
from airflow_provider_rtp.completeness.results import CommitPoint
from airflow_provider_rtp.completeness.snapshots import SnapshotResolution, TableSnapshots, resolve_snapshot

__all__ = ["PERSISTED_FORMAT_VERSION", "PersistedDecision"]

PERSISTED_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PersistedDecision:
    """A COMPLETE decision, reduced to what later runs need.

    Its dict form holds ``{snapshot_id, window, watermarks, decided_at}`` and the commit's job and checkpoint.

    :param target: the commit target's name (Iceberg table or ClickHouse table).
    :param commit: the covering commit; its ``snapshot_id`` is ``None`` for ClickHouse.
    :param watermarks: each stage's watermark (ISO, UTC) when it was decided.
    """

    target: str
    window: Window
    commit: CommitPoint
    decided_at: datetime
    watermarks: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decided_at", require_utc(self.decided_at, "decided_at"))
        object.__setattr__(self, "watermarks", FrozenMap(self.watermarks))

    @property
    def snapshot_id(self) -> int | None:
        return self.commit.snapshot_id

    @property
    def key(self) -> str:
        """A storage key: one record per target and window."""
        return f"{self.target}/{self.window.to_dict()['start']}/{self.window.to_dict()['end']}"

    @classmethod
    def from_decision(cls, decision: Decision) -> PersistedDecision:
        if not decision.is_complete or decision.commit is None:
            raise CompletenessError(
                f"only complete decisions are persisted; this one is {decision.verdict.value} "
                f"(blocked by {decision.blocking.value if decision.blocking else '?'})"
            )
        commit_stage = decision.stages[-1]
        return cls(
            commit_stage.name, decision.window, decision.commit, decision.decided_at, decision.watermarks()
        )

    def resolve(self, table: TableSnapshots) -> SnapshotResolution:
        """The snapshot to hand out now: the decided one, or main's head once it has been expired."""
        if self.commit.snapshot_id is None:
            raise CompletenessError(
                f"decision for {self.target} names no Iceberg snapshot (a ClickHouse target?)"
            )
        return resolve_snapshot(table, self.commit.snapshot_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PERSISTED_FORMAT_VERSION,
            "target": self.target,
            "window": self.window.to_dict(),
            "snapshot_id": self.commit.snapshot_id,
            "checkpoint_id": self.commit.checkpoint_id,
            "job_id": self.commit.job_id,
            "decided_at": to_iso(self.decided_at),
            "watermarks": dict(self.watermarks),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> PersistedDecision:
        if not isinstance(raw, dict) or raw.get("version") != PERSISTED_FORMAT_VERSION:
            raise MalformedRecordError(
                f"not a persisted decision of format {PERSISTED_FORMAT_VERSION}: {raw!r:.200}"
            )
        try:
            decided_at = parse_utc(raw["decided_at"], "decided_at")
            watermarks = raw.get("watermarks") or {}
            if not isinstance(raw["target"], str) or decided_at is None or not isinstance(watermarks, dict):
                raise MalformedRecordError(f"bad target, decided_at or watermarks in {raw!r:.200}")
            commit = CommitPoint.from_dict(raw)
            return cls(raw["target"], Window.from_dict(raw["window"]), commit, decided_at, watermarks)
        except KeyError as exc:
            raise MalformedRecordError(f"persisted decision lacks {exc}") from None
