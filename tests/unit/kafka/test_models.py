"""GroupLag on plain data: a missing group, the slowest partition, the JSON summary."""

from __future__ import annotations

import json

from airflow_provider_rtp.kafka import GroupLag, PartitionLag, PartitionStatus

NOW = 1_800_000_000_000


def _p(
    partition: int, committed: int | None, status: PartitionStatus, through: int | None, **kw
) -> PartitionLag:
    return PartitionLag(
        "t",
        partition,
        0,
        10,
        committed,
        status,
        None if committed is None else 10 - committed,
        consumed_through_ms=through,
        **kw,
    )


def test_a_group_with_no_members_and_no_commits_is_missing() -> None:
    parts = (_p(0, None, PartitionStatus.NO_COMMIT, None), _p(1, None, PartitionStatus.NO_COMMIT, None))
    assert GroupLag("g", ("t",), "DEAD", NOW, parts).group_missing
    # Members but no commit yet: the group exists, each partition says NO_COMMIT.
    assert not GroupLag("g", ("t",), "STABLE", NOW, parts).group_missing
    assert GroupLag("g", ("t",), "DEAD", NOW, parts).summary()["time_lag_ms"] is None


def test_summary_names_the_slowest_partition_and_flags() -> None:
    parts = (
        _p(0, 10, PartitionStatus.CAUGHT_UP, NOW),
        _p(1, 4, PartitionStatus.LAGGING, NOW - 5_000, retention_gap=True),
        _p(2, 8, PartitionStatus.LAGGING, NOW - 1_000, went_backwards=True),
    )
    summary = GroupLag("g", ("t",), "EMPTY", NOW, parts).summary()
    assert summary["slowest"]["partition"] == 1 and summary["time_lag_ms"] == 5_000
    assert summary["total_offset_lag"] == 0 + 6 + 2 and not summary["group_missing"]
    assert summary["partitions_by_status"] == {"caught_up": 1, "lagging": 2}
    assert summary["retention_gaps"] == [["t", 1]] and summary["went_backwards"] == [["t", 2]]
    assert json.loads(json.dumps(summary)) == summary


def test_an_unknown_partition_is_slowest_and_hides_the_group_time() -> None:
    parts = (_p(0, 10, PartitionStatus.CAUGHT_UP, NOW), _p(1, 3, PartitionStatus.UNKNOWN, None))
    lag = GroupLag("g", ("t",), "EMPTY", NOW, parts)
    assert lag.slowest.partition == 1 and lag.consumed_through_ms is None
