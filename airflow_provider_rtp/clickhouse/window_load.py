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
lets ClickHouse place them. An embedded ClickHouse (chdb) converts each Arrow batch to the
target's column types (:func:`.mapping.cast_sql`), computes the key and the row hashes
(:mod:`.checksum`) and encodes the Native blocks that stream, one HTTP request per replica, to
the servers.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from airflow_provider_rtp.clickhouse.checksum import MASK, row_hash
from airflow_provider_rtp.clickhouse.mapping import (
    CH_DATETIME64,
    SourceColumn,
    cast_sql,
    check_columns,
    unwrap_type,
)
from airflow_provider_rtp.clickhouse.sharding import (
    ShardingKey,
    UnreproducibleShardingKeyError,
    parse_distributed_engine,
)
from airflow_provider_rtp.clickhouse.sql import quote_identifier, quote_string
from airflow_provider_rtp.clickhouse.topology import Cluster, Replica
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError

__all__ = [
    "ClickHouseIO",
    "LoadReport",
    "ReconciliationError",
    "ShardLoad",
    "Target",
    "WritePath",
    "load_window",
    "resolve_target",
    "staging_name",
    "window_condition",
]

log = logging.getLogger(__name__)

_SHARD_COLUMN = "__rtp_shard"
_QUEUED_BLOCKS = 4  # Native blocks waiting per replica: memory stays a few batches


class WritePath(enum.StrEnum):
    LOCAL_SHARDS = "local_shards"  # straight into each shard's local table, placed here
    DISTRIBUTED = "distributed"  # through a Distributed table, placed by ClickHouse


class ReconciliationError(ClickHouseError):
    """A shard does not hold what was sent to it; names the shard and both sides."""

    def __init__(self, message: str, shard: int):
        super().__init__(message)
        self.shard = shard


class ClickHouseIO(Protocol):
    """What a load needs from ClickHouse; ``replica`` None is the connection's own server."""

    def execute(self, query: str, params: Any = None, *, replica: Replica | None = None) -> Any: ...

    def insert_native(
        self,
        query: str,
        blocks: Iterable[bytes],
        *,
        replica: Replica | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None: ...

    def cluster(self, name: str) -> Cluster: ...

    def table_columns(
        self, database: str, table: str, *, replica: Replica | None = None, insertable: bool = False
    ) -> list[tuple[str, str]]: ...

    def table_engine(
        self, database: str, table: str, *, replica: Replica | None = None
    ) -> dict[str, str]: ...


@dataclass(frozen=True)
class Target:
    """The table a load writes and where its rows live.

    ``shards``: per shard (in shard order) the replicas holding its local table; ``None`` is
    the connection's server, for a plain MergeTree table (one shard, no cluster).
    """

    name: str
    database: str
    table: str
    columns: tuple[tuple[str, str], ...]  # the insertable columns, in table order
    local_database: str
    local_table: str
    partition_key: str
    shards: tuple[tuple[Replica | None, ...], ...]
    cluster: Cluster | None = None
    engine_full: str = ""
    key: ShardingKey | None = None
    key_refusal: str | None = None  # why the sharding key cannot be reproduced, if it cannot

    @property
    def distributed(self) -> bool:
        return self.cluster is not None

    def shard_of(self, index: int) -> str:
        if self.cluster is None:
            return f"{self.name} (single server)"
        replicas = ", ".join(f"{r.host}:{r.port}" for r in self.shards[index] if r is not None)
        return f"shard {index + 1} of {self.cluster.name} ({replicas})"


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


def _split_name(table: str) -> tuple[str, str]:
    if not isinstance(table, str) or table.count(".") < 1 or table.startswith(".") or table.endswith("."):
        raise InvalidInputError(f"ClickHouse table must be 'database.table', got {table!r}")
    database, name = table.split(".", 1)
    return database, name


def _check_local_engine(engine: Mapping[str, str], where: str) -> str:
    """The partition key of a MergeTree table the load can stage beside and swap into."""
    name = engine["engine"]
    if name.startswith("Replicated"):
        raise InvalidInputError(
            f"{where} is {name}: replicated targets are not loaded (a staging table made AS it "
            "would share its ZooKeeper path); load into a non-replicated MergeTree"
        )
    if not name.endswith("MergeTree"):
        raise InvalidInputError(f"{where} is {name}, not a MergeTree table: its partitions cannot be swapped")
    key = (engine.get("partition_key") or "").strip()
    if "PARTITION BY" not in engine.get("engine_full", "") or key in ("", "tuple()"):
        raise InvalidInputError(
            f"{where} has no PARTITION BY (legacy or unpartitioned): a window is swapped by "
            "partition, so the table needs one that no row outside the window shares, e.g. "
            "PARTITION BY toStartOfHour(...) for hourly windows"
        )
    return key


def resolve_target(io: ClickHouseIO, table: str, write_path: WritePath | str) -> Target:
    """Everything about the target that can be checked before a row moves."""
    try:
        write_path = WritePath(write_path)
    except ValueError:
        raise InvalidInputError(
            f"unknown write_path {write_path!r}; use one of {', '.join(p.value for p in WritePath)}"
        ) from None
    database, name = _split_name(table)
    engine = io.table_engine(database, name)
    columns = tuple(io.table_columns(database, name, insertable=True))
    if engine["engine"] != "Distributed":
        partition_key = _check_local_engine(engine, table)
        return Target(table, database, name, columns, database, name, partition_key, ((None,),))
    dist = parse_distributed_engine(engine["engine_full"])
    cluster = io.cluster(dist.cluster)
    local_database = dist.remote_database(database)
    key: ShardingKey | None = None
    refusal: str | None = None
    if dist.sharding_key is None:
        if len(cluster.shards) > 1:
            raise InvalidInputError(
                f"{table} has no sharding key and {len(cluster.shards)} shards: ClickHouse cannot "
                "insert through it, and no placement can be reproduced"
            )
    else:
        all_columns = dict(io.table_columns(database, name))
        try:
            key = ShardingKey.parse(dist.sharding_key, all_columns)
        except UnreproducibleShardingKeyError as exc:
            if write_path is WritePath.LOCAL_SHARDS:
                raise InvalidInputError(
                    f"{table} cannot be written straight into its shards: {exc}; use "
                    "write_path='distributed' to let ClickHouse place the rows"
                ) from exc
            refusal = str(exc)
    shards = tuple(tuple(s.replicas) for s in cluster.shards)
    partition_keys = set()
    for shard in cluster.shards:
        for replica in shard.replicas:
            where = f"{local_database}.{dist.table} on {replica.host}:{replica.port}"
            local_engine = io.table_engine(local_database, dist.table, replica=replica)
            partition_keys.add(_check_local_engine(local_engine, where))
            local_columns = tuple(
                io.table_columns(local_database, dist.table, replica=replica, insertable=True)
            )
            if local_columns != columns:
                raise InvalidInputError(
                    f"{where} has columns {list(local_columns)}, the Distributed table {table} "
                    f"{list(columns)}: make them equal before loading"
                )
    if len(partition_keys) > 1:
        raise InvalidInputError(
            f"the local tables of {table} differ in partition key: {sorted(partition_keys)}"
        )
    return Target(
        table,
        database,
        name,
        columns,
        local_database,
        dist.table,
        partition_keys.pop(),
        shards,
        cluster=cluster,
        engine_full=engine["engine_full"],
        key=key,
        key_refusal=refusal,
    )


def _micros(t: datetime) -> int:
    return (t.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def window_condition(column: str, ch_type: str, start: datetime, end: datetime) -> str:
    """``start <= column < end`` in the target's terms (Int64 epoch microseconds or DateTime64)."""
    for name, t in (("start", start), ("end", end)):
        if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
            raise InvalidInputError(f"window {name} {t!r} must be a timezone-aware datetime")
    if start >= end:
        raise InvalidInputError(f"window start {start.isoformat()} is not before its end {end.isoformat()}")
    inner, _ = unwrap_type(ch_type)
    c = quote_identifier(column)
    if inner == "Int64":
        return f"({c} >= {_micros(start)} AND {c} < {_micros(end)})"
    if m := CH_DATETIME64.match(inner):
        digits = int(m.group(1))

        def literal(t: datetime) -> str:
            text = t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return f"toDateTime64({quote_string(text)}, {max(digits, 6)}, 'UTC')"

        return f"({c} >= {literal(start)} AND {c} < {literal(end)})"
    raise InvalidInputError(
        f"window column {column} is {ch_type}: a load is windowed on a timestamp stored as "
        "DateTime64 or Int64 epoch microseconds"
    )


def staging_name(table: str, target: Target, start: datetime, end: datetime) -> str:
    """The staging table beside ``table`` for one window of ``target``: the same name on every
    attempt, so a retry replaces what a killed attempt left."""
    digest = hashlib.sha1(f"{target.name}|{_micros(start)}|{_micros(end)}".encode()).hexdigest()[:10]
    return f"{table}__rtp_stage_{digest}"


class _Sender:
    """One streamed ``INSERT ... FORMAT Native`` on its own thread, fed through a bounded queue."""

    def __init__(self, run: Callable[[Iterable[bytes]], None], where: str):
        self.where = where
        self.error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_BLOCKS)
        self._thread = threading.Thread(
            target=self._run, args=(run,), name=f"rtp-insert {where}", daemon=True
        )
        self._thread.start()

    def _blocks(self) -> Iterator[bytes]:
        while (block := self._queue.get()) is not None:
            yield block

    def _run(self, run: Callable[[Iterable[bytes]], None]) -> None:
        try:
            run(self._blocks())
        except BaseException as exc:  # handed to the producer, which raises it
            self.error = exc
            # Unblock a producer waiting on a full queue; nothing more will be read.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def put(self, block: bytes | None) -> None:
        while True:
            self._raise()
            try:
                self._queue.put(block, timeout=0.5)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self.error is not None:
            raise ClickHouseError(f"insert into {self.where} failed: {self.error}") from self.error
        if not self._thread.is_alive():
            raise ClickHouseError(f"insert into {self.where} ended early")

    def finish(self) -> None:
        self.put(None)
        self._thread.join()
        if self.error is not None:
            self._raise()

    def abandon(self) -> None:
        """End the stream early (its staging table is dropped next), waiting a little for it."""
        if self._thread.is_alive() and self.error is None:
            try:
                self._queue.put(None, timeout=5)
            except queue.Full:
                return
            self._thread.join(timeout=30)


class _Progress:
    def __init__(self, interval: float, table: str):
        self.interval, self.table = interval, table
        self.started = self.last = time.monotonic()
        self.rows = 0

    def add(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            log.info("%s: %d rows sent (%.0f rows/s)", self.table, self.rows, self.rate(now))

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.monotonic()) - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0


def _encoder() -> Any:
    try:
        import chdb
    except ImportError as exc:
        raise ClickHouseError(
            "loading into ClickHouse needs the chdb package (pip install 'airflow-provider-rtp[lake-read]')"
        ) from exc
    return chdb.connect(":memory:")


def _query_arrow(conn: Any, sql: str, batch: Any) -> Any:
    import pyarrow as pa

    b = batch  # noqa: F841 - chdb's Python() table function reads the local variable named in the SQL
    return pa.ipc.open_stream(conn.query(sql.replace("{batch}", "b"), "ArrowStream").bytes()).read_all()


def _query_native(conn: Any, sql: str, batch: Any) -> bytes:
    b = batch  # noqa: F841 - read by Python(b) in the SQL
    return bytes(conn.query(sql.replace("{batch}", "b"), "Native").bytes())


def _sums(shards: Any, hashes: Any, count: int) -> list[tuple[int, int]]:
    """Per shard index: (rows, sum of hashes modulo 2**64; Arrow's unchecked sum wraps like ClickHouse's)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hashes = hashes.combine_chunks() if isinstance(hashes, pa.ChunkedArray) else hashes
    out = []
    for i in range(count):
        mine = pc.filter(hashes, pc.equal(shards, i)) if count > 1 else hashes
        out.append((len(mine), int(pc.sum(mine).as_py() or 0)))
    return out


def _send(
    io: ClickHouseIO,
    target: Target,
    batches: Iterable[Any],
    casts: str,
    hash_sql: str,
    stage_local: str,
    stage_dist: str | None,
    insert_columns: str,
    progress: _Progress,
) -> list[tuple[int, int]]:
    """Stream every batch to staging; per shard, the rows and checksum sent (totals only, in
    shard 0's place, when ClickHouse places the rows by a key not reproduced here)."""
    import pyarrow as pa

    from airflow_provider_rtp.clickhouse.sharding import shard_indexes

    nshards = len(target.shards)
    placed_here = target.key is not None or nshards == 1
    senders: list[list[_Sender]] = []
    if stage_dist is not None:
        query = f"INSERT INTO {stage_dist} ({insert_columns}) FORMAT Native"

        def through_distributed(blocks: Iterable[bytes]) -> None:
            io.insert_native(query, blocks, settings={"insert_distributed_sync": 1})

        senders = [[_Sender(through_distributed, target.name)]]
    else:
        query = f"INSERT INTO {stage_local} ({insert_columns}) FORMAT Native"
        for i, replicas in enumerate(target.shards):
            shard_senders = []
            for replica in replicas:

                def into_replica(blocks: Iterable[bytes], replica: Replica | None = replica) -> None:
                    io.insert_native(query, blocks, replica=replica)

                shard_senders.append(_Sender(into_replica, target.shard_of(i)))
            senders.append(shard_senders)
    all_senders = [s for group in senders for s in group]
    sent = [(0, 0)] * nshards
    conn = _encoder()
    finished = False
    try:
        selected = f"SELECT {casts} FROM Python({{batch}})"
        key_sql = target.key.value_sql() if target.key is not None else None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if _SHARD_COLUMN in batch.schema.names:
                raise InvalidInputError(f"the source has a column named {_SHARD_COLUMN}, which the load uses")
            key_part = f", {key_sql} AS k" if key_sql is not None and nshards > 1 else ""
            measured = _query_arrow(conn, f"SELECT {hash_sql} AS h{key_part} FROM ({selected})", batch)
            if key_part:
                assert target.key is not None and target.cluster is not None
                shards = shard_indexes(measured.column("k"), target.key.value_type, target.cluster)
            else:
                shards = pa.array([0] * batch.num_rows, pa.int32())
            per_shard = _sums(shards, measured.column("h"), nshards if placed_here else 1)
            for i, (rows, checksum) in enumerate(per_shard):
                sent[i] = (sent[i][0] + rows, (sent[i][1] + checksum) & MASK)
            if stage_dist is not None or nshards == 1:
                block = _query_native(conn, selected, batch)
                for sender in all_senders:
                    sender.put(block)
            else:
                tagged = batch.append_column(_SHARD_COLUMN, shards)
                for i, (rows, _) in enumerate(per_shard):
                    if rows:
                        block = _query_native(conn, f"{selected} WHERE {_SHARD_COLUMN} = {i}", tagged)
                        for sender in senders[i]:
                            sender.put(block)
            progress.add(batch.num_rows)
        for sender in all_senders:
            sender.finish()
        finished = True
    finally:
        conn.close()
        if not finished:
            for sender in all_senders:
                sender.abandon()
    return sent


def _count_and_sum(
    io: ClickHouseIO, table: str, hash_sql: str, where: str, replica: Replica | None
) -> tuple[int, int]:
    rows, checksum = io.execute(
        f"SELECT count(), sum({hash_sql}) FROM {table} WHERE {where}", replica=replica
    )[0]
    return int(rows), int(checksum or 0) & MASK


_PARTITION_ID = "splitByChar('_', _part)[1]"  # a part's name starts with its partition's ID


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
    pairs = check_columns(source, target.columns, target.name)
    types = dict(target.columns)
    if time_column not in types:
        raise InvalidInputError(f"window column {time_column!r} is not a column of {target.name}")
    by_name = {c.name: c for c in source}
    if by_name[time_column].type.strip().lower() not in ("timestamp", "timestamptz"):
        raise InvalidInputError(
            f"window column {time_column!r} is {by_name[time_column].type}, not a timestamp"
        )
    window = window_condition(time_column, types[time_column], start, end)
    inside = f"ifNull({window}, 0)"
    hashed = row_hash(target.columns)
    casts = ", ".join(
        f"{cast_sql(s, t, quote_identifier(s.name))} AS {quote_identifier(s.name)}" for s, t in pairs
    )
    insert_columns = ", ".join(quote_identifier(name) for name, _ in target.columns)

    stage = staging_name(target.local_table, target, start, end)
    local = f"{quote_identifier(target.local_database)}.{quote_identifier(target.local_table)}"
    stage_local = f"{quote_identifier(target.local_database)}.{quote_identifier(stage)}"
    stage_dist: str | None = None
    through_distributed = write_path is WritePath.DISTRIBUTED and target.distributed
    places = [(i, r) for i, replicas in enumerate(target.shards) for r in replicas]
    progress = _Progress(progress_interval, target.name)
    log.info(
        "loading %s [%s, %s) into %s along %s: staging %s",
        time_column,
        start.isoformat(),
        end.isoformat(),
        target.name,
        WritePath.DISTRIBUTED.value if through_distributed else "local shard tables",
        stage,
    )
    try:
        for _, replica in places:
            io.execute(f"DROP TABLE IF EXISTS {stage_local}", replica=replica)
            io.execute(f"CREATE TABLE {stage_local} AS {local}", replica=replica)
        if through_distributed:
            assert target.cluster is not None
            dist_stage = staging_name(target.table, target, start, end)
            stage_dist = f"{quote_identifier(target.database)}.{quote_identifier(dist_stage)}"
            args = [
                quote_string(target.cluster.name),
                quote_string(target.local_database),
                quote_string(stage),
            ]
            if target.key is not None or target.key_refusal is not None:
                args.append(parse_distributed_engine(target.engine_full).sharding_key or "")
            io.execute(f"DROP TABLE IF EXISTS {stage_dist}")
            original = f"{quote_identifier(target.database)}.{quote_identifier(target.table)}"
            io.execute(f"CREATE TABLE {stage_dist} AS {original} ENGINE = Distributed({', '.join(args)})")
        sent = _send(
            io, target, batches, casts, hashed.sql, stage_local, stage_dist, insert_columns, progress
        )
        seconds_sending = time.monotonic() - progress.started
        shards = [ShardLoad(i + 1) for i in range(len(target.shards))]
        # 1. staging holds what was sent
        staged: dict[int, tuple[int, int]] = {}
        for i, replica in places:
            got = _count_and_sum(io, stage_local, hashed.sql, "1", replica)
            where = (
                f"{target.shard_of(i)}, replica {replica.host}:{replica.port}"
                if replica
                else target.shard_of(i)
            )
            if i in staged and staged[i] != got:
                raise ReconciliationError(
                    f"{where}: staging holds {got[0]} rows (checksum {got[1]:x}), another replica of "
                    f"the shard {staged[i][0]} (checksum {staged[i][1]:x})",
                    i + 1,
                )
            staged[i] = got
            placed_here = target.key is not None or len(target.shards) == 1
            if placed_here and got != sent[i]:
                raise ReconciliationError(
                    f"{where}: staging holds {got[0]} rows (checksum {got[1]:x}), {sent[i][0]} were "
                    f"sent to it (checksum {sent[i][1]:x}); the target is unchanged",
                    i + 1,
                )
        if not (target.key is not None or len(target.shards) == 1):
            total = (sum(r for r, _ in staged.values()), sum(c for _, c in staged.values()) & MASK)
            if total != sent[0]:
                raise ReconciliationError(
                    f"{target.name}: the shards' staging tables hold {total[0]} rows (checksum "
                    f"{total[1]:x}) in all, {sent[0][0]} were sent (checksum {sent[0][1]:x}); "
                    "the target is unchanged",
                    0,
                )
            sent = [staged[i] for i in range(len(target.shards))]
        # 2. the partitions to swap, none shared with rows outside the window
        swaps: dict[tuple[int, Replica | None], list[str]] = {}
        for i, replica in places:
            # Merges never change the set of a table's partitions: system.parts is enough here.
            ids = {
                str(p)
                for (p,) in io.execute(
                    "SELECT DISTINCT partition_id FROM system.parts "
                    "WHERE database = %(db)s AND table = %(t)s AND active",
                    {"db": target.local_database, "t": stage},
                    replica=replica,
                )
            }
            ids |= {
                str(p)
                for (p,) in io.execute(
                    f"SELECT DISTINCT {_PARTITION_ID} FROM {local} WHERE {window}", replica=replica
                )
            }
            if ids:
                listed = ", ".join(quote_string(p) for p in sorted(ids))
                shared = io.execute(
                    f"SELECT {_PARTITION_ID} AS p, count() FROM {local} "
                    f"WHERE p IN ({listed}) AND NOT {inside} GROUP BY p ORDER BY p LIMIT 5",
                    replica=replica,
                )
                if shared:
                    detail = ", ".join(f"{p} ({n} rows)" for p, n in shared)
                    raise InvalidInputError(
                        f"{target.name}: partitions {detail} of {target.shard_of(i)} hold rows outside "
                        f"[{start.isoformat()}, {end.isoformat()}) of {time_column}; PARTITION BY "
                        f"{target.partition_key} is coarser than the window, so swapping it would drop "
                        "them. Load windows that cover whole partitions (e.g. PARTITION BY "
                        "toStartOfHour(...) for hourly loads); the target is unchanged"
                    )
            swaps[(i, replica)] = sorted(ids)
        # 3. swap, 4. reconcile the target's window with what was sent
        for i, replica in places:
            for partition in swaps[(i, replica)]:
                io.execute(
                    f"ALTER TABLE {local} REPLACE PARTITION ID {quote_string(partition)} FROM {stage_local}",
                    replica=replica,
                )
            got = _count_and_sum(io, local, hashed.sql, inside, replica)
            if got != sent[i]:
                where = f"{target.shard_of(i)}" + (
                    f", replica {replica.host}:{replica.port}" if replica else ""
                )
                raise ReconciliationError(
                    f"{where}: after the swap the window holds {got[0]} rows (checksum {got[1]:x}), "
                    f"the source {sent[i][0]} (checksum {sent[i][1]:x})",
                    i + 1,
                )
            shard = shards[i]
            shard.rows, shard.checksum = sent[i][0], f"{sent[i][1]:016x}"
            shard.partitions = sorted(set(shard.partitions) | set(swaps[(i, replica)]))
            shard.replicas.append(f"{replica.host}:{replica.port}" if replica else target.name)
    finally:
        _drop(io, places, stage_local, stage_dist)
    rows = sum(s.rows for s in shards)
    log.info("%s: %d rows of the window in place, %.0f rows/s", target.name, rows, progress.rate())
    placement = (
        f"each shard's rows as {target.key.expression} places them"
        if target.key is not None and len(target.shards) > 1
        else "totals only: " + (target.key_refusal or "")
        if target.key_refusal
        else "one shard"
    )
    return LoadReport(
        table=target.name,
        write_path=WritePath.DISTRIBUTED.value if through_distributed else WritePath.LOCAL_SHARDS.value,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        time_column=time_column,
        rows=rows,
        checksum=f"{sum(checksum for _, checksum in sent) & MASK:016x}",
        shards=shards,
        seconds=round(time.monotonic() - progress.started, 3),
        rows_per_second=round(rows / seconds_sending, 1) if seconds_sending > 0 else 0.0,
        checksum_leaves_out=list(hashed.left_out),
        placement_checked=placement,
    )


def _drop(
    io: ClickHouseIO, places: Sequence[tuple[int, Replica | None]], stage_local: str, stage_dist: str | None
) -> None:
    statements: list[tuple[str, Replica | None]] = (
        [(f"DROP TABLE IF EXISTS {stage_dist}", None)] if stage_dist else []
    )
    statements += [(f"DROP TABLE IF EXISTS {stage_local}", replica) for _, replica in places]
    for statement, replica in statements:
        try:
            io.execute(statement, replica=replica)
        except Exception as exc:  # the load's own error matters more; a retry drops it again
            log.warning("could not drop a staging table: %s", exc)
