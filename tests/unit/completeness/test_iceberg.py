"""Rule 4 and its pitfalls: a snapshot of J in main's history covering checkpoint c*."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from airflow_provider_rtp.completeness import (
    FINAL_CHECKPOINT_ID,
    MAX_CONTINUOUS_EMPTY_COMMITS,
    AdviceCode,
    IcebergCommitStage,
    Reason,
    RestoreInfo,
    Stage,
    TableSnapshots,
    Verdict,
)
from tests.unit.completeness.builders import (
    JOB_ID,
    OLD_JOB_ID,
    POLICY,
    at,
    chain,
    job,
    kafka,
    part,
    run,
    snap,
    table,
)


def iceberg(decision):  # type: ignore[no-untyped-def]
    return decision.stage(Stage.ICEBERG)


def test_earliest_snapshot_with_checkpoint_at_least_c_star_is_the_answer() -> None:
    decision = run(tbl=table(*chain(8809, 8812, 8813, 8815)))
    assert decision.verdict is Verdict.COMPLETE
    assert decision.snapshot_id == 2
    assert decision.checkpoint_id == 8812
    assert decision.job_id == JOB_ID


def test_first_commit_beyond_c_star_covers_when_c_star_itself_was_not_committed() -> None:
    decision = run(tbl=table(*chain(8809, 8814, 8815)))
    assert (decision.snapshot_id, decision.checkpoint_id) == (2, 8814)


def test_commit_behind_c_star_waits_and_reports_checkpoints() -> None:
    decision = run(tbl=table(*chain(8808, 8809)))
    assert decision.verdict is Verdict.WAITING
    assert decision.blocking is Stage.ICEBERG
    stage = iceberg(decision)
    assert stage.reason is Reason.COMMIT_BEHIND
    assert (stage.checkpoint_id, stage.needed_checkpoint_id) == (8809, 8812)


def test_no_completed_checkpoint_waits() -> None:
    decision = run(job_obs=job(checkpoint=None))
    assert iceberg(decision).reason is Reason.NO_CHECKPOINT


def test_drained_stop_final_commit_covers_everything() -> None:
    decision = run(job_obs=job("FINISHED", checkpoint=8900), tbl=table(*chain(8809, FINAL_CHECKPOINT_ID)))
    assert decision.verdict is Verdict.COMPLETE
    assert decision.checkpoint_id == FINAL_CHECKPOINT_ID
    assert decision.commit is not None and decision.commit.is_final
    assert "final commit" in decision.report()


def test_final_commit_of_a_previous_job_does_not_cover_the_new_job() -> None:
    decision = run(job_obs=job(checkpoint=12), tbl=table(*chain((FINAL_CHECKPOINT_ID, OLD_JOB_ID))))
    assert decision.verdict is Verdict.WAITING
    assert iceberg(decision).reason is Reason.NEW_JOB_NO_COMMIT


def test_maintenance_snapshot_is_ignored() -> None:
    # Compaction rewrote files and copied the Flink keys: still not a commit of new data.
    compaction = snap(3, 2, 9999, op="replace")
    decision = run(tbl=table(*chain(8809, 8811), compaction))
    assert decision.verdict is Verdict.WAITING
    assert iceberg(decision).checkpoint_id == 8811


def test_maintenance_snapshot_without_flink_keys_on_top_keeps_the_covering_ancestor() -> None:
    decision = run(tbl=table(*chain(8809, 8812, None, None)))
    assert decision.snapshot_id == 2


def test_commit_of_another_writer_without_flink_keys_is_ignored() -> None:
    foreign = snap(3, 2, None, op="overwrite", **{"spark.app.id": "app-1"})
    decision = run(tbl=table(*chain(8809, 8811), foreign))
    assert iceberg(decision).reason is Reason.COMMIT_BEHIND


def test_snapshot_outside_main_history_is_ignored() -> None:
    # Snapshot 3 (on a branch) covers 8812, but main's head is 2.
    branch = snap(3, 1, 8812)
    decision = run(tbl=table(*chain(8809, 8811), branch, current=2))
    assert iceberg(decision).reason is Reason.COMMIT_BEHIND


def test_new_job_id_after_restore_waits_for_its_first_commit() -> None:
    new = job(checkpoint=8813, job_id="e" * 32, restored=RestoreInfo(8812))
    decision = run(job_obs=new, tbl=table(*chain(8809, 8812, 8820)))
    assert decision.verdict is Verdict.WAITING
    stage = iceberg(decision)
    assert stage.reason is Reason.NEW_JOB_NO_COMMIT
    assert "no commit of job eeee… yet" in decision.report()
    assert "last committed by job 3f2a… checkpoint 8820" in decision.report()
    covered = run(job_obs=new, tbl=table(*chain(8809, 8812, 8820, (8813, "e" * 32))))
    assert (covered.verdict, covered.snapshot_id) == (Verdict.COMPLETE, 4)


def test_checkpoint_ids_are_compared_only_within_the_same_job() -> None:
    # The old job reached checkpoint 9000; the new job's checkpoint 12 is not covered by it.
    decision = run(job_obs=job(checkpoint=12), tbl=table(*chain((9000, OLD_JOB_ID))))
    assert decision.verdict is Verdict.WAITING


def test_restore_from_old_savepoint_warns_about_iceberg_10892() -> None:
    restored = job(checkpoint=5003, job_id="e" * 32, restored=RestoreInfo(5000, "s3://sp/savepoint-1", True))
    decision = run(job_obs=restored, tbl=table(*chain(8809, 9000)))
    assert AdviceCode.RESTORE_SKIPS_COMMITS in decision.advice_codes
    assert "apache/iceberg#10892" in decision.report()


def test_no_restore_warning_without_a_restore_or_below_c_star() -> None:
    fresh = run(job_obs=job(checkpoint=3, job_id="e" * 32), tbl=table(*chain(8809)))
    assert AdviceCode.RESTORE_SKIPS_COMMITS not in fresh.advice_codes
    lower = run(
        job_obs=job(checkpoint=9500, job_id="e" * 32, restored=RestoreInfo(9400)), tbl=table(*chain(9000))
    )
    assert AdviceCode.RESTORE_SKIPS_COMMITS not in lower.advice_codes


def test_reused_job_id_commits_before_this_run_started_are_ignored() -> None:
    # Same (fixed) job id, restored from checkpoint 5000 after reaching 9000: 9000 must not cover 5003.
    old_run = snap(1, None, 9000, ts=int(at(9).timestamp() * 1000))
    current = job(checkpoint=5003, start_time=at(10, 30), restored=RestoreInfo(5000))
    decision = run(job_obs=current, tbl=table(old_run))
    assert decision.verdict is Verdict.WAITING
    assert AdviceCode.JOB_ID_REUSED in decision.advice_codes
    later = snap(2, 1, 9001, ts=int(at(10, 50).timestamp() * 1000))
    assert run(job_obs=current, tbl=table(old_run, later)).snapshot_id == 2


def test_a_first_commit_within_the_margin_after_the_start_is_ignored_without_blaming_the_job_id() -> None:
    # This run's first checkpoint committed 3 s after the start (margin 5 s): it may be this run's,
    # or a previous run's stamped by a clock running ahead. Ignored, but no "job id reused" advice.
    margin = replace(POLICY, clock_skew_margin=timedelta(seconds=5))
    first = snap(1, None, 1, ts=int((at(10, 30) + timedelta(seconds=3)).timestamp() * 1000))
    outcome = IcebergCommitStage(table(first)).evaluate(
        job(checkpoint=1, start_time=at(10, 30)), upstream_held=True, policy=margin
    )
    assert outcome.commit is None
    assert AdviceCode.JOB_ID_REUSED not in {a.code for a in outcome.advice}
    second = snap(2, 1, 2, ts=int((at(10, 30) + timedelta(seconds=13)).timestamp() * 1000))
    later = IcebergCommitStage(table(first, second)).evaluate(
        job(checkpoint=2, start_time=at(10, 30)), upstream_held=True, policy=margin
    )
    assert later.commit is not None and later.commit.snapshot_id == 2
    # Stamped before the start by more than the margin: a previous run, named.
    old = snap(1, None, 1, ts=int((at(10, 30) - timedelta(seconds=6)).timestamp() * 1000))
    reused = IcebergCommitStage(table(old)).evaluate(
        job(checkpoint=1, start_time=at(10, 30)), upstream_held=True, policy=margin
    )
    assert AdviceCode.JOB_ID_REUSED in {a.code for a in reused.advice}


def test_upsert_several_snapshots_per_checkpoint_uses_checkpoint_id() -> None:
    # One commit round wrote checkpoints 8811, 8812 and 8813 as three snapshots in the same
    # millisecond (the last even stamped earlier); only the checkpoint ids tell them apart.
    ts = 1_780_000_000_000
    snaps = [
        snap(1, None, 8809, ts=ts - 5000),
        snap(2, 1, 8811, ts=ts),
        snap(3, 2, 8812, ts=ts),
        snap(4, 3, 8813, ts=ts - 1),
    ]
    decision = run(tbl=table(*snaps))
    assert (decision.snapshot_id, decision.checkpoint_id) == (3, 8812)


def test_checkpoint_split_over_consecutive_snapshots_uses_the_last_of_them() -> None:
    decision = run(tbl=table(*chain(8809, 8812, 8812, 8813)))
    assert decision.snapshot_id == 3


def test_expired_covering_snapshot_picks_the_earliest_retained_descendant() -> None:
    # 8812 was committed in snapshot 2, since expired; 3 and 4 remain.
    retained = chain(8809, 8812, 8813, 8814)[2:]
    decision = run(tbl=table(*retained))
    assert (decision.snapshot_id, decision.checkpoint_id) == (3, 8813)


def test_history_expired_without_any_commit_of_the_job_waits() -> None:
    only_compaction = chain(8812, None)[1:]
    decision = run(tbl=table(*only_compaction))
    assert decision.verdict is Verdict.WAITING
    assert iceberg(decision).reason is Reason.NO_COMMIT
    assert AdviceCode.HISTORY_EXPIRED in decision.advice_codes


def test_empty_table_waits_for_the_first_commit() -> None:
    decision = run(tbl=TableSnapshots("ods.orders", None, ()))
    assert iceberg(decision).reason is Reason.NO_COMMIT


def test_empty_checkpoint_blocker_advises_max_continuous_empty_commits_of_1() -> None:
    decision = run(tbl=table(*chain(8801, 8803)))
    assert decision.blocking is Stage.ICEBERG
    assert AdviceCode.EMPTY_COMMITS in decision.advice_codes
    assert f"'{MAX_CONTINUOUS_EMPTY_COMMITS}'='1'" in decision.report()
    assert "10, the default" in decision.report()


def test_empty_checkpoint_advice_absent_when_the_property_is_already_1() -> None:
    decision = run(tbl=table(*chain(8801, 8803), properties={MAX_CONTINUOUS_EMPTY_COMMITS: "1"}))
    assert decision.verdict is Verdict.WAITING
    assert AdviceCode.EMPTY_COMMITS not in decision.advice_codes


def test_empty_checkpoint_advice_absent_while_kafka_still_blocks() -> None:
    behind = kafka(part(end=120, committed=80, b_p=90, fuo=80, fut=at(11)))
    assert AdviceCode.EMPTY_COMMITS not in run(tbl=table(*chain(8801, 8803)), kafka_obs=behind).advice_codes


def test_empty_checkpoint_advice_absent_for_a_commit_one_checkpoint_behind() -> None:
    # The commit of c* happens right after c* completes: one behind is the normal race.
    assert AdviceCode.EMPTY_COMMITS not in run(tbl=table(*chain(8811))).advice_codes


def test_operator_id_filters_other_sinks_of_the_same_job() -> None:
    snaps = [snap(1, None, 8809, operator="sink-a"), snap(2, 1, 8812, operator="sink-b")]
    stage = IcebergCommitStage(table(*snaps), operator_id="sink-a")
    assert run(commit=stage).verdict is Verdict.WAITING
    assert run(commit=IcebergCommitStage(table(*snaps), operator_id="sink-b")).snapshot_id == 2


def test_unparsable_checkpoint_id_is_not_a_commit() -> None:
    bad = snap(2, 1, None, **{"flink.job-id": JOB_ID, "flink.max-committed-checkpoint-id": "n/a"})
    decision = run(tbl=table(snap(1, None, 8809), bad))
    assert iceberg(decision).checkpoint_id == 8809
