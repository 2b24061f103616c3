"""A ClickHouse cluster as ``system.clusters`` lists it, and the slots its shards own.

A Distributed table deals rows to slots: each shard owns ``weight`` consecutive slots, in
shard order, and a shard of weight 0 owns none, so it gets no row from a sharding key
(``Cluster::Cluster`` / ``Cluster::addShard`` append ``weight`` copies of the shard's index,
``if (weight)``, alike in 18.16 and today). A row goes to ``slot_to_shard[key % total_weight]``,
see :mod:`.sharding`. The shard index is the shard's position, ``shard_num - 1``: ClickHouse
numbers the shards 1, 2, ... in the order it builds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["CLUSTERS_COLUMNS", "CLUSTERS_QUERY", "Cluster", "Replica", "Shard"]

CLUSTERS_COLUMNS = (
    "cluster",
    "shard_num",
    "shard_weight",
    "replica_num",
    "host_name",
    "host_address",
    "port",
    "is_local",
)
# Every column exists in ClickHouse 18.16 already.
CLUSTERS_QUERY = f"SELECT {', '.join(CLUSTERS_COLUMNS)} FROM system.clusters"

_UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Replica:
    """One replica of a shard.

    ``is_local``: the server that answered is this replica. 18.16 reports it per shard (every
    replica of a shard with a local one says 1); newer servers per replica.
    """

    host: str
    port: int
    num: int = 1
    address: str = ""  # host_address: the host as the answering server resolved it
    is_local: bool = False


@dataclass(frozen=True)
class Shard:
    num: int  # shard_num, from 1
    weight: int
    replicas: tuple[Replica, ...]

    @property
    def index(self) -> int:
        """The shard's place in the cluster, the number sharding yields for it."""
        return self.num - 1

    @property
    def is_local(self) -> bool:
        return any(r.is_local for r in self.replicas)


@dataclass(frozen=True)
class Cluster:
    name: str
    shards: tuple[Shard, ...]

    def __post_init__(self) -> None:
        if not self.shards:
            raise InvalidInputError(f"cluster {self.name!r} has no shard")
        nums = [s.num for s in self.shards]
        if nums != list(range(1, len(nums) + 1)):
            # A gap would leave a shard's index unknown: ClickHouse numbers shards without gaps.
            raise InvalidInputError(f"cluster {self.name!r}: shard numbers {nums} are not 1..{len(nums)}")
        for shard in self.shards:
            if not 0 <= shard.weight <= _UINT32_MAX:
                raise InvalidInputError(f"cluster {self.name!r}: shard {shard.num} has weight {shard.weight}")
            if not shard.replicas:
                raise InvalidInputError(f"cluster {self.name!r}: shard {shard.num} has no replica")
        if self.total_weight == 0:
            # ClickHouse refuses such a cluster now; 18.16 would divide by zero on insert.
            raise InvalidInputError(f"cluster {self.name!r}: every shard has weight 0, no row can be placed")

    @property
    def total_weight(self) -> int:
        return sum(s.weight for s in self.shards)

    @cached_property
    def slot_to_shard(self) -> tuple[int, ...]:
        """Shard index of each slot: each shard's index ``weight`` times, in shard order."""
        return tuple(s.index for s in self.shards for _ in range(s.weight))

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any] | Mapping[str, Any]], name: str) -> Cluster:
        """The cluster ``name`` from rows of :data:`CLUSTERS_QUERY` (tuples in its order, or dicts)."""
        found: dict[str, dict[int, tuple[int, dict[int, Replica]]]] = {}
        for raw in rows:
            row = _row(raw)
            cluster = str(row["cluster"])
            shard_num, weight = _int(row, "shard_num"), _int(row, "shard_weight")
            replica = Replica(
                host=str(row["host_name"]),
                port=_int(row, "port"),
                num=_int(row, "replica_num"),
                address=str(row["host_address"] or ""),
                is_local=_flag(row, "is_local"),
            )
            shards = found.setdefault(cluster, {})
            known_weight, replicas = shards.setdefault(shard_num, (weight, {}))
            if known_weight != weight:
                raise InvalidInputError(
                    f"cluster {cluster!r}: shard {shard_num} has rows of weight {known_weight} and {weight}"
                )
            if replica.num in replicas:
                raise InvalidInputError(
                    f"cluster {cluster!r}: shard {shard_num} lists replica {replica.num} twice"
                )
            replicas[replica.num] = replica
        if name not in found:
            known = ", ".join(repr(c) for c in sorted(found)) or "none"
            raise InvalidInputError(f"no cluster {name!r} in system.clusters; the clusters there: {known}")
        return cls(
            name,
            tuple(
                Shard(num, weight, tuple(replicas[r] for r in sorted(replicas)))
                for num, (weight, replicas) in sorted(found[name].items())
            ),
        )


def _row(raw: Sequence[Any] | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        missing = [c for c in CLUSTERS_COLUMNS if c not in raw]
        if missing:
            raise InvalidInputError(f"system.clusters row {dict(raw)!r} lacks {', '.join(missing)}")
        return raw
    if isinstance(raw, str | bytes) or len(raw) < len(CLUSTERS_COLUMNS):
        raise InvalidInputError(f"system.clusters row {raw!r} is not ({', '.join(CLUSTERS_COLUMNS)})")
    return dict(zip(CLUSTERS_COLUMNS, raw, strict=False))


def _flag(row: Mapping[str, Any], column: str) -> bool:
    value = row[column]
    return value if isinstance(value, bool) else bool(_int(row, column))


def _int(row: Mapping[str, Any], column: str) -> int:
    value = row[column]
    try:
        if isinstance(value, bool | float):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"system.clusters: {column}={value!r} is not an integer") from None
