"""A log held column by column decides as the same log of snapshot objects, and as the plain
reading of the contract over main's history (the reference below, one object per commit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_rtp.completeness import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    MAX_CONTINUOUS_EMPTY_COMMITS,
    IcebergCommitStage,
    JobObservation,
    MalformedObservationError,
    Operation,
    SnapshotObservation,
    TableSnapshots,
    _advice,
)
from airflow_provider_rtp.completeness._advice import short_job_id
from airflow_provider_rtp.completeness._time import ceil_epoch_ms
from airflow_provider_rtp.completeness.observations import CommitOutcome, RestoreInfo
from airflow_provider_rtp.completeness.results import Advice, CommitPoint, Reason, StageResult, StageStatus
from airflow_provider_rtp.completeness.snapshots import (
    DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS,
    SnapshotColumns,
    covering_commit,
    flink_commits,
    main_ancestry,
    main_commits,
    resolve_snapshot,
)
from tests.unit.completeness.builders import JOB_ID, OLD_JOB_ID, POLICY, at, job

T0 = int(at(10).timestamp() * 1000)
JOBS = (JOB_ID, OLD_JOB_ID, "")


def as_columns(table: TableSnapshots) -> TableSnapshots:
    return TableSnapshots.from_columns(
        table.table, table.current_snapshot_id, SnapshotColumns.of(table.snapshots), table.properties
    )


@st.composite
def logs(draw: st.DrawFn) -> TableSnapshots:
    """Up to 40 snapshots: chains with branches, expired parents, compactions, two jobs, bad ids."""
    n = draw(st.integers(0, 40))
    ids = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n, unique=True))
    snaps = []
    counter = 1
    for i, sid in enumerate(ids):
        parent = draw(st.sampled_from([None, 10**7, *ids[max(0, i - 3) : i], *ids[i - 1 : i] * 20]))
        summary: dict[str, str] = {}
        job_id = draw(st.sampled_from([*JOBS, JOB_ID, JOB_ID]))
        if draw(st.integers(0, 4)):
            summary[FLINK_JOB_ID] = job_id
        # Mostly rising, with repeats (a checkpoint split over snapshots) and restarts (a job id reused).
        counter = max(1, counter + draw(st.sampled_from([0, 0, 1, 1, 1, 1, 1, 2, 2, -6])))
        checkpoint = draw(st.sampled_from([str(counter)] * 8 + ["x", f" {counter}"]))
        if draw(st.integers(0, 9)):
            summary[FLINK_MAX_COMMITTED_CHECKPOINT_ID] = checkpoint
        if draw(st.booleans()):
            summary[FLINK_OPERATOR_ID] = draw(st.sampled_from(["op-a", "op-b"]))
        op = draw(st.sampled_from([Operation.APPEND] * 4 + [Operation.REPLACE, Operation.OVERWRITE]))
        ts = T0 + draw(st.integers(-5, 40)) * 60_000
        snaps.append(SnapshotObservation(sid, parent, ts, op, summary))
    head = draw(st.sampled_from([None, *ids, *ids[-1:] * n])) if ids else None
    props = draw(st.sampled_from([{}, {"flink.max-continuous-empty-commits": "1"}]))
    return TableSnapshots("ods.orders", head, tuple(snaps), props)


def reference(stage: IcebergCommitStage, job: JobObservation, *, upstream_held: bool) -> CommitOutcome:
    """The contract read plainly over snapshot objects (the stage before its index): the oracle."""
    commits = flink_commits(main_ancestry(stage.table), stage.operator_id)
    own = [c for c in commits if c.job_id == job.job_id]
    advice: list[Advice] = []
    if job.start_time is not None:
        not_before = ceil_epoch_ms(job.start_time + POLICY.clock_skew_margin)
        earlier = [c for c in own if c.snapshot.timestamp_ms < not_before]
        if earlier:
            own = [c for c in own if c.snapshot.timestamp_ms >= not_before]
            top = max(c.checkpoint_id for c in earlier)
            advice.append(_advice.job_id_reused(stage.stage, job, len(earlier), top))
    c_star = job.latest_checkpoint_id
    base = StageResult(
        stage=stage.stage,
        name=stage.name,
        status=StageStatus.WAITING,
        reason=Reason.NO_CHECKPOINT,
        needed_checkpoint_id=c_star,
        subject=job.job_id,
    )
    if c_star is None:
        return CommitOutcome(base, None, tuple(advice))
    cover = covering_commit(own, job.job_id, c_star)
    if cover is not None:
        result = replace(base, status=StageStatus.OK, reason=Reason.OK, checkpoint_id=cover.checkpoint_id)
        point = CommitPoint(job.job_id, cover.checkpoint_id, cover.snapshot.snapshot_id)
        return CommitOutcome(result, point, tuple(advice))
    others = [c for c in commits if c.job_id != job.job_id]
    lag = None
    if own:
        result = replace(base, reason=Reason.COMMIT_BEHIND, checkpoint_id=own[-1].checkpoint_id)
        lag = c_star - own[-1].checkpoint_id
    elif others:
        last = others[-1]
        note = f"table last committed by job {short_job_id(last.job_id)} checkpoint {last.checkpoint_id}"
        result = replace(base, reason=Reason.NEW_JOB_NO_COMMIT, note=note)
    else:
        result = replace(base, reason=Reason.NO_COMMIT)
        if stage.table.history_truncated:
            oldest = main_ancestry(stage.table)[0].snapshot_id
            advice.append(_advice.history_expired(stage.stage, job.job_id, oldest))
    setting = stage.table.max_continuous_empty_commits
    if upstream_held and setting != 1 and (lag is None or lag >= 2):
        key, default = MAX_CONTINUOUS_EMPTY_COMMITS, DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS
        advice.append(_advice.empty_commits(stage.stage, stage.name, c_star, setting, key, default))
    own_ids = {c.snapshot.snapshot_id for c in own}
    highest = max((c.checkpoint_id for c in commits if c.snapshot.snapshot_id not in own_ids), default=None)
    if job.restored is not None and highest is not None and highest > c_star:
        advice.append(_advice.restore_skips_commits(stage.stage, job, stage.name, c_star, highest))
    return CommitOutcome(result, None, tuple(advice))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    logs(),
    st.sampled_from(JOBS[:2]),
    st.data(),
    st.one_of(st.none(), st.integers(-5, 40)),
    st.sampled_from([None, "op-a"]),
    st.booleans(),
    st.booleans(),
)
def test_columns_decide_as_objects_and_as_the_plain_reading(
    table: TableSnapshots,
    job_id: str,
    data: st.DataObject,
    started_minute: int | None,
    operator: str | None,
    restored: bool,
    upstream_held: bool,
) -> None:
    start = None if started_minute is None else at(10) + timedelta(minutes=started_minute)
    written = {int(c) for c in table.columns.checkpoints if c is not None and c.isdigit()}
    checkpoint = data.draw(st.sampled_from([None, 1, *written, *(c + 1 for c in written)]))  # c* near commits
    j = job(checkpoint=checkpoint, job_id=job_id, start_time=start)
    if restored:
        j = replace(j, restored=RestoreInfo(1, "file:/cp", False))
    objects = IcebergCommitStage(table, operator)
    try:
        expected = reference(objects, j, upstream_held=upstream_held)
    except MalformedObservationError as exc:  # a parent cycle: both forms refuse it alike
        with pytest.raises(MalformedObservationError, match="cycle") as caught:
            main_commits(as_columns(table), operator)
        assert str(caught.value) == str(exc)
        return
    columns = IcebergCommitStage(as_columns(table), operator)
    assert objects.evaluate(j, upstream_held=upstream_held, policy=POLICY) == expected
    assert columns.evaluate(j, upstream_held=upstream_held, policy=POLICY) == expected
    assert columns.evaluate(j, upstream_held=upstream_held, policy=POLICY) == expected  # from the index kept
    assert main_ancestry(columns.table) == main_ancestry(table)
    assert columns.table == table and columns.table.history_truncated == table.history_truncated


def test_a_split_checkpoint_is_covered_by_its_last_snapshot_in_both_searches() -> None:
    ids = tuple(range(1, 7))
    cps = ("10", "11", "11", "11", "12", "9")
    columns = SnapshotColumns(
        ids, (None, *ids[:-1]), tuple(T0 + i for i in ids), ("append",) * 6, (JOB_ID,) * 6, cps, (None,) * 6
    )
    table = TableSnapshots.from_columns("ods.orders", 6, columns)
    commits = main_commits(table)
    unordered = commits.of_job(JOB_ID)
    assert not unordered.ascending  # 12 then 9: searched one by one
    assert commits.snapshot_ids[unordered.covering(11)] == 4  # type: ignore[index]
    ordered = main_commits(TableSnapshots.from_columns("ods.orders", 5, columns)).of_job(JOB_ID)
    assert ordered.ascending
    assert ordered.covering(11) == 3 and ordered.covering(13) is None


def test_column_logs_are_checked_like_snapshot_objects() -> None:
    def cols(**kw: object) -> SnapshotColumns:
        base: dict[str, object] = {
            "snapshot_ids": (1, 2),
            "parent_ids": (None, 1),
            "timestamps_ms": (0, 1),
            "operations": ("append", "APPEND"),
            "job_ids": (None, JOB_ID),
            "checkpoints": (None, "3"),
            "operator_ids": (None, None),
        }
        return SnapshotColumns(**{**base, **kw})  # type: ignore[arg-type]

    assert cols().operations == ("append", "append")
    for kw, match in [
        ({"operations": ("append", "truncate")}, "snapshot 2: unknown operation 'truncate'"),
        ({"parent_ids": (None, 2)}, "snapshot 2 names itself"),
        ({"timestamps_ms": (0, "x")}, "snapshot 2: timestamp-ms must be an int"),
        ({"snapshot_ids": (1, True)}, "snapshot id must be an int"),
        (
            {"checkpoints": (None, 3)},
            "snapshot 2: summary flink.max-committed-checkpoint-id must be a string",
        ),
        ({"job_ids": (None,)}, "differ in length"),
    ]:
        with pytest.raises(MalformedObservationError, match=match):
            cols(**kw)
    with pytest.raises(MalformedObservationError, match="snapshot 1 listed twice"):
        TableSnapshots.from_columns("t.t", 1, cols(snapshot_ids=(1, 1), parent_ids=(None, None)))
    with pytest.raises(MalformedObservationError, match="current snapshot 7"):
        TableSnapshots.from_columns("t.t", 7, cols())


def test_snapshot_objects_are_built_only_when_read() -> None:
    n = 1000
    ids = tuple(range(1, n + 1))
    columns = SnapshotColumns(
        ids,
        (None, *ids[:-1]),
        tuple(T0 + i for i in ids),
        ("append",) * n,
        (JOB_ID,) * n,
        tuple(str(i) for i in ids),
        (None,) * n,
    )
    table = TableSnapshots.from_columns("ods.orders", n, columns)
    outcome = IcebergCommitStage(table).evaluate(job(checkpoint=500), upstream_held=True, policy=POLICY)
    assert outcome.commit is not None and outcome.commit.snapshot_id == 500
    assert table.snapshots._built == {}  # type: ignore[attr-defined]
    assert resolve_snapshot(table, 500).snapshot_id == 500 and table.snapshots._built == {}  # type: ignore[attr-defined]
    assert table.snapshots[499].summary == {FLINK_JOB_ID: JOB_ID, FLINK_MAX_COMMITTED_CHECKPOINT_ID: "500"}
    assert table.snapshots[-1] is table.snapshots[n - 1]
