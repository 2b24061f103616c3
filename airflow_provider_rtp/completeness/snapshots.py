"""Pure functions over an Iceberg table's snapshot log, as the Flink sink writes it.

The Flink Iceberg sink commits the files of checkpoint c when c completes and
records ``flink.job-id`` and ``flink.max-committed-checkpoint-id`` in the
snapshot summary. Only those summaries are trusted; commit times are not,
since one commit round may write several snapshots within the same millisecond.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow_provider_rtp.completeness._frozen import FrozenMap
from airflow_provider_rtp.completeness.errors import MalformedObservationError
from airflow_provider_rtp.completeness.results import FINAL_CHECKPOINT_ID

__all__ = [
    "DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS",
    "FINAL_CHECKPOINT_ID",
    "FLINK_JOB_ID",
    "FLINK_MAX_COMMITTED_CHECKPOINT_ID",
    "FLINK_OPERATOR_ID",
    "MAX_CONTINUOUS_EMPTY_COMMITS",
    "FlinkCommit",
    "Operation",
    "SnapshotObservation",
    "SnapshotResolution",
    "TableSnapshots",
    "covering_commit",
    "flink_commit",
    "flink_commits",
    "main_ancestry",
    "resolve_snapshot",
]

#: Snapshot summary keys written by the Flink Iceberg sink.
FLINK_JOB_ID = "flink.job-id"
FLINK_OPERATOR_ID = "flink.operator-id"
FLINK_MAX_COMMITTED_CHECKPOINT_ID = "flink.max-committed-checkpoint-id"
#: Table property: commit an empty snapshot after this many checkpoints without new files.
MAX_CONTINUOUS_EMPTY_COMMITS = "flink.max-continuous-empty-commits"
DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS = 10


class Operation(enum.StrEnum):
    """Iceberg snapshot operations. ``replace`` rewrites files without changing data (compaction)."""

    APPEND = "append"
    REPLACE = "replace"
    OVERWRITE = "overwrite"
    DELETE = "delete"


def _int(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObservationError(f"{what} must be an int, got {value!r}")


@dataclass(frozen=True)
class SnapshotObservation:
    """One entry of the snapshot log (pyiceberg ``Snapshot``, reduced to what the decision reads)."""

    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    operation: Operation
    summary: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Logs run to tens of thousands of snapshots: exact types pass on one cheap test.
        sid, parent = self.snapshot_id, self.parent_id
        if not (
            type(sid) is int and type(self.timestamp_ms) is int and (parent is None or type(parent) is int)
        ):
            _int(sid, "snapshot id")
            _int(parent, f"snapshot {sid}: parent id", optional=True)
            _int(self.timestamp_ms, f"snapshot {sid}: timestamp-ms")
        if self.parent_id == self.snapshot_id:
            raise MalformedObservationError(f"snapshot {self.snapshot_id} names itself as its parent")
        try:
            if type(self.operation) is not Operation:  # already one: the common case, kept cheap
                object.__setattr__(self, "operation", Operation(str(self.operation).lower()))
        except ValueError:
            raise MalformedObservationError(
                f"snapshot {self.snapshot_id}: unknown operation {self.operation!r}, "
                f"expected one of {[o.value for o in Operation]}"
            ) from None
        if type(self.summary) is FrozenMap:
            return  # built by the caller, e.g. from a metadata file's strings
        if not isinstance(self.summary, Mapping):
            raise MalformedObservationError(f"snapshot {self.snapshot_id}: summary must be a mapping")
        frozen = FrozenMap({str(k): str(v) for k, v in self.summary.items()})
        object.__setattr__(self, "summary", frozen)

    @cached_property
    def flink(self) -> FlinkCommit | None:
        """The Flink commit this snapshot holds, whatever its operator (parsed once per snapshot)."""
        if self.operation is Operation.REPLACE:
            return None
        job_id = self.summary.get(FLINK_JOB_ID)
        raw_checkpoint = self.summary.get(FLINK_MAX_COMMITTED_CHECKPOINT_ID)
        if not job_id or raw_checkpoint is None:
            return None
        try:
            checkpoint = int(raw_checkpoint)
        except ValueError:
            return None
        return FlinkCommit(self, job_id, checkpoint, self.summary.get(FLINK_OPERATOR_ID))


@dataclass(frozen=True)
class TableSnapshots:
    """A table's snapshot log with its main branch head, plus its properties.

    :param current_snapshot_id: the head of ``main``; ``None`` for a table never written.
    :param snapshots: every retained snapshot, in any order.
    :param properties: table properties (for ``flink.max-continuous-empty-commits``).
    """

    table: str
    current_snapshot_id: int | None
    snapshots: tuple[SnapshotObservation, ...]
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshots", tuple(self.snapshots))
        object.__setattr__(
            self, "properties", FrozenMap({str(k): str(v) for k, v in self.properties.items()})
        )
        ids: set[int] = set()
        for snap in self.snapshots:
            if not isinstance(snap, SnapshotObservation):
                raise MalformedObservationError(
                    f"table {self.table}: expected SnapshotObservation, got {snap!r}"
                )
            if snap.snapshot_id in ids:
                raise MalformedObservationError(
                    f"table {self.table}: snapshot {snap.snapshot_id} listed twice"
                )
            ids.add(snap.snapshot_id)
        _int(self.current_snapshot_id, f"table {self.table}: current snapshot id", optional=True)
        if self.current_snapshot_id is not None and self.current_snapshot_id not in ids:
            raise MalformedObservationError(
                f"table {self.table}: current snapshot {self.current_snapshot_id} is not in the snapshot "
                "log; read the log and the current snapshot from the same table metadata"
            )

    def by_id(self) -> dict[int, SnapshotObservation]:
        """Snapshots by id (computed once per log; do not modify the returned dict)."""
        return self._by_id

    # Snapshot logs run to tens of thousands of entries: index and walk them once per log.
    @cached_property
    def _by_id(self) -> dict[int, SnapshotObservation]:
        return {s.snapshot_id: s for s in self.snapshots}

    @cached_property
    def _main_ancestry(self) -> tuple[SnapshotObservation, ...]:
        by_id = self.by_id()
        chain: list[SnapshotObservation] = []
        seen: set[int] = set()
        current = self.current_snapshot_id
        while current is not None and current in by_id:
            if current in seen:
                raise MalformedObservationError(
                    f"table {self.table}: snapshot parents form a cycle at {current}"
                )
            seen.add(current)
            snap = by_id[current]
            chain.append(snap)
            current = snap.parent_id
        chain.reverse()
        return tuple(chain)

    @property
    def history_truncated(self) -> bool:
        """Whether main's oldest retained ancestor has an expired parent."""
        chain = main_ancestry(self)
        return bool(chain) and chain[0].parent_id is not None

    @property
    def max_continuous_empty_commits(self) -> int | None:
        """The table's setting, ``None`` when absent (the sink then uses 10) or unreadable."""
        raw = self.properties.get(MAX_CONTINUOUS_EMPTY_COMMITS)
        try:
            return None if raw is None else int(raw)
        except ValueError:
            return None


@dataclass(frozen=True)
class FlinkCommit:
    """A snapshot written by the Flink sink, with its parsed summary keys."""

    snapshot: SnapshotObservation
    job_id: str
    checkpoint_id: int
    operator_id: str | None

    @property
    def is_final(self) -> bool:
        return self.checkpoint_id == FINAL_CHECKPOINT_ID


def main_ancestry(table: TableSnapshots) -> tuple[SnapshotObservation, ...]:
    """Main's history, oldest first, following parent ids from the head until one is missing (expired)."""
    return table._main_ancestry


def flink_commit(snapshot: SnapshotObservation, operator_id: str | None = None) -> FlinkCommit | None:
    """The Flink commit in ``snapshot``, or ``None`` for anything else.

    Maintenance commits are ignored: a ``replace`` (compaction) adds no data, and snapshots
    without both Flink keys, with an unparsable checkpoint id, or from another sink operator
    (when ``operator_id`` is given) are not commits of the job being watched.
    """
    commit = snapshot.flink
    if commit is None or (operator_id is not None and commit.operator_id != operator_id):
        return None
    return commit


def flink_commits(
    snapshots: Iterable[SnapshotObservation], operator_id: str | None = None
) -> tuple[FlinkCommit, ...]:
    """The Flink commits among ``snapshots``, in the given order."""
    return tuple(c for c in (flink_commit(s, operator_id) for s in snapshots) if c is not None)


def covering_commit(commits: Iterable[FlinkCommit], job_id: str, checkpoint_id: int) -> FlinkCommit | None:
    """The earliest commit of ``job_id`` covering ``checkpoint_id``, from ``commits`` oldest first.

    Checkpoint ids are compared only within one job id: a restored job numbers its
    checkpoints afresh. When the first covering checkpoint id was committed in several
    consecutive snapshots, the last of them is returned: a checkpoint's commit is whole
    only once its last snapshot is in.
    """
    own = [c for c in commits if c.job_id == job_id]
    for i, commit in enumerate(own):
        if commit.checkpoint_id >= checkpoint_id:
            j = i
            while j + 1 < len(own) and own[j + 1].checkpoint_id == commit.checkpoint_id:
                j += 1
            return own[j]
    return None


@dataclass(frozen=True)
class SnapshotResolution:
    """Which snapshot to hand out for a decision taken earlier.

    :param expired: the decided snapshot is gone and ``snapshot_id`` is main's head instead.
    :param proven_descendant: main's retained history names the decided snapshot as a parent;
        when ``False`` the head is assumed to descend from it (history before it was expired).
    """

    snapshot_id: int
    expired: bool
    proven_descendant: bool


def resolve_snapshot(table: TableSnapshots, snapshot_id: int) -> SnapshotResolution:
    """The snapshot to read for a window decided as ``snapshot_id``.

    The decided snapshot while it exists; once expired, main's current snapshot,
    which descends from it and so still holds everything it held.
    """
    if snapshot_id in table.by_id():
        return SnapshotResolution(snapshot_id, expired=False, proven_descendant=True)
    if table.current_snapshot_id is None:
        raise MalformedObservationError(
            f"table {table.table}: decided snapshot {snapshot_id} is gone and the table has no current "
            "snapshot; was the table dropped and re-created? Delete the stored decision to decide again"
        )
    chain = main_ancestry(table)
    proven = any(s.parent_id == snapshot_id for s in chain)
    if not proven and not table.history_truncated:
        raise MalformedObservationError(
            f"table {table.table}: decided snapshot {snapshot_id} is gone and main's complete history "
            "does not contain it (rolled back or re-created?); delete the stored decision to decide again"
        )
    return SnapshotResolution(table.current_snapshot_id, expired=True, proven_descendant=proven)
