"""The expiry plan on plain snapshot logs: what it keeps, why, and what a naive policy loses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.completeness.snapshots import Operation, SnapshotObservation, TableSnapshots
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.expiry import (
    DecisionRef,
    ExpiryPolicy,
    KeepReason,
    Ref,
    RefType,
    naive_expiry,
    plan_expiry,
    restore_checkpoint,
    without,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
JOB, OLD_JOB, OP = "a" * 32, "b" * 32, "op-1"


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class Log:
    """A main chain built commit by commit, oldest first."""

    def __init__(self) -> None:
        self.snaps: list[SnapshotObservation] = []

    def commit(self, hours_ago: float, job: str | None = JOB, checkpoint: int = 1, op: str = OP) -> int:
        sid = 100 + len(self.snaps)
        parent = self.snaps[-1].snapshot_id if self.snaps else None
        summary = {}
        operation = Operation.REPLACE
        if job is not None:
            operation = Operation.APPEND
            summary = {
                "flink.job-id": job,
                "flink.max-committed-checkpoint-id": str(checkpoint),
                "flink.operator-id": op,
            }
        when = NOW - timedelta(hours=hours_ago)
        self.snaps.append(SnapshotObservation(sid, parent, _ms(when), operation, summary))
        return sid

    def table(self) -> TableSnapshots:
        return TableSnapshots("ods.t", self.snaps[-1].snapshot_id, self.snaps)


POLICY = ExpiryPolicy(older_than=timedelta(hours=1), retain_last=1)


def test_naive_policy_loses_the_restore_point_after_a_compaction_commit() -> None:
    log = Log()
    for i in range(5):  # the job commits, then is stopped with a savepoint for an upgrade
        log.commit(hours_ago=5 - i * 0.5, checkpoint=10 + i)
    restore_point = log.snaps[-1].snapshot_id
    log.commit(hours_ago=2, job=None)  # compaction on top: no flink keys
    table = log.table()
    assert restore_checkpoint(table.snapshots, table.current_snapshot_id, JOB, OP) == 14

    naive = naive_expiry(table, [], POLICY, NOW)
    assert restore_point in naive
    after_naive = without(table, naive)
    assert restore_checkpoint(after_naive.snapshots, after_naive.current_snapshot_id, JOB, OP) is None

    plan = plan_expiry(table, [], POLICY, NOW)
    assert restore_point not in plan.to_expire
    assert plan.kept[restore_point] == (KeepReason.RESTORE_POINT,)
    after = without(table, plan.to_expire)
    assert restore_checkpoint(after.snapshots, after.current_snapshot_id, JOB, OP) == 14
    assert plan.to_expire == tuple(s.snapshot_id for s in log.snaps[:4])


def test_running_job_keeps_only_its_newest_snapshot_and_the_chain_above() -> None:
    log = Log()
    ids = [log.commit(hours_ago=3 - i * 0.25, checkpoint=i + 1) for i in range(8)]  # 3h .. 1.25h ago
    plan = plan_expiry(log.table(), [], POLICY, NOW)
    assert plan.to_expire == tuple(ids[:-1])
    assert set(plan.kept[ids[-1]]) == {KeepReason.CURRENT, KeepReason.RETAIN_LAST, KeepReason.RESTORE_POINT}


def test_old_job_keeps_its_restore_point_but_not_its_chain() -> None:
    log = Log()
    old_point = log.commit(hours_ago=50, job=OLD_JOB, checkpoint=7)
    between = [log.commit(hours_ago=49 - i, checkpoint=i + 1) for i in range(3)]
    plan = plan_expiry(log.table(), [], POLICY, NOW)
    assert plan.kept[old_point] == (KeepReason.RESTORE_POINT,)
    assert between[:2] == list(plan.to_expire)  # the chain from the head to the old job is cut


def test_recent_old_job_keeps_its_whole_chain_within_restore_horizon() -> None:
    log = Log()
    old_point = log.commit(hours_ago=6, job=OLD_JOB, checkpoint=7)
    chain = [log.commit(hours_ago=5 - i, checkpoint=i + 1) for i in range(3)]
    plan = plan_expiry(log.table(), [], POLICY, NOW)
    assert plan.to_expire == ()
    assert plan.kept[old_point] == (KeepReason.RESTORE_POINT,)
    assert plan.kept[chain[0]] == (KeepReason.RESTORE_CHAIN,)
    after = without(log.table(), plan.to_expire)
    assert restore_checkpoint(after.snapshots, after.current_snapshot_id, OLD_JOB, OP) == 7


def test_operators_are_restore_points_of_their_own() -> None:
    log = Log()
    first = log.commit(hours_ago=4, op="op-a", checkpoint=3)
    log.commit(hours_ago=3, op="op-b", checkpoint=3)
    log.commit(hours_ago=2, op="op-b", checkpoint=4)
    plan = plan_expiry(log.table(), [], POLICY, NOW)
    assert plan.kept[first] == (KeepReason.RESTORE_POINT,)
    assert len(plan.to_expire) == 0  # op-a's chain is within the restore horizon


def test_branches_tags_and_decisions_are_kept_with_their_reason() -> None:
    log = Log()
    tagged = log.commit(hours_ago=10, job=None)
    branch = log.commit(hours_ago=9, job=None)
    decided = log.commit(hours_ago=8, job=None)
    stale_decision = log.commit(hours_ago=7, job=None)
    plain = log.commit(hours_ago=6, job=None)
    log.commit(hours_ago=0.1)
    refs = [
        Ref("complete-2026-12-01T02", tagged, RefType.TAG),
        Ref("audit", branch, RefType.BRANCH),
        Ref("main", log.snaps[-1].snapshot_id, RefType.BRANCH),
    ]
    decisions = [
        DecisionRef(decided, NOW - timedelta(days=1)),
        DecisionRef(stale_decision, NOW - timedelta(days=30)),
    ]
    policy = ExpiryPolicy(older_than=timedelta(hours=1), decision_horizon=timedelta(days=7))
    plan = plan_expiry(log.table(), refs, policy, NOW, decisions)
    assert plan.kept == {
        tagged: (KeepReason.TAG,),
        branch: (KeepReason.BRANCH,),
        decided: (KeepReason.DECISION,),
    }
    assert plan.to_expire == (stale_decision, plain)
    assert plan.to_dict()["kept"][str(tagged)] == ["tag"]


def test_a_tag_past_its_max_ref_age_is_removed_and_protects_nothing() -> None:
    log = Log()
    old = log.commit(hours_ago=30, job=None)
    young = log.commit(hours_ago=3, job=None)
    log.commit(hours_ago=0.1)
    day = 24 * 3600 * 1000
    refs = [Ref("complete-old", old, RefType.TAG, day), Ref("complete-young", young, RefType.TAG, day)]
    plan = plan_expiry(log.table(), refs, POLICY, NOW)
    assert plan.refs_to_remove == ("complete-old",)
    assert plan.to_expire == (old,)
    assert plan.kept == {young: (KeepReason.TAG,)}


def test_main_is_never_removed_by_age() -> None:
    log = Log()
    head = log.commit(hours_ago=30, job=None)
    plan = plan_expiry(log.table(), [Ref("main", head, RefType.BRANCH, 1000)], POLICY, NOW)
    assert plan.refs_to_remove == ()
    assert plan.to_expire == ()


def test_retain_last_keeps_main_newest() -> None:
    log = Log()
    ids = [log.commit(hours_ago=10 - i, job=None) for i in range(5)]
    plan = plan_expiry(log.table(), [], ExpiryPolicy(older_than=timedelta(0), retain_last=3), NOW)
    assert plan.to_expire == tuple(ids[:2])
    assert plan.kept[ids[2]] == (KeepReason.RETAIN_LAST,)


def test_snapshots_younger_than_the_cutoff_are_never_listed() -> None:
    log = Log()
    ids = [log.commit(hours_ago=0.5 - i * 0.1, job=None) for i in range(3)]
    plan = plan_expiry(log.table(), [], POLICY, NOW)
    assert plan.to_expire == ()
    assert plan.kept == {}
    assert ids


@pytest.mark.parametrize(
    "kwargs",
    [
        {"older_than": timedelta(hours=-1)},
        {"older_than": timedelta(hours=1), "retain_last": 0},
        {"older_than": timedelta(hours=1), "restore_horizon": timedelta(seconds=-1)},
        {"older_than": 3600},
    ],
)
def test_bad_policy_is_invalid_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        ExpiryPolicy(**kwargs)  # type: ignore[arg-type]


def test_naive_now_is_invalid_input() -> None:
    log = Log()
    log.commit(hours_ago=1)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        plan_expiry(log.table(), [], POLICY, datetime(2026, 12, 1))
