"""Cluster from system.clusters rows: shard order, weights (0 and unequal), the slots, bad rows."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.clickhouse.topology import CLUSTERS_COLUMNS, Cluster, Replica, Shard
from airflow_provider_rtp.exceptions import InvalidInputError

# cluster, shard_num, shard_weight, replica_num, host_name, host_address, port, is_local
ROWS = [
    ("main", 3, 3, 1, "ch3", "10.0.0.3", 9000, 0),
    ("main", 1, 2, 2, "ch1b", "10.0.0.11", 9000, 1),
    ("main", 1, 2, 1, "ch1a", "10.0.0.1", 9000, 1),
    ("main", 2, 0, 1, "ch2", "10.0.0.2", 9000, 0),
    ("main", 4, 1, 1, "ch4", "10.0.0.4", 9440, 0),
    ("other", 1, 1, 1, "x", "10.1.0.1", 9000, 0),
]


def test_shards_in_order_with_their_replicas() -> None:
    cluster = Cluster.from_rows(ROWS, "main")
    assert [s.num for s in cluster.shards] == [1, 2, 3, 4]
    assert [s.index for s in cluster.shards] == [0, 1, 2, 3]
    assert [s.weight for s in cluster.shards] == [2, 0, 3, 1]
    first = cluster.shards[0]
    assert [r.host for r in first.replicas] == ["ch1a", "ch1b"]
    assert first.replicas[0] == Replica("ch1a", 9000, 1, "10.0.0.1", True)
    assert first.is_local and not cluster.shards[2].is_local
    assert cluster.shards[3].replicas[0].port == 9440


def test_each_shard_owns_weight_slots_and_weight_zero_owns_none() -> None:
    cluster = Cluster.from_rows(ROWS, "main")
    assert cluster.total_weight == 6
    assert cluster.slot_to_shard == (0, 0, 2, 2, 2, 3)  # shard 2 (index 1) has weight 0


def test_rows_as_dicts() -> None:
    rows = [dict(zip(CLUSTERS_COLUMNS, row, strict=True)) for row in ROWS]
    assert Cluster.from_rows(rows, "other") == Cluster(
        "other", (Shard(1, 1, (Replica("x", 9000, 1, "10.1.0.1", False),)),)
    )
    rows[0] = {**rows[0], "is_local": True}  # a driver may return booleans
    assert Cluster.from_rows(rows, "main").shards[2].is_local


def test_an_unknown_cluster_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"no cluster 'mian'.*'main', 'other'"):
        Cluster.from_rows(ROWS, "mian")
    with pytest.raises(InvalidInputError, match=r"no cluster 'main'.*none"):
        Cluster.from_rows([], "main")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("c", 1, 0, 1, "a", "", 9000, 0), ("c", 2, 0, 1, "b", "", 9000, 0)], "every shard has weight 0"),
        ([("c", 1, 1, 1, "a", "", 9000, 0), ("c", 3, 1, 1, "b", "", 9000, 0)], r"shard numbers \[1, 3\]"),
        ([("c", 1, 1, 1, "a", "", 9000, 0), ("c", 1, 2, 2, "b", "", 9000, 0)], "weight 1 and 2"),
        ([("c", 1, 1, 1, "a", "", 9000, 0), ("c", 1, 1, 1, "b", "", 9000, 0)], "replica 1 twice"),
        ([("c", 1, -1, 1, "a", "", 9000, 0)], "weight -1"),
        ([("c", 1, "x", 1, "a", "", 9000, 0)], "shard_weight='x'"),
        ([("c", 1, 1, 1, "a")], "is not"),
        ([{"cluster": "c", "shard_num": 1}], "lacks shard_weight"),
    ],
)
def test_rows_that_do_not_make_a_cluster(rows: list, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Cluster.from_rows(rows, "c")
