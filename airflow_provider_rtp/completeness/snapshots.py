"""Pure functions over an Iceberg table's snapshot log, as the Flink sink writes it.

The Flink Iceberg sink commits the files of checkpoint c when c completes and
records ``flink.job-id`` and ``flink.max-committed-checkpoint-id`` in the
snapshot summary. Only those summaries are trusted; commit times are not,
since one commit round may write several snapshots within the same millisecond.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow_provider_rtp.completeness._frozen import FrozenMap
from airflow_provider_rtp.completeness._snapshot_columns import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    REPLACE,
    MainCommits,
    SnapshotColumns,
    ancestry,
    check_int,
    covering_position,
    parse_checkpoint,
    unknown_operation,
)
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
    "MainCommits",
    "Operation",
    "SnapshotColumns",
    "SnapshotObservation",
    "SnapshotResolution",
    "TableSnapshots",
    "covering_commit",
    "flink_commit",
    "flink_commits",
    "main_ancestry",
    "main_commits",
    "resolve_snapshot",
]

#: Table property: commit an empty snapshot after this many checkpoints without new files.
MAX_CONTINUOUS_EMPTY_COMMITS = "flink.max-continuous-empty-commits"
DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS = 10


class Operation(enum.StrEnum):
    """Iceberg snapshot operations. ``replace`` rewrites files without changing data (compaction)."""

    APPEND = "append"
    REPLACE = REPLACE
    OVERWRITE = "overwrite"
    DELETE = "delete"


@dataclass(frozen=True)
class SnapshotObservation:
    """One entry of the snapshot log (pyiceberg ``Snapshot``, reduced to what the decision reads)."""

    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    operation: Operation
    summary: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sid, parent = self.snapshot_id, self.parent_id
        if not (
            type(sid) is int and type(self.timestamp_ms) is int and (parent is None or type(parent) is int)
        ):
            check_int(sid, "snapshot id")
            check_int(parent, f"snapshot {sid}: parent id", optional=True)
            check_int(self.timestamp_ms, f"snapshot {sid}: timestamp-ms")
        if self.parent_id == self.snapshot_id:
            raise MalformedObservationError(f"snapshot {self.snapshot_id} names itself as its parent")
        try:
            if type(self.operation) is not Operation:  # already one: the common case, kept cheap
                object.__setattr__(self, "operation", Operation(str(self.operation).lower()))
        except ValueError:
            raise unknown_operation(self.snapshot_id, self.operation) from None
        if type(self.summary) is FrozenMap:
            return  # built by the caller
        if not isinstance(self.summary, Mapping):
            raise MalformedObservationError(f"snapshot {self.snapshot_id}: summary must be a mapping")
        frozen = FrozenMap({str(k): str(v) for k, v in self.summary.items()})
        object.__setattr__(self, "summary", frozen)

    @cached_property
    def flink(self) -> FlinkCommit | None:
        """The Flink commit this snapshot holds, whatever its operator (parsed once per snapshot)."""
        job_id = self.summary.get(FLINK_JOB_ID)
        raw = self.summary.get(FLINK_MAX_COMMITTED_CHECKPOINT_ID)
        checkpoint = parse_checkpoint(self.operation, job_id, raw)
        if checkpoint is None or job_id is None:
            return None
        return FlinkCommit(self, job_id, checkpoint, self.summary.get(FLINK_OPERATOR_ID))


class _LazySnapshots(Sequence[SnapshotObservation]):
    """The snapshots of :class:`SnapshotColumns` as objects, each built when first read."""

    __slots__ = ("_built", "columns")

    def __init__(self, columns: SnapshotColumns) -> None:
        self.columns = columns
        self._built: dict[int, SnapshotObservation] = {}

    def __len__(self) -> int:
        return len(self.columns.snapshot_ids)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        i = index + len(self) if index < 0 else index
        if not 0 <= i < len(self):
            raise IndexError(index)
        snap = self._built.get(i)
        if snap is None:
            c = self.columns
            built = SnapshotObservation(
                c.snapshot_ids[i],
                c.parent_ids[i],
                c.timestamps_ms[i],
                Operation(c.operations[i]),
                FrozenMap(c.summary(i)),
            )
            snap = self._built.setdefault(i, built)
        return snap

    def __iter__(self) -> Iterator[SnapshotObservation]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_LazySnapshots, (self.columns,))


@dataclass(frozen=True)
class TableSnapshots:
    """A table's snapshot log with its main branch head, plus its properties.

    :param current_snapshot_id: the head of ``main``; ``None`` for a table never written.
    :param snapshots: every retained snapshot, in any order (see also :meth:`from_columns`).
    :param properties: table properties (for ``flink.max-continuous-empty-commits``).
    :param first_snapshot_retained: whether the table's first snapshot (sequence number 1) is
        still in the log; ``None`` when unknown (format v1). An expiry that clears the parent id
        of the oldest snapshot it keeps (pyiceberg's does; Java's keeps it) leaves main's history
        looking complete: a first snapshot that is gone tells it was truncated all the same.
    """

    table: str
    current_snapshot_id: int | None
    snapshots: Sequence[SnapshotObservation]
    properties: Mapping[str, str] = field(default_factory=dict)
    first_snapshot_retained: bool | None = None

    @classmethod
    def from_columns(
        cls,
        table: str,
        current_snapshot_id: int | None,
        columns: SnapshotColumns,
        properties: Mapping[str, str] | None = None,
        first_snapshot_retained: bool | None = None,
    ) -> TableSnapshots:
        """A log read column by column: snapshot objects are built only for those read one by one."""
        return cls(
            table, current_snapshot_id, _LazySnapshots(columns), properties or {}, first_snapshot_retained
        )

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "properties", FrozenMap({str(k): str(v) for k, v in self.properties.items()})
        )
        check_int(self.current_snapshot_id, f"table {self.table}: current snapshot id", optional=True)
        if type(self.snapshots) is _LazySnapshots:
            ids = self.columns.snapshot_ids
            if len(self._positions) != len(ids):
                twice = next(s for i, s in enumerate(ids) if self._positions[s] != i)
                raise MalformedObservationError(f"table {self.table}: snapshot {twice} listed twice")
        else:
            object.__setattr__(self, "snapshots", tuple(self.snapshots))
            ids_seen: set[int] = set()
            for snap in self.snapshots:
                if not isinstance(snap, SnapshotObservation):
                    raise MalformedObservationError(
                        f"table {self.table}: expected SnapshotObservation, got {snap!r}"
                    )
                if snap.snapshot_id in ids_seen:
                    raise MalformedObservationError(
                        f"table {self.table}: snapshot {snap.snapshot_id} listed twice"
                    )
                ids_seen.add(snap.snapshot_id)
        if self.current_snapshot_id is not None and self.current_snapshot_id not in self._positions:
            raise MalformedObservationError(
                f"table {self.table}: current snapshot {self.current_snapshot_id} is not in the snapshot "
                "log; read the log and the current snapshot from the same table metadata"
            )

    # Snapshot logs run to tens of thousands of entries: index and walk them once per log.
    @cached_property
    def columns(self) -> SnapshotColumns:
        """The log column by column."""
        if type(self.snapshots) is _LazySnapshots:
            return self.snapshots.columns
        return SnapshotColumns.of(self.snapshots)

    @cached_property
    def _positions(self) -> dict[int, int]:
        ids = self.columns.snapshot_ids
        return dict(zip(ids, range(len(ids)), strict=True))

    @cached_property
    def _ancestry(self) -> tuple[int, ...]:
        return ancestry(self.table, self._positions, self.columns, self.current_snapshot_id)

    @cached_property
    def _commits(self) -> dict[str | None, MainCommits]:
        return {}

    def has_snapshot(self, snapshot_id: int) -> bool:
        return snapshot_id in self._positions

    def by_id(self) -> dict[int, SnapshotObservation]:
        """Snapshots by id (computed once per log; do not modify the returned dict)."""
        return self._by_id

    @cached_property
    def _by_id(self) -> dict[int, SnapshotObservation]:
        return {s.snapshot_id: s for s in self.snapshots}

    @cached_property
    def _main_ancestry(self) -> tuple[SnapshotObservation, ...]:
        snaps = self.snapshots
        return tuple(snaps[p] for p in self._ancestry)

    @property
    def oldest_main_snapshot_id(self) -> int | None:
        """The oldest retained snapshot of main's history."""
        chain = self._ancestry
        return self.columns.snapshot_ids[chain[0]] if chain else None

    @property
    def history_truncated(self) -> bool:
        """Whether main's oldest retained ancestor has an expired parent (named, or cleared)."""
        chain = self._ancestry
        if not chain:
            return False
        return self.columns.parent_ids[chain[0]] is not None or self.first_snapshot_retained is False

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


def main_commits(table: TableSnapshots, operator_id: str | None = None) -> MainCommits:
    """The Flink commits in main's history (of ``operator_id`` when given), oldest first, as
    :func:`flink_commits` finds them, indexed once per log and operator."""
    found = table._commits.get(operator_id)
    if found is None:
        found = table._commits.setdefault(
            operator_id, MainCommits.build(table._ancestry, table.columns, operator_id)
        )
    return found


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
    i = covering_position([c.checkpoint_id for c in own], checkpoint_id)
    return None if i is None else own[i]


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
    if table.has_snapshot(snapshot_id):
        return SnapshotResolution(snapshot_id, expired=False, proven_descendant=True)
    if table.current_snapshot_id is None:
        raise MalformedObservationError(
            f"table {table.table}: decided snapshot {snapshot_id} is gone and the table has no current "
            "snapshot; was the table dropped and re-created? Delete the stored decision to decide again"
        )
    parents = table.columns.parent_ids
    proven = any(parents[p] == snapshot_id for p in table._ancestry)
    if not proven and not table.history_truncated:
        raise MalformedObservationError(
            f"table {table.table}: decided snapshot {snapshot_id} is gone and main's complete history "
            "does not contain it (rolled back or re-created?); delete the stored decision to decide again"
        )
    return SnapshotResolution(table.current_snapshot_id, expired=True, proven_descendant=proven)
