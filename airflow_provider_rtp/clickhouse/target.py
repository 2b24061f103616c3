"""The ClickHouse table a load writes: what it is, where its rows live, and its window in SQL.

A Distributed table is resolved to its cluster's local tables (every replica of every shard)
and its sharding key, reproduced here when it can be (:mod:`.sharding`); a plain MergeTree
table is one shard on the connection's server. Everything a load can check before a row
moves is checked here: the engines (non-replicated MergeTree, partitioned: a window is
swapped by partition), the local tables' columns equal to the Distributed table's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from airflow_provider_rtp.clickhouse.mapping import CH_DATETIME64, unwrap_type
from airflow_provider_rtp.clickhouse.sharding import (
    ShardingKey,
    UnreproducibleShardingKeyError,
    parse_distributed_engine,
)
from airflow_provider_rtp.clickhouse.sql import quote_identifier, quote_string
from airflow_provider_rtp.clickhouse.topology import Cluster, Replica
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["ClickHouseIO", "Target", "WritePath", "micros", "resolve_target", "window_condition"]


class WritePath(enum.StrEnum):
    LOCAL_SHARDS = "local_shards"  # straight into each shard's local table, placed here
    DISTRIBUTED = "distributed"  # through a Distributed table, placed by ClickHouse


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

    @property
    def placed_here(self) -> bool:
        """Each row's shard is known outside ClickHouse: the key is reproduced, or there is one
        shard. Else ClickHouse places the rows and only totals can be checked against the source."""
        return self.key is not None or len(self.shards) == 1

    def shard_of(self, index: int) -> str:
        if self.cluster is None:
            return f"{self.name} (single server)"
        replicas = ", ".join(f"{r.host}:{r.port}" for r in self.shards[index] if r is not None)
        return f"shard {index + 1} of {self.cluster.name} ({replicas})"


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


def micros(t: datetime) -> int:
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
        return f"({c} >= {micros(start)} AND {c} < {micros(end)})"
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
