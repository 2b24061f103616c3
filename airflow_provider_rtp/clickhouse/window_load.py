"""Load one time window of rows into a ClickHouse table so that a retry or a re-run leaves one copy.

The rows go first into staging tables, one beside the local table on every replica of every
shard (``CREATE TABLE ... AS`` the local table: same columns, engine and partition key).
Nothing in the target changes while rows move, so a load killed at any point leaves the
target as it was, and the next attempt starts over with fresh staging tables. Then, on each
replica:

1. the staging table's row count and checksum must equal what was sent to its shard;
2. the partitions to swap are the staging table's and the target's partitions that hold rows
   of the window (a row deleted upstream since the last load must go too). None of them may
   hold a target row outside the window: the partition key would be coarser than the window
   and a swap would drop other windows' rows, so the load refuses, naming the partition key;
3. ``ALTER TABLE target REPLACE PARTITION ID ... FROM staging`` for each, atomic per partition
   (ClickHouse 18.16 has it);
4. the target's window rows are counted and summed again and must equal what was sent, else
   the load fails naming the shard.

Rows reach the shards along one of two paths with the same placement: straight into each
shard's staging table, placed by the Distributed table's sharding key reproduced bit for bit
(:mod:`.sharding`), or through a staging Distributed table (``insert_distributed_sync``), which
lets ClickHouse place them. :class:`.encode.BatchEncoder` puts each Arrow batch in the
target's terms; :mod:`.streams` sends its Native blocks, one HTTP request per server.

:func:`reconcile_window` repeats step 4 alone, later, against a fresh read of the window.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_rtp.clickhouse.checksum import MASK, row_hash
from airflow_provider_rtp.clickhouse.encode import BatchEncoder, add_sums
from airflow_provider_rtp.clickhouse.mapping import SourceColumn, check_columns, unwrap_type
from airflow_provider_rtp.clickhouse.sharding import parse_distributed_engine
from airflow_provider_rtp.clickhouse.sql import quote_identifier, quote_string
from airflow_provider_rtp.clickhouse.streams import NativeSender, Progress
from airflow_provider_rtp.clickhouse.target import (
    ClickHouseIO,
    Target,
    WritePath,
    micros,
    resolve_target,
    window_condition,
)
from airflow_provider_rtp.clickhouse.topology import Replica
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError

__all__ = [
    "LoadReport",
    "ReconciliationError",
    "ShardLoad",
    "load_window",
    "reconcile_window",
    "staging_name",
]

log = logging.getLogger(__name__)

_PARTITION_ID = "splitByChar('_', _part)[1]"  # a part's name starts with its partition's ID

# The server writes a part per this many rows as they arrive, instead of squashing a million
# rows (the default) first: writing overlaps sending, and less waits after the last block.
_INSERT_SETTINGS = {"min_insert_block_size_rows": 262_144}

Sums = tuple[int, int]  # (rows, checksum modulo 2**64)
Place = tuple[int, Replica | None]  # (shard index, replica; None: the connection's server)


class ReconciliationError(ClickHouseError):
    """A shard does not hold what was sent to it; names the shard and both sides."""

    def __init__(self, message: str, shard: int):
        super().__init__(message)
        self.shard = shard


@dataclass
class ShardLoad:
    shard: int  # shard_num, from 1
    rows: int = 0
    checksum: str = "0" * 16  # hex, as the report's total
    partitions: list[str] = field(default_factory=list)
    replicas: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """What a load did; ``as_dict()`` is what the operator returns (XCom)."""

    table: str
    write_path: str
    window_start: str
    window_end: str
    time_column: str
    rows: int
    checksum: str  # hex of the sum of row hashes modulo 2**64
    shards: list[ShardLoad]
    seconds: float
    rows_per_second: float
    checksum_leaves_out: list[str] = field(default_factory=list)
    placement_checked: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Window:
    """One window of one target, checked: the column pairs and the window's SQL."""

    target: Target
    pairs: list[tuple[SourceColumn, str]]
    time_column: str
    start: datetime
    end: datetime
    condition: str  # start <= time_column < end, in the target's terms

    nullable: bool  # the time column may be NULL: such a row is outside every window

    @property
    def inside(self) -> str:
        return self.condition  # NULL for a NULL time: not selected

    @property
    def outside(self) -> str:
        # Without ifNull(): ClickHouse 18.16 crashes on ifNull() in a WHERE that reads _part.
        null = f" OR isNull({quote_identifier(self.time_column)})" if self.nullable else ""
        return f"(NOT {self.condition}{null})"

    @property
    def places(self) -> list[Place]:
        return [(i, r) for i, replicas in enumerate(self.target.shards) for r in replicas]

    def where(self, place: Place) -> str:
        index, replica = place
        return self.target.shard_of(index) + (f", replica {replica.host}:{replica.port}" if replica else "")

    def describe(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()}) of {self.time_column}"


def _window(
    target: Target, source: Sequence[SourceColumn], time_column: str, start: datetime, end: datetime
) -> _Window:
    pairs = check_columns(source, target.columns, target.name)
    types = dict(target.columns)
    if time_column not in types:
        raise InvalidInputError(f"window column {time_column!r} is not a column of {target.name}")
    by_name = {c.name: c for c in source}
    if by_name[time_column].type.strip().lower() not in ("timestamp", "timestamptz"):
        raise InvalidInputError(
            f"window column {time_column!r} is {by_name[time_column].type}, not a timestamp"
        )
    condition = window_condition(time_column, types[time_column], start, end)
    nullable = unwrap_type(types[time_column])[1]
    return _Window(target, pairs, time_column, start, end, condition, nullable)


def staging_name(table: str, target: Target, start: datetime, end: datetime) -> str:
    """The staging table beside ``table`` for one window of ``target``: the same name on every
    attempt, so a retry replaces what a killed attempt left."""
    digest = hashlib.sha1(f"{target.name}|{micros(start)}|{micros(end)}".encode()).hexdigest()[:10]
    return f"{table}__rtp_stage_{digest}"


def _sums(io: ClickHouseIO, table: str, hash_sql: str, where: str, replica: Replica | None) -> Sums:
    rows, checksum = io.execute(
        f"SELECT count(), sum({hash_sql}) FROM {table} WHERE {where}", replica=replica
    )[0]
    return int(rows), int(checksum or 0) & MASK


def _check(
    w: _Window,
    found: Mapping[Place, Sums],
    expected: Sequence[Sums],
    what: str,
    after: str,
    per_shard: bool | None = None,
) -> list[Sums]:
    """``found`` per replica against ``expected`` per shard, or in total (at index 0) when the
    source's rows were placed by ClickHouse (``per_shard`` False; default: whether the target's
    placement is reproduced here); every replica of a shard alike. Returns what each shard holds."""
    held: dict[int, Sums] = {}
    placed_here = w.target.placed_here if per_shard is None else per_shard
    for place, got in found.items():
        index = place[0]
        if index in held and held[index] != got:
            raise ReconciliationError(
                f"{w.where(place)}: {what} holds {got[0]} rows (checksum {got[1]:016x}), another replica "
                f"of the shard {held[index][0]} (checksum {held[index][1]:016x}){after}",
                index + 1,
            )
        held[index] = got
        if placed_here and got != expected[index]:
            raise ReconciliationError(
                f"{w.where(place)}: {what} holds {got[0]} rows (checksum {got[1]:016x}), the source "
                f"{expected[index][0]} (checksum {expected[index][1]:016x}){after}",
                index + 1,
            )
    shards = [held[i] for i in range(len(w.target.shards))]
    if not placed_here:
        total = (sum(r for r, _ in shards), sum(c for _, c in shards) & MASK)
        if total != expected[0]:
            raise ReconciliationError(
                f"{w.target.name}: {what} holds {total[0]} rows (checksum {total[1]:016x}) on all "
                f"shards, the source {expected[0][0]} (checksum {expected[0][1]:016x}){after}",
                0,
            )
    return shards


def _send(
    io: ClickHouseIO,
    w: _Window,
    batches: Iterable[Any],
    stage_local: str,
    stage_dist: str | None,
    progress: Progress,
) -> list[Sums]:
    """Stream every batch to staging; the (rows, checksum) sent per shard index (in total, at
    index 0, when ClickHouse places the rows)."""
    columns = ", ".join(quote_identifier(name) for name, _ in w.target.columns)
    senders: list[list[NativeSender]]
    if stage_dist is not None:
        query = f"INSERT INTO {stage_dist} ({columns}) FORMAT Native"

        def through_distributed(blocks: Iterable[bytes]) -> None:
            io.insert_native(query, blocks, settings={"insert_distributed_sync": 1, **_INSERT_SETTINGS})

        senders = [[NativeSender(through_distributed, w.target.name)]]
    else:
        query = f"INSERT INTO {stage_local} ({columns}) FORMAT Native"

        def sender(place: Place) -> NativeSender:
            def into_replica(blocks: Iterable[bytes]) -> None:
                io.insert_native(query, blocks, replica=place[1], settings=_INSERT_SETTINGS)

            return NativeSender(into_replica, w.where(place))

        senders = [[sender((i, r)) for r in replicas] for i, replicas in enumerate(w.target.shards)]
    every = [s for group in senders for s in group]
    sent: list[Sums] = [(0, 0)] * len(w.target.shards)
    finished = False
    try:
        with BatchEncoder(w.target, w.pairs) as encoder:
            split = stage_dist is None and len(w.target.shards) > 1
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                shards, per_shard = encoder.measure(batch)
                add_sums(sent, per_shard)
                if not split:
                    block = encoder.native(batch)
                    for s in every:
                        s.put(block)
                else:
                    for i, (rows, _) in enumerate(per_shard):
                        if rows:
                            block = encoder.native(batch, shards, i)
                            for s in senders[i]:
                                s.put(block)
                progress.add(batch.num_rows)
        for s in every:
            s.finish()
        finished = True
    finally:
        if not finished:
            for s in every:
                s.abandon()
    return sent


def _partitions_to_swap(io: ClickHouseIO, w: _Window, place: Place, local: str, stage: str) -> list[str]:
    """The staging table's partitions and the target's holding window rows; refused when one of
    them also holds target rows outside the window."""
    replica = place[1]
    # Merges never change the set of a table's partitions: system.parts is enough for staging.
    ids = {
        str(p)
        for (p,) in io.execute(
            "SELECT DISTINCT partition_id FROM system.parts "
            "WHERE database = %(db)s AND table = %(t)s AND active",
            {"db": w.target.local_database, "t": stage},
            replica=replica,
        )
    }
    ids |= {
        str(p)
        for (p,) in io.execute(
            f"SELECT DISTINCT {_PARTITION_ID} FROM {local} WHERE {w.inside}", replica=replica
        )
    }
    if ids:
        listed = ", ".join(quote_string(p) for p in sorted(ids))
        shared = io.execute(
            f"SELECT {_PARTITION_ID} AS p, count() FROM {local} "
            f"WHERE p IN ({listed}) AND {w.outside} GROUP BY p ORDER BY p LIMIT 5",
            replica=replica,
        )
        if shared:
            detail = ", ".join(f"{p} ({n} rows)" for p, n in shared)
            raise InvalidInputError(
                f"{w.target.name}: partitions {detail} of {w.where(place)} hold rows outside "
                f"{w.describe()}; PARTITION BY {w.target.partition_key} is coarser than the window, so "
                "swapping it would drop them. Load windows that cover whole partitions (e.g. PARTITION "
                "BY toStartOfHour(...) for hourly loads); the target is unchanged"
            )
    return sorted(ids)


def _placement(target: Target) -> str:
    if target.key_refusal:
        return "totals only: " + target.key_refusal
    if target.key is not None and len(target.shards) > 1:
        return f"each shard's rows as {target.key.expression} places them"
    return "one shard"


def _report(
    w: _Window,
    path: str,
    held: Sequence[Sums],
    parts: Mapping[Place, list[str]],
    progress: Progress,
    sending: float,
) -> LoadReport:
    shards = [ShardLoad(i + 1, rows, f"{checksum:016x}") for i, (rows, checksum) in enumerate(held)]
    for place, ids in parts.items():
        shard = shards[place[0]]
        shard.partitions = sorted(set(shard.partitions) | set(ids))
        replica = place[1]
        shard.replicas.append(f"{replica.host}:{replica.port}" if replica else w.target.name)
    rows = sum(r for r, _ in held)
    return LoadReport(
        table=w.target.name,
        write_path=path,
        window_start=w.start.isoformat(),
        window_end=w.end.isoformat(),
        time_column=w.time_column,
        rows=rows,
        checksum=f"{sum(c for _, c in held) & MASK:016x}",
        shards=shards,
        seconds=round(time.monotonic() - progress.started, 3),
        rows_per_second=round(rows / sending, 1) if sending > 0 else 0.0,
        checksum_leaves_out=list(row_hash(w.target.columns).left_out),
        placement_checked=_placement(w.target),
    )


def load_window(
    io: ClickHouseIO,
    batches: Iterable[Any],
    source: Sequence[SourceColumn],
    *,
    table: str,
    time_column: str,
    start: datetime,
    end: datetime,
    write_path: WritePath | str = WritePath.LOCAL_SHARDS,
    progress_interval: float = 5.0,
    target: Target | None = None,
) -> LoadReport:
    """Replace the rows of ``[start, end)`` of ``time_column`` in ``table`` with ``batches``.

    ``batches``: Arrow record batches of exactly the window's rows (the caller reads them);
    ``source``: their columns as Iceberg declares them. ``target``: from :func:`resolve_target`
    when the caller checked it already. Everything is checked before a row moves; see the
    module's text for the steps and the guarantees.
    """
    write_path = WritePath(write_path)
    target = target or resolve_target(io, table, write_path)
    w = _window(target, source, time_column, start, end)
    hash_sql = row_hash(target.columns).sql
    stage = staging_name(target.local_table, target, start, end)
    local = f"{quote_identifier(target.local_database)}.{quote_identifier(target.local_table)}"
    stage_local = f"{quote_identifier(target.local_database)}.{quote_identifier(stage)}"
    stage_dist: str | None = None
    path = (
        WritePath.DISTRIBUTED
        if write_path is WritePath.DISTRIBUTED and target.distributed
        else WritePath.LOCAL_SHARDS
    )
    progress = Progress(progress_interval, target.name)
    log.info("loading %s into %s along %s: staging %s", w.describe(), target.name, path.value, stage)
    try:
        for _, replica in w.places:
            io.execute(f"DROP TABLE IF EXISTS {stage_local}", replica=replica)
            io.execute(f"CREATE TABLE {stage_local} AS {local}", replica=replica)
        if path is WritePath.DISTRIBUTED:
            assert target.cluster is not None
            dist_stage = staging_name(target.table, target, start, end)
            stage_dist = f"{quote_identifier(target.database)}.{quote_identifier(dist_stage)}"
            args = [
                quote_string(target.cluster.name),
                quote_string(target.local_database),
                quote_string(stage),
            ]
            if key := parse_distributed_engine(target.engine_full).sharding_key:
                args.append(key)  # as the table has it: ClickHouse places the rows
            original = f"{quote_identifier(target.database)}.{quote_identifier(target.table)}"
            io.execute(f"DROP TABLE IF EXISTS {stage_dist}")
            io.execute(f"CREATE TABLE {stage_dist} AS {original} ENGINE = Distributed({', '.join(args)})")
        sent = _send(io, w, batches, stage_local, stage_dist, progress)
        sending = time.monotonic() - progress.started
        # 1. staging holds what was sent
        staged = {place: _sums(io, stage_local, hash_sql, "1", place[1]) for place in w.places}
        held = _check(w, staged, sent, "staging", "; the target is unchanged")
        # 2. the partitions to swap, none shared with rows outside the window
        parts = {place: _partitions_to_swap(io, w, place, local, stage) for place in w.places}
        # 3. swap, 4. the target's window holds what staging held
        for place in w.places:
            for partition in parts[place]:
                io.execute(
                    f"ALTER TABLE {local} REPLACE PARTITION ID {quote_string(partition)} FROM {stage_local}",
                    replica=place[1],
                )
        swapped = {place: _sums(io, local, hash_sql, w.inside, place[1]) for place in w.places}
        _check(w, swapped, held, "after the swap the window", "", per_shard=True)
    finally:
        _drop(io, w.places, stage_local, stage_dist)
    report = _report(w, path.value, held, parts, progress, sending)
    log.info(
        "%s: %d rows of the window in place, %.0f rows/s", target.name, report.rows, report.rows_per_second
    )
    return report


def reconcile_window(
    io: ClickHouseIO,
    batches: Iterable[Any],
    source: Sequence[SourceColumn],
    *,
    table: str,
    time_column: str,
    start: datetime,
    end: datetime,
    progress_interval: float = 5.0,
    target: Target | None = None,
) -> LoadReport:
    """Check that ``table``'s window holds exactly ``batches`` (a fresh read of the source),
    per shard by row count and checksum; :class:`ReconciliationError` names a shard that differs."""
    target = target or resolve_target(io, table, WritePath.DISTRIBUTED)
    w = _window(target, source, time_column, start, end)
    progress = Progress(progress_interval, target.name, "read")
    expected: list[Sums] = [(0, 0)] * len(target.shards)
    with BatchEncoder(target, w.pairs) as encoder:
        for batch in batches:
            if batch.num_rows:
                add_sums(expected, encoder.measure(batch)[1])
                progress.add(batch.num_rows)
    sending = time.monotonic() - progress.started
    local = f"{quote_identifier(target.local_database)}.{quote_identifier(target.local_table)}"
    hash_sql = row_hash(target.columns).sql
    found = {place: _sums(io, local, hash_sql, w.inside, place[1]) for place in w.places}
    held = _check(w, found, expected, "the window", "")
    return _report(w, "reconcile", held, {}, progress, sending)


def _drop(io: ClickHouseIO, places: Sequence[Place], stage_local: str, stage_dist: str | None) -> None:
    statements: list[tuple[str, Replica | None]] = (
        [(f"DROP TABLE IF EXISTS {stage_dist}", None)] if stage_dist else []
    )
    statements += [(f"DROP TABLE IF EXISTS {stage_local}", replica) for _, replica in places]
    for statement, replica in statements:
        try:
            io.execute(statement, replica=replica)
        except Exception as exc:  # the load's own error matters more; a retry drops it again
            log.warning("could not drop a staging table: %s", exc)
