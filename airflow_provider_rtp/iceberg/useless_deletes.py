"""Equality-delete rows that deleted nothing: their key matched no older row.

In upsert mode the Flink sink writes an equality delete before every insert, also
for a key it never saw; a key filter on the write side would drop those. A delete
row with data sequence number ``s`` applies to the data files of its partition
with a sequence number below ``s``, so it is *useless* when no such file holds a
row with its key. Rows count whether or not a later delete removed them (they are
physically there), so the figure is exact as long as the partition's history is
intact: once compaction rewrites data files, the removed rows and the replaced
delete files are gone from it.

Only the key columns (the delete file's ``equality_ids``) are read, per
partition, and only Parquet. Reading is bounded by :class:`UselessDeleteBudget`:
beyond it nothing is read and the figure is "not computed" (never partial).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError

__all__ = [
    "KeyFile",
    "KeyPlan",
    "UselessDeleteBudget",
    "count_useless",
    "count_useless_deletes",
]

Key = tuple[Hashable, ...]
_FIELD_ID = b"PARQUET:field_id"


def count_useless(
    data: Iterable[tuple[int, Iterable[Key]]], deletes: Iterable[tuple[int, Iterable[Key]]]
) -> int:
    """Delete rows whose key is in no data file with a lower sequence number.

    :param data: per data file of one partition, ``(data sequence number, keys of its rows)``.
    :param deletes: per equality-delete file of the same partition, likewise.
    """
    first: dict[Key, int] = {}  # the lowest sequence number holding each key
    for seq, keys in data:
        for key in keys:
            if first.get(key, seq) >= seq:
                first[key] = seq
    useless = 0
    for seq, keys in deletes:
        for key in keys:
            held = first.get(key)
            if held is None or held >= seq:
                useless += 1
    return useless


@dataclass(frozen=True)
class KeyFile:
    """A file whose key columns are to be read, and its row count (from the manifest)."""

    path: str
    sequence_number: int
    rows: int


@dataclass(frozen=True)
class KeyPlan:
    """One partition's equality deletes with one key, and the older data files they may match."""

    partition: str
    equality_ids: tuple[int, ...]
    data: tuple[KeyFile, ...]
    deletes: tuple[KeyFile, ...]

    @property
    def files(self) -> int:
        return len(self.data) + len(self.deletes)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in (*self.data, *self.deletes))


@dataclass(frozen=True)
class UselessDeleteBudget:
    """The most the count may read; beyond it the figure is "not computed".

    :param max_files: data and delete files opened (each costs a footer read).
    :param max_rows: rows whose keys are read. Memory follows the rows of the largest
        partition (a Python tuple per key, about 150 B), so 2,000,000 rows stay well under 1 GB.
    """

    max_files: int = 2_000
    max_rows: int = 2_000_000

    def __post_init__(self) -> None:
        if self.max_files < 0 or self.max_rows < 0:
            raise InvalidInputError(f"budget must be >= 0, got {self.max_files} files, {self.max_rows} rows")

    def allows(self, plans: Sequence[KeyPlan]) -> bool:
        return sum(p.files for p in plans) <= self.max_files and sum(p.rows for p in plans) <= self.max_rows


def _read_keys(open_file: Callable[[str], Any], path: str, ids: Sequence[int]) -> list[Key]:
    import pyarrow.parquet as pq

    with open_file(path) as stream:
        pf = pq.ParquetFile(stream)
        by_id: dict[int, str] = {}
        for f in pf.schema_arrow:
            raw = (f.metadata or {}).get(_FIELD_ID)
            if raw is not None:
                by_id[int(raw)] = f.name
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise IcebergError(f"{path}: no top-level column with field id {missing} (equality key)")
        columns = pf.read(columns=[by_id[i] for i in ids]).columns
    return list(zip(*(c.to_pylist() for c in columns), strict=True))


def count_useless_deletes(
    plans: Sequence[KeyPlan], open_file: Callable[[str], Any], budget: UselessDeleteBudget
) -> tuple[Mapping[str, int] | None, str]:
    """Useless delete rows per partition, and a note; ``None`` when over budget or unreadable.

    :param open_file: a path -> a seekable binary stream (the table's FileIO).
    """
    if not plans:
        return {}, "exact (no equality deletes)"
    files, rows = sum(p.files for p in plans), sum(p.rows for p in plans)
    if not budget.allows(plans):
        return None, (
            f"not computed: would read the keys of {files:,} files, {rows:,} rows "
            f"(budget {budget.max_files:,} files, {budget.max_rows:,} rows)"
        )
    out: dict[str, int] = {}
    try:
        for plan in plans:

            def keys(kf: KeyFile, ids: tuple[int, ...] = plan.equality_ids) -> tuple[int, list[Key]]:
                return kf.sequence_number, _read_keys(open_file, kf.path, ids)

            n = count_useless(map(keys, plan.data), map(keys, plan.deletes))
            out[plan.partition] = out.get(plan.partition, 0) + n
    except (OSError, IcebergError) as exc:
        return None, f"not computed: {exc}"
    return out, f"exact: read the keys of {files:,} files, {rows:,} rows"
