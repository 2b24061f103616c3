"""What the deferrable trigger carries from one evaluation of a ClickHouse-sink pipeline to the next."""

from __future__ import annotations

from airflow_provider_rtp.completeness import CheckpointCommitStage, Pipeline, Verdict
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck
from airflow_provider_rtp.triggers.ingestion import _held_since
from tests.unit.completeness.builders import WINDOW, at, job, kafka, part, run

CLICKHOUSE = CompletenessCheck(
    Pipeline("ch.orders", ("orders",), "g", "j", sink="clickhouse", clickhouse_table="shop.orders")
)
ICEBERG = CompletenessCheck(Pipeline("ods.orders", ("orders",), "g", "j"))


def _result(*, kafka_held: bool) -> CheckResult:
    observed = kafka() if kafka_held else kafka(part(end=120, committed=80, b_p=90, fuo=80, fut=at(11)))
    stage = CheckpointCommitStage("shop.orders", kafka_held_since=at(11, 5))
    decision = run(commit=stage, kafka_obs=observed, job_obs=job(latest_checkpoint_trigger=at(11, 4)))
    assert decision.verdict is Verdict.WAITING
    return CheckResult(window=WINDOW, verdict=decision.verdict, report=decision.report(), decision=decision)


def test_the_first_moment_the_kafka_stage_held_is_kept() -> None:
    held = _result(kafka_held=True)
    assert held.decision is not None and held.decision.kafka_held_at is not None
    assert _held_since(CLICKHOUSE, None, held) == held.decision.kafka_held_at
    assert _held_since(CLICKHOUSE, at(11, 1), held) == at(11, 1)


def test_an_evaluation_without_it_starts_over() -> None:
    assert _held_since(CLICKHOUSE, at(11, 1), _result(kafka_held=False)) is None
    unavailable = CheckResult(window=WINDOW, verdict=Verdict.WAITING, report="unavailable")
    assert _held_since(CLICKHOUSE, at(11, 1), unavailable) is None


def test_an_iceberg_pipeline_carries_nothing() -> None:
    assert _held_since(ICEBERG, None, _result(kafka_held=True)) is None
