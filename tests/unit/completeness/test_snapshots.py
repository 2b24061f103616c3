"""Pure functions over the snapshot log."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.completeness import (
    FINAL_CHECKPOINT_ID,
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    MAX_CONTINUOUS_EMPTY_COMMITS,
    MalformedObservationError,
    Operation,
    SnapshotObservation,
    TableSnapshots,
)
from airflow_provider_rtp.completeness.snapshots import (
    covering_commit,
    flink_commit,
    flink_commits,
    main_ancestry,
    resolve_snapshot,
)
from tests.unit.completeness.builders import JOB_ID, OLD_JOB_ID, chain, snap, table


def test_summary_keys_are_the_flink_sinks() -> None:
    assert FLINK_JOB_ID == "flink.job-id"
    assert FLINK_MAX_COMMITTED_CHECKPOINT_ID == "flink.max-committed-checkpoint-id"
    assert MAX_CONTINUOUS_EMPTY_COMMITS == "flink.max-continuous-empty-commits"
    assert FINAL_CHECKPOINT_ID == 2**63 - 1 == 9223372036854775807


def test_main_ancestry_is_oldest_first_and_stops_at_an_expired_parent() -> None:
    snaps = chain(1, 2, 3, 4)[1:]
    assert [s.snapshot_id for s in main_ancestry(table(*snaps))] == [2, 3, 4]
    assert table(*snaps).history_truncated
    assert not table(*chain(1, 2)).history_truncated


def test_main_ancestry_of_a_table_without_snapshots_is_empty() -> None:
    assert main_ancestry(TableSnapshots("t.t", None, ())) == ()


def test_parent_cycle_is_malformed() -> None:
    loop = TableSnapshots("t.t", 2, (snap(1, 2, 5), snap(2, 1, 6)))
    with pytest.raises(MalformedObservationError, match="cycle"):
        main_ancestry(loop)


def test_flink_commit_parses_the_summary() -> None:
    commit = flink_commit(snap(1, None, 42))
    assert commit is not None
    assert (commit.job_id, commit.checkpoint_id) == (JOB_ID, 42)
    assert not commit.is_final
    assert flink_commit(snap(1, None, FINAL_CHECKPOINT_ID)).is_final  # type: ignore[union-attr]


def test_maintenance_and_foreign_snapshots_are_not_flink_commits() -> None:
    assert flink_commit(snap(1, None, 42, op="replace")) is None
    assert flink_commit(snap(1, None, None)) is None
    assert flink_commit(snap(1, None, 42, operator="a"), operator_id="b") is None


def test_covering_commit_compares_within_one_job_only() -> None:
    commits = flink_commits(chain((500, OLD_JOB_ID), 10, 12))
    found = covering_commit(commits, JOB_ID, 11)
    assert found is not None and found.checkpoint_id == 12
    assert covering_commit(commits, JOB_ID, 13) is None
    assert covering_commit(commits, "nobody", 1) is None


def test_covering_commit_takes_the_last_snapshot_of_a_split_checkpoint() -> None:
    commits = flink_commits(chain(10, 11, 11, 11, 12))
    found = covering_commit(commits, JOB_ID, 11)
    assert found is not None and found.snapshot.snapshot_id == 4


def test_resolve_keeps_an_existing_snapshot() -> None:
    res = resolve_snapshot(table(*chain(1, 2, 3)), 2)
    assert (res.snapshot_id, res.expired) == (2, False)


def test_expired_covering_snapshot_uses_current_descendant() -> None:
    res = resolve_snapshot(table(*chain(1, 2, 3, None)[2:]), 2)
    assert (res.snapshot_id, res.expired, res.proven_descendant) == (4, True, True)


def test_expired_snapshot_with_deeper_expiry_is_assumed_an_ancestor() -> None:
    res = resolve_snapshot(table(*chain(1, 2, 3, 4)[3:]), 2)
    assert (res.snapshot_id, res.expired, res.proven_descendant) == (4, True, False)


def test_vanished_snapshot_not_in_a_complete_history_is_refused() -> None:
    with pytest.raises(MalformedObservationError, match="decided snapshot 99"):
        resolve_snapshot(table(*chain(1, 2)), 99)


def test_vanished_snapshot_of_an_emptied_table_is_refused() -> None:
    with pytest.raises(MalformedObservationError, match="no current"):
        resolve_snapshot(TableSnapshots("t.t", None, ()), 5)


def test_max_continuous_empty_commits_property() -> None:
    assert table(properties={MAX_CONTINUOUS_EMPTY_COMMITS: "1"}).max_continuous_empty_commits == 1
    assert table().max_continuous_empty_commits is None
    assert table(properties={MAX_CONTINUOUS_EMPTY_COMMITS: "x"}).max_continuous_empty_commits is None


def test_operation_is_parsed_case_insensitively() -> None:
    assert SnapshotObservation(1, None, 0, "APPEND").operation is Operation.APPEND  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"operation": "truncate"}, "unknown operation 'truncate'"),
        ({"parent_id": 1}, "names itself"),
        ({"timestamp_ms": "yesterday"}, "timestamp-ms"),
    ],
)
def test_malformed_snapshots_name_the_value(kwargs: dict, match: str) -> None:
    base = {"snapshot_id": 1, "parent_id": None, "timestamp_ms": 0, "operation": "append"}
    with pytest.raises(MalformedObservationError, match=match):
        SnapshotObservation(**{**base, **kwargs})


def test_duplicate_snapshot_and_missing_head_are_malformed() -> None:
    with pytest.raises(MalformedObservationError, match="listed twice"):
        TableSnapshots("t.t", 1, (snap(1, None, 1), snap(1, None, 2)))
    with pytest.raises(MalformedObservationError, match="current snapshot 7"):
        TableSnapshots("t.t", 7, (snap(1, None, 1),))


def test_snapshot_summary_is_frozen() -> None:
    s = snap(1, None, 5)
    with pytest.raises(TypeError):
        s.summary["flink.job-id"] = "x"  # type: ignore[index]


def test_a_cleared_parent_with_the_first_snapshot_gone_is_a_truncated_history() -> None:
    # pyiceberg's expiry clears the parent of the oldest snapshot it keeps.
    kept = chain(1, 2, 3, 4)[2:]
    root = SnapshotObservation(
        kept[0].snapshot_id, None, kept[0].timestamp_ms, kept[0].operation, kept[0].summary
    )
    log = (root, *kept[1:])
    gone = TableSnapshots("t.t", 4, log, first_snapshot_retained=False)
    assert gone.history_truncated
    res = resolve_snapshot(gone, 2)
    assert (res.snapshot_id, res.expired, res.proven_descendant) == (4, True, False)
    # The same log with the first snapshot known to be there is a complete history (re-created).
    assert not TableSnapshots("t.t", 4, log, first_snapshot_retained=True).history_truncated
    with pytest.raises(MalformedObservationError, match="rolled back or re-created"):
        resolve_snapshot(TableSnapshots("t.t", 4, log, first_snapshot_retained=True), 2)
