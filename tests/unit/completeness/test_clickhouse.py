"""The pluggable commit stage for sinks that flush on checkpoint (ClickHouse)."""

from __future__ import annotations

from airflow_provider_rtp.completeness import CheckpointCommitStage, CommitStage, Reason, Stage, Verdict
from tests.unit.completeness.builders import JOB_ID, at, job, kafka, part, run


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
