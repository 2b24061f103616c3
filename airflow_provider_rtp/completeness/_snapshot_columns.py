"""A snapshot log held column by column, and the indexes the decision reads, built once per log.

A Flink-fed table's log runs to tens of thousands of snapshots, nearly all commits of one job.
The decision asks few questions of it (J's commits in main's history, the first one covering c*,
the last and the highest commits of other jobs), so they are answered from tuples of ints and
strings: no object per snapshot or per commit, nothing for the cyclic collector to walk, and an
evaluation repeated on the same log costs a dictionary look-up and a binary search.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from types import NoneType
from typing import Any

from airflow_provider_rtp.completeness.errors import MalformedObservationError

__all__ = [
    "FLINK_JOB_ID",
    "FLINK_MAX_COMMITTED_CHECKPOINT_ID",
    "FLINK_OPERATOR_ID",
    "OPERATIONS",
    "REPLACE",
    "JobCommits",
    "MainCommits",
    "SnapshotColumns",
    "ancestry",
    "check_int",
    "covering_position",
    "parse_checkpoint",
    "unknown_operation",
]

#: Snapshot summary keys written by the Flink Iceberg sink.
FLINK_JOB_ID = "flink.job-id"
FLINK_OPERATOR_ID = "flink.operator-id"
FLINK_MAX_COMMITTED_CHECKPOINT_ID = "flink.max-committed-checkpoint-id"
#: The operation of maintenance commits (compaction): never a Flink commit.
REPLACE = "replace"
#: Iceberg's snapshot operations (the values of ``Operation``).
OPERATIONS = ("append", REPLACE, "overwrite", "delete")
_KNOWN = frozenset(OPERATIONS)


def check_int(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedObservationError(f"{what} must be an int, got {value!r}")


def unknown_operation(snapshot_id: Any, operation: Any) -> MalformedObservationError:
    return MalformedObservationError(
        f"snapshot {snapshot_id}: unknown operation {operation!r}, expected one of {list(OPERATIONS)}"
    )


def _check_ints(values: Sequence[Any], ids: Sequence[Any], what: str, *, optional: bool = False) -> None:
    allowed = {int, NoneType} if optional else {int}
    if set(map(type, values)) <= allowed:  # one pass in C over tens of thousands
        return
    for sid, value in zip(ids, values, strict=True):
        if type(value) not in allowed:
            check_int(value, what.format(sid=sid), optional=optional)


_COLUMNS = (
    "snapshot_ids",
    "parent_ids",
    "timestamps_ms",
    "operations",
    "job_ids",
    "checkpoints",
    "operator_ids",
)


@dataclass(frozen=True)
class SnapshotColumns:
    """A snapshot log column by column (entry i of each column is snapshot i), as a metadata file
    lists it: tens of thousands of snapshots without an object per snapshot.

    Of the summary only the Flink sink's keys are kept: ``job_ids`` (``flink.job-id``),
    ``checkpoints`` (``flink.max-committed-checkpoint-id``, as written) and ``operator_ids``.
    Operations are matched case-insensitively, as in ``SnapshotObservation``.
    """

    snapshot_ids: tuple[int, ...]
    parent_ids: tuple[int | None, ...]
    timestamps_ms: tuple[int, ...]
    operations: tuple[str, ...]
    job_ids: tuple[str | None, ...]
    checkpoints: tuple[str | None, ...]
    operator_ids: tuple[str | None, ...]

    def __post_init__(self) -> None:
        for name in _COLUMNS:
            object.__setattr__(self, name, tuple(getattr(self, name)))
        lengths = {name: len(getattr(self, name)) for name in _COLUMNS}
        if len(set(lengths.values())) > 1:
            raise MalformedObservationError(f"snapshot columns differ in length: {lengths}")
        ids, parents = self.snapshot_ids, self.parent_ids
        _check_ints(ids, ids, "snapshot id")
        _check_ints(parents, ids, "snapshot {sid}: parent id", optional=True)
        _check_ints(self.timestamps_ms, ids, "snapshot {sid}: timestamp-ms")
        if any(map(operator.eq, ids, parents)):
            sid = next(s for s, p in zip(ids, parents, strict=True) if s == p)
            raise MalformedObservationError(f"snapshot {sid} names itself as its parent")
        if not set(self.operations) <= _KNOWN:
            ops = tuple(str(op).lower() for op in self.operations)
            for sid, op, given in zip(ids, ops, self.operations, strict=True):
                if op not in _KNOWN:
                    raise unknown_operation(sid, given)
            object.__setattr__(self, "operations", ops)
        self._check_strings(self.job_ids, FLINK_JOB_ID)
        self._check_strings(self.checkpoints, FLINK_MAX_COMMITTED_CHECKPOINT_ID)
        self._check_strings(self.operator_ids, FLINK_OPERATOR_ID)

    def _check_strings(self, values: tuple[str | None, ...], key: str) -> None:
        if set(map(type, values)) <= {str, NoneType}:
            return
        sid, value = next(
            (s, v) for s, v in zip(self.snapshot_ids, values, strict=True) if type(v) not in (str, NoneType)
        )
        raise MalformedObservationError(f"snapshot {sid}: summary {key} must be a string, got {value!r}")

    @classmethod
    def of(cls, snapshots: Iterable[Any]) -> SnapshotColumns:
        """The columns of ``SnapshotObservation`` objects."""
        snaps = tuple(snapshots)
        summaries = [s.summary for s in snaps]
        return cls(
            tuple(s.snapshot_id for s in snaps),
            tuple(s.parent_id for s in snaps),
            tuple(s.timestamp_ms for s in snaps),
            tuple(str(s.operation) for s in snaps),
            tuple(m.get(FLINK_JOB_ID) for m in summaries),
            tuple(m.get(FLINK_MAX_COMMITTED_CHECKPOINT_ID) for m in summaries),
            tuple(m.get(FLINK_OPERATOR_ID) for m in summaries),
        )

    def __len__(self) -> int:
        return len(self.snapshot_ids)

    def summary(self, i: int) -> dict[str, str]:
        """Snapshot ``i``'s Flink summary keys."""
        values = (self.job_ids[i], self.checkpoints[i], self.operator_ids[i])
        return {k: v for k, v in zip(_SUMMARY_KEYS, values, strict=True) if v is not None}


_SUMMARY_KEYS = (FLINK_JOB_ID, FLINK_MAX_COMMITTED_CHECKPOINT_ID, FLINK_OPERATOR_ID)


def parse_checkpoint(operation: str, job_id: str | None, raw: str | None) -> int | None:
    """The checkpoint id of a Flink commit; ``None`` for a compaction, a snapshot without both Flink
    keys, or an unparsable checkpoint id. The one rule for snapshot objects and for columns."""
    if operation == REPLACE or not job_id or raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def covering_position(
    checkpoint_ids: Sequence[int], checkpoint_id: int, *, ascending: bool = False
) -> int | None:
    """Where the earliest id ≥ ``checkpoint_id`` is, moved to the last of its run of equal ids
    (a checkpoint committed in several snapshots is whole only with its last one).

    :param ascending: the ids never decrease, so a binary search finds the same position.
    """
    n = len(checkpoint_ids)
    if ascending:
        i = bisect_left(checkpoint_ids, checkpoint_id)
        return None if i == n else bisect_right(checkpoint_ids, checkpoint_ids[i]) - 1
    for i, cp in enumerate(checkpoint_ids):
        if cp >= checkpoint_id:
            while i + 1 < n and checkpoint_ids[i + 1] == cp:
                i += 1
            return i
    return None


def ancestry(
    table: str, positions: Mapping[int, int], columns: SnapshotColumns, head: int | None
) -> tuple[int, ...]:
    """Positions of main's history, oldest first: parent ids followed from ``head`` until one is missing."""
    ids, parent_ids = columns.snapshot_ids, columns.parent_ids
    if ids and head == ids[-1] and parent_ids[1:] == ids[:-1] and parent_ids[0] not in positions:
        return tuple(range(len(ids)))  # the common file: one branch, listed oldest first
    chain: list[int] = []
    limit = len(parent_ids)
    current = head
    while current is not None:
        p = positions.get(current)
        if p is None:
            break
        chain.append(p)
        if len(chain) > limit:  # longer than the log: some snapshot came twice
            raise MalformedObservationError(
                f"table {table}: snapshot parents form a cycle at {_first_repeat(chain)}"
            )
        current = parent_ids[p]
    chain.reverse()
    return tuple(chain)


def _first_repeat(chain: list[int]) -> int:
    seen: set[int] = set()
    for p in chain:
        if p in seen:
            return p
        seen.add(p)
    raise AssertionError("no repeat in a chain longer than its log")


@dataclass(frozen=True)
class JobCommits:
    """One job's commits in main's history from ``not_before`` on, and those before it.

    :param indices: into :class:`MainCommits`, oldest first.
    :param earlier: the job's commits stamped before ``not_before`` (a job id reused across runs).
    """

    indices: tuple[int, ...]
    checkpoint_ids: tuple[int, ...]
    ascending: bool
    earlier: tuple[int, ...]
    earlier_top: int | None

    def covering(self, checkpoint_id: int) -> int | None:
        """The index of the commit covering ``checkpoint_id`` (see :func:`covering_position`)."""
        i = covering_position(self.checkpoint_ids, checkpoint_id, ascending=self.ascending)
        return None if i is None else self.indices[i]


class MainCommits:
    """The Flink commits in main's history, oldest first, as parallel tuples.

    :param positions: of each commit in the log's columns.
    """

    def __init__(
        self,
        positions: tuple[int, ...],
        snapshot_ids: tuple[int, ...],
        job_ids: tuple[str, ...],
        checkpoint_ids: tuple[int, ...],
        timestamps_ms: tuple[int, ...],
    ) -> None:
        self.positions, self.snapshot_ids = positions, snapshot_ids
        self.job_ids, self.checkpoint_ids, self.timestamps_ms = job_ids, checkpoint_ids, timestamps_ms
        self._jobs: dict[tuple[str, int | None], JobCommits] = {}
        self._top: dict[str, int] | None = None

    @classmethod
    def build(
        cls,
        main: Sequence[int],
        columns: SnapshotColumns,
        operator_id: str | None,
    ) -> MainCommits:
        ops, jobs, raws = columns.operations, columns.job_ids, columns.checkpoints
        operators = columns.operator_ids
        found = [
            p
            for p in main
            if raws[p] is not None
            and jobs[p]
            and ops[p] != REPLACE
            and (operator_id is None or operators[p] == operator_id)
        ]
        try:
            cps = list(map(int, [raws[p] for p in found]))  # type: ignore[arg-type]
        except ValueError:  # some id is not a number: that snapshot is no commit (parse_checkpoint)
            parsed = [(p, parse_checkpoint(ops[p], jobs[p], raws[p])) for p in found]
            found = [p for p, cp in parsed if cp is not None]
            cps = [cp for _, cp in parsed if cp is not None]
        ids, stamps = columns.snapshot_ids, columns.timestamps_ms
        return cls(
            tuple(found),
            tuple([ids[p] for p in found]),
            tuple([jobs[p] for p in found]),  # type: ignore[misc]
            tuple(cps),
            tuple([stamps[p] for p in found]),
        )

    def __len__(self) -> int:
        return len(self.positions)

    def of_job(self, job_id: str, not_before: int | None = None) -> JobCommits:
        """``job_id``'s commits, split at ``not_before`` (epoch ms) when given; computed once per log."""
        key = (job_id, not_before)
        found = self._jobs.get(key)
        if found is None:
            own = list(compress(range(len(self.job_ids)), map(job_id.__eq__, self.job_ids)))
            earlier: list[int] = []
            if not_before is not None:
                stamps = self.timestamps_ms
                earlier = [i for i in own if stamps[i] < not_before]
                if earlier:
                    own = [i for i in own if stamps[i] >= not_before]
            cps = self.checkpoint_ids
            own_cps = tuple([cps[i] for i in own])
            found = JobCommits(
                tuple(own),
                own_cps,
                all(map(operator.le, own_cps, own_cps[1:])),
                tuple(earlier),
                max((cps[i] for i in earlier), default=None),
            )
            self._jobs[key] = found
        return found

    def last_not_of(self, job_id: str) -> int | None:
        """The index of the newest commit of another job."""
        jobs = self.job_ids
        for i in range(len(jobs) - 1, -1, -1):
            if jobs[i] != job_id:
                return i
        return None

    def highest_not_of(self, job_id: str) -> int | None:
        """The highest checkpoint id committed by any other job."""
        top = self._top
        if top is None:
            top = {}
            for j, cp in zip(self.job_ids, self.checkpoint_ids, strict=True):
                if cp > top.get(j, cp - 1):
                    top[j] = cp
            self._top = top
        return max((cp for j, cp in top.items() if j != job_id), default=None)
