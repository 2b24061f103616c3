"""The rendezvous ring on plain data: balance, minimal movement, weights, stability."""

from __future__ import annotations

from collections import Counter

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.monitoring.ring import HashRing

KEYS = [f"pipeline-{i}" for i in range(10_000)]


def test_10000_keys_over_3_shards_are_balanced_within_5_percent() -> None:
    load = Counter(HashRing(["influxdb1", "influxdb2", "influxdb3"]).assign(KEYS).values())
    assert set(load) == {"influxdb1", "influxdb2", "influxdb3"}
    assert max(load.values()) / (len(KEYS) / 3) <= 1.05, load


def test_adding_a_4th_shard_moves_at_most_27_5_percent_and_only_to_it() -> None:
    ring = HashRing(["influxdb1", "influxdb2", "influxdb3"])
    before = ring.assign(KEYS)
    after = ring.with_shard("influxdb4").assign(KEYS)
    moved = [k for k in KEYS if before[k] != after[k]]
    assert len(moved) / len(KEYS) <= 0.275
    assert len(moved) / len(KEYS) >= 0.225  # the new shard does take its share
    assert {after[k] for k in moved} == {"influxdb4"}


def test_removing_a_shard_moves_only_its_keys() -> None:
    ring = HashRing(["a", "b", "c", "d"])
    before = ring.assign(KEYS)
    after = ring.without_shard("c").assign(KEYS)
    assert all(before[k] == after[k] for k in KEYS if before[k] != "c")
    assert "c" not in after.values()


def test_weights_scale_the_share() -> None:
    load = Counter(HashRing({"small": 1, "big": 3}).assign(KEYS).values())
    assert 0.72 <= load["big"] / len(KEYS) <= 0.78, load


def test_owner_is_stable_across_instances_and_insertion_order() -> None:
    a = HashRing(["x", "y", "z"]).assign(KEYS[:500])
    b = HashRing(["z", "x", "y"]).assign(KEYS[:500])
    assert a == b
    # Pinned: a change of hash function would silently move every series to another shard.
    assert HashRing(["influxdb1", "influxdb2"]).assign(PINNED) == PINNED


PINNED = {"ods.orders": "influxdb2", "ods.users": "influxdb1"}


@pytest.mark.parametrize(
    "shards",
    [[], {"a": 0}, {"a": -1}, {"a": float("nan")}, {"a": True}, {"": 1}, {"a": "2"}],
)
def test_bad_membership_is_refused(shards: object) -> None:
    with pytest.raises(InvalidInputError):
        HashRing(shards)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["", None, 3])
def test_bad_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidInputError, match="series keys"):
        HashRing(["a"]).owner(key)  # type: ignore[arg-type]
