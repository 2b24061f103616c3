"""Which snapshots of a Flink-written table may be expired: a pure plan over plain data.

A naive ``older_than`` + ``retain_last`` policy can break a Flink restore. On restore the
Iceberg sink's committer (Iceberg 1.x ``SinkUtil.getMaxCommittedCheckpointId``) walks from
main's head through parent ids to the newest snapshot of its job id (and operator id) and
reads ``flink.max-committed-checkpoint-id`` there; the walk stops at the first missing parent.
Without that snapshot the restored job re-commits checkpoints the table already holds. So a
job's restore point is kept together with every main snapshot from the head back to it.

Never expired, each with the reason reported in the plan:

- the current snapshot, and the newest ``retain_last`` snapshots of main;
- every branch head and tagged snapshot (a ref past its ``max-ref-age-ms`` is removed first,
  as Iceberg's own expiry does, and then protects nothing);
- the snapshots persisted completeness decisions handed out within ``decision_horizon``;
- the newest snapshot of every Flink job/operator that committed to main (its restore point);
  for jobs whose last commit is within ``restore_horizon`` (default 1 day: long enough to
  restore a job stopped for an upgrade over night) also the main chain from the head back to
  it. An older job's restore point is kept too, but its chain is not: restoring such a job
  from its savepoint would find no restore point, because the walk from the head stops at the
  first expired snapshot. Restore it only after restoring the chain, or start it afresh.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness.snapshots import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    SnapshotObservation,
    TableSnapshots,
    main_ancestry,
)
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "DEFAULT_DECISION_HORIZON",
    "DEFAULT_RESTORE_HORIZON",
    "DecisionRef",
    "ExpiryPlan",
    "ExpiryPolicy",
    "KeepReason",
    "Ref",
    "RefType",
    "naive_expiry",
    "plan_expiry",
    "restore_checkpoint",
    "without",
]

DEFAULT_RESTORE_HORIZON = timedelta(days=1)
DEFAULT_DECISION_HORIZON = timedelta(days=7)


class RefType(enum.StrEnum):
    BRANCH = "branch"
    TAG = "tag"


class KeepReason(enum.StrEnum):
    """Why a snapshot older than the cut-off is kept."""

    CURRENT = "current"
    RETAIN_LAST = "retain-last"
    BRANCH = "branch-head"
    TAG = "tag"
    DECISION = "decision"
    RESTORE_POINT = "flink-restore-point"
    RESTORE_CHAIN = "flink-restore-chain"


@dataclass(frozen=True)
class Ref:
    """A branch or tag (pyiceberg ``SnapshotRef`` as plain data)."""

    name: str
    snapshot_id: int
    type: RefType
    max_ref_age_ms: int | None = None


@dataclass(frozen=True)
class DecisionRef:
    """A persisted completeness decision: which snapshot it handed out, and when."""

    snapshot_id: int
    decided_at: datetime


@dataclass(frozen=True)
class ExpiryPolicy:
    """:param older_than: snapshots committed before ``now - older_than`` may be expired.
    :param retain_last: main's newest snapshots always kept (at least 1: the head).
    :param decision_horizon: decisions taken within it keep their snapshot.
    :param restore_horizon: jobs whose last commit is within it keep their restore chain.
    """

    older_than: timedelta
    retain_last: int = 1
    decision_horizon: timedelta = DEFAULT_DECISION_HORIZON
    restore_horizon: timedelta = DEFAULT_RESTORE_HORIZON

    def __post_init__(self) -> None:
        for name in ("older_than", "decision_horizon", "restore_horizon"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(0):
                raise InvalidInputError(f"{name} must be a non-negative timedelta, got {value!r}")
        if type(self.retain_last) is not int or self.retain_last < 1:
            raise InvalidInputError(f"retain_last must be an int >= 1, got {self.retain_last!r}")


@dataclass(frozen=True)
class ExpiryPlan:
    """:param to_expire: snapshot ids to remove, oldest first.
    :param refs_to_remove: refs past their ``max-ref-age-ms``, removed in the same commit.
    :param kept: every kept snapshot older than the cut-off, with its reasons.
    """

    table: str
    cutoff: datetime
    head: int | None
    to_expire: tuple[int, ...]
    refs_to_remove: tuple[str, ...]
    kept: Mapping[int, tuple[KeepReason, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "cutoff": self.cutoff.isoformat(),
            "head": self.head,
            "to_expire": list(self.to_expire),
            "refs_to_remove": list(self.refs_to_remove),
            "kept": {str(k): [r.value for r in v] for k, v in sorted(self.kept.items())},
        }


def _flink_key(snap: SnapshotObservation) -> tuple[str, str | None] | None:
    """The sink that committed ``snap`` (job id, operator id) — as the restore walk matches it."""
    job = snap.summary.get(FLINK_JOB_ID)
    if job is None or snap.summary.get(FLINK_MAX_COMMITTED_CHECKPOINT_ID) is None:
        return None
    return job, snap.summary.get(FLINK_OPERATOR_ID)


def restore_checkpoint(
    snapshots: Iterable[SnapshotObservation], head: int | None, job_id: str, operator_id: str | None
) -> int | None:
    """What a restored sink of ``job_id``/``operator_id`` reads as its max committed checkpoint.

    The committer's walk: from ``head`` through parent ids, stopping at the first missing one;
    a snapshot without an operator id matches any operator (older sinks wrote none).
    """
    by_id = {s.snapshot_id: s for s in snapshots}
    sid = head
    while sid is not None and sid in by_id:
        snap = by_id[sid]
        op = snap.summary.get(FLINK_OPERATOR_ID)
        if snap.summary.get(FLINK_JOB_ID) == job_id and (op is None or op == operator_id):
            raw = snap.summary.get(FLINK_MAX_COMMITTED_CHECKPOINT_ID)
            if raw is not None:
                return int(raw)
        sid = snap.parent_id
    return None


def _require_utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInputError(f"now must be timezone-aware, got {now!r}")
    return now.astimezone(UTC)


def plan_expiry(
    table: TableSnapshots,
    refs: Sequence[Ref],
    policy: ExpiryPolicy,
    now: datetime,
    decisions: Sequence[DecisionRef] = (),
) -> ExpiryPlan:
    """The snapshots to expire and the refs to remove (see the module docstring for the rules)."""
    now = _require_utc(now)
    now_ms = int(now.timestamp() * 1000)
    cutoff = now - policy.older_than
    cutoff_ms = int(cutoff.timestamp() * 1000)
    snaps = table.by_id()
    reasons: dict[int, list[KeepReason]] = {}

    def keep(sid: int | None, reason: KeepReason) -> None:
        if sid is not None and sid in snaps and reason not in reasons.setdefault(sid, []):
            reasons[sid].append(reason)

    keep(table.current_snapshot_id, KeepReason.CURRENT)
    chain = main_ancestry(table)  # oldest first
    for snap in chain[-policy.retain_last :]:
        keep(snap.snapshot_id, KeepReason.RETAIN_LAST)

    refs_to_remove = []
    for ref in refs:
        target = snaps.get(ref.snapshot_id)
        too_old = (
            ref.name != "main"
            and ref.max_ref_age_ms is not None
            and target is not None
            and now_ms - target.timestamp_ms > ref.max_ref_age_ms
        )
        if too_old:
            refs_to_remove.append(ref.name)
        else:
            keep(ref.snapshot_id, KeepReason.TAG if ref.type is RefType.TAG else KeepReason.BRANCH)

    decision_from = now - policy.decision_horizon
    for decision in decisions:
        if _require_utc(decision.decided_at) >= decision_from:
            keep(decision.snapshot_id, KeepReason.DECISION)

    restore_from_ms = int((now - policy.restore_horizon).timestamp() * 1000)
    newest: dict[tuple[str, str | None], int] = {}  # sink -> position in chain
    for pos, snap in enumerate(chain):
        key = _flink_key(snap)
        if key is not None:
            newest[key] = pos
    for pos in newest.values():
        keep(chain[pos].snapshot_id, KeepReason.RESTORE_POINT)
        if chain[pos].timestamp_ms >= restore_from_ms:
            for later in chain[pos + 1 :]:
                keep(later.snapshot_id, KeepReason.RESTORE_CHAIN)

    expire = sorted(
        (s for s in table.snapshots if s.timestamp_ms < cutoff_ms and s.snapshot_id not in reasons),
        key=lambda s: (s.timestamp_ms, s.snapshot_id),
    )
    kept = {sid: tuple(r) for sid, r in reasons.items() if snaps[sid].timestamp_ms < cutoff_ms}
    return ExpiryPlan(
        table=table.table,
        cutoff=cutoff,
        head=table.current_snapshot_id,
        to_expire=tuple(s.snapshot_id for s in expire),
        refs_to_remove=tuple(sorted(refs_to_remove)),
        kept=kept,
    )


def naive_expiry(
    table: TableSnapshots, refs: Sequence[Ref], policy: ExpiryPolicy, now: datetime
) -> tuple[int, ...]:
    """``older_than`` + ``retain_last`` + ref heads only: what the plan improves on (for comparison)."""
    cutoff_ms = int((_require_utc(now) - policy.older_than).timestamp() * 1000)
    protected = {r.snapshot_id for r in refs}
    protected.update(s.snapshot_id for s in main_ancestry(table)[-policy.retain_last :])
    if table.current_snapshot_id is not None:
        protected.add(table.current_snapshot_id)
    return tuple(
        s.snapshot_id
        for s in table.snapshots
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in protected
    )


def without(table: TableSnapshots, expired: Iterable[int]) -> TableSnapshots:
    """``table`` after expiring ``expired``, as pyiceberg writes it (children lose their parent id)."""
    gone = set(expired)
    kept = [
        SnapshotObservation(
            s.snapshot_id,
            None if s.parent_id in gone else s.parent_id,
            s.timestamp_ms,
            s.operation,
            s.summary,
        )
        for s in table.snapshots
        if s.snapshot_id not in gone
    ]
    return TableSnapshots(table.table, table.current_snapshot_id, kept, table.properties)
