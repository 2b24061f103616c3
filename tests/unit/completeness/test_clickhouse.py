"""The pluggable commit stage for sinks that flush on checkpoint (ClickHouse)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from airflow_provider_rtp.completeness import (
    CheckpointCommitStage,
    CommitStage,
    Decision,
    Reason,
    Stage,
    Verdict,
)
from airflow_provider_rtp.completeness.report import CLICKHOUSE_GUARANTEE
from tests.unit.completeness.builders import JOB_ID, NOW, POLICY, at, job, kafka, part, run


def test_checkpoint_stage_is_a_commit_stage() -> None:
    assert isinstance(CheckpointCommitStage("ch.orders"), CommitStage)


def test_clickhouse_is_complete_after_a_checkpoint_once_kafka_held() -> None:
    decision = run(commit=CheckpointCommitStage("ch.orders"))
    assert decision.verdict is Verdict.COMPLETE
    assert decision.commit is not None
    assert (decision.commit.job_id, decision.commit.checkpoint_id, decision.snapshot_id) == (
        JOB_ID,
        8812,
        None,
    )
    assert decision.stage(Stage.CLICKHOUSE) is not None
    assert "completed checkpoint 8812 after the offsets held" in decision.report()


def test_clickhouse_waits_without_a_completed_checkpoint() -> None:
    decision = run(commit=CheckpointCommitStage("ch.orders"), job_obs=job(checkpoint=None))
    assert decision.blocking is Stage.CLICKHOUSE


def test_clickhouse_waits_while_kafka_waits() -> None:
    behind = kafka(part(end=120, committed=80, b_p=90, fuo=80, fut=at(11)))
    decision = run(commit=CheckpointCommitStage("ch.orders"), kafka_obs=behind)
    assert decision.blocking is Stage.KAFKA


def test_held_since_needs_a_checkpoint_triggered_after_kafka_held() -> None:
    stage = CheckpointCommitStage("ch.orders", kafka_held_since=at(11, 4))
    early = run(commit=stage, job_obs=job(latest_checkpoint_trigger=at(11, 3, 59)))
    assert early.stage(Stage.CLICKHOUSE).reason is Reason.COMMIT_BEHIND
    late = run(commit=stage, job_obs=job(latest_checkpoint_trigger=at(11, 4)))
    assert late.verdict is Verdict.COMPLETE


def test_kafka_held_at_feeds_the_next_evaluation() -> None:
    first = run(commit=CheckpointCommitStage("ch.orders"))
    assert first.kafka_held_at is not None
    follow_up = CheckpointCommitStage("ch.orders", kafka_held_since=first.kafka_held_at)
    assert run(commit=follow_up, job_obs=job(latest_checkpoint_trigger=at(11, 6))).is_complete


def test_the_clock_skew_margin_delays_the_checkpoint_needed() -> None:
    stage = CheckpointCommitStage("ch.orders", kafka_held_since=at(11, 4))
    policy = replace(POLICY, clock_skew_margin=timedelta(seconds=5))
    observed = kafka(target=at(11, 2, 5))  # offsets looked up at the target the margin moves
    within = run(
        commit=stage, kafka_obs=observed, job_obs=job(latest_checkpoint_trigger=at(11, 4, 4)), policy=policy
    )
    assert within.stage(Stage.CLICKHOUSE).reason is Reason.COMMIT_BEHIND
    assert "needs a checkpoint triggered at or after 2026-11-24T11:04:05" in within.report()
    after = run(
        commit=stage, kafka_obs=observed, job_obs=job(latest_checkpoint_trigger=at(11, 4, 5)), policy=policy
    )
    assert after.is_complete


def test_kafka_held_at_is_when_the_offsets_were_read() -> None:
    # Read after the evaluation began: the stage is known to hold from the end of the reading on.
    read = kafka()
    late = replace(read, read_at=at(11, 5, 2))
    decision = run(commit=CheckpointCommitStage("ch.orders"), kafka_obs=late)
    assert decision.kafka_held_at == at(11, 5, 2)
    # A checkpoint that completed before that (the one whose offsets the stage saw) does not count.
    stage = CheckpointCommitStage("ch.orders", kafka_held_since=decision.kafka_held_at)
    early = run(commit=stage, kafka_obs=late, job_obs=job(latest_checkpoint_trigger=at(11, 5, 1)))
    assert not early.is_complete and early.blocking is Stage.CLICKHOUSE
    # Never before the evaluation time, and unset while Kafka waits.
    assert (
        run(commit=CheckpointCommitStage("ch.orders"), kafka_obs=replace(read, read_at=at(11))).kafka_held_at
        == NOW
    )
    behind = kafka(part(end=120, committed=80, b_p=90, fuo=80, fut=at(11)))
    assert run(commit=CheckpointCommitStage("ch.orders"), kafka_obs=behind).kafka_held_at is None


def test_a_clickhouse_decision_states_its_weaker_guarantee() -> None:
    decision = run(commit=CheckpointCommitStage("ch.orders"))
    assert decision.guarantee == CLICKHOUSE_GUARANTEE
    assert f"  guarantee: {CLICKHOUSE_GUARANTEE}" in decision.report()
    assert "no snapshot" in CLICKHOUSE_GUARANTEE and "deduplicate" in CLICKHOUSE_GUARANTEE
    as_dict = decision.to_dict()
    assert as_dict["guarantee"] == CLICKHOUSE_GUARANTEE
    assert as_dict["commit"]["snapshot_id"] is None
    assert Decision.from_dict(as_dict) == decision
    waiting = run(commit=CheckpointCommitStage("ch.orders"), job_obs=job(checkpoint=None))
    assert waiting.guarantee == CLICKHOUSE_GUARANTEE  # said while waiting too: what is waited for


def test_an_iceberg_decision_names_its_snapshot_not_a_guarantee_sentence() -> None:
    decision = run()
    assert decision.guarantee is None and decision.to_dict()["guarantee"] is None
    assert "guarantee" not in decision.report()


def test_the_report_says_which_checkpoint_is_too_early() -> None:
    stage = CheckpointCommitStage("ch.orders", kafka_held_since=at(11, 4))
    text = run(commit=stage, job_obs=job(latest_checkpoint_trigger=at(11, 3))).report()
    line = next(x for x in text.splitlines() if x.startswith("  clickhouse "))
    assert line.startswith("  clickhouse ch.orders")
    assert "latest checkpoint 8812 was triggered too early" in line
    assert "needs a checkpoint triggered at or after 2026-11-24T11:04:00" in line
