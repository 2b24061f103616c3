"""Rule 1: CDC has delivered everything before the target into Kafka."""

from __future__ import annotations

from datetime import timedelta

from airflow_provider_rtp.completeness import (
    AdviceCode,
    CdcObservation,
    JobDownBehaviour,
    LagSample,
    Policy,
    Reason,
    Stage,
    StageStatus,
    Verdict,
)
from tests.unit.completeness.builders import POLICY, TARGET, at, heartbeat, job, kafka, part, run


def cdc_stage(decision):  # type: ignore[no-untyped-def]
    return decision.stage(Stage.CDC)


def test_heartbeat_at_exactly_the_target_is_complete() -> None:
    decision = run(cdc=heartbeat(TARGET))
    assert decision.verdict is Verdict.COMPLETE
    assert cdc_stage(decision).watermark == TARGET


def test_heartbeat_behind_target_waits_and_reports_the_gap() -> None:
    decision = run(cdc=heartbeat(at(11, 1, 30)))
    assert decision.verdict is Verdict.WAITING
    assert decision.blocking is Stage.CDC
    stage = cdc_stage(decision)
    assert stage.reason is Reason.CDC_BEHIND
    assert stage.gap_seconds == 30.0
    assert stage.needed == TARGET


def test_heartbeat_is_preferred_over_a_frozen_metric() -> None:
    cdc = CdcObservation(
        "shop-cdc", heartbeat=at(11, 3), metric=LagSample(at(11, 4), timedelta(0), frozen=True)
    )
    decision = run(cdc=cdc)
    assert decision.verdict is Verdict.COMPLETE
    assert AdviceCode.INSTALL_HEARTBEATS not in decision.advice_codes


def _metric_cdc(sampled, lag, *, trigger, frozen=False):  # type: ignore[no-untyped-def]
    c_job = job(checkpoint=41, job_id="c" * 32, latest_checkpoint_trigger=trigger)
    return CdcObservation("shop-cdc", metric=LagSample(sampled, lag, frozen), job=c_job)


def test_metric_watermark_is_durable_once_a_checkpoint_triggered_after_the_sample_completed() -> None:
    cdc = _metric_cdc(at(11, 4), timedelta(seconds=90), trigger=at(11, 4, 10))
    decision = run(cdc=cdc)
    assert decision.verdict is Verdict.COMPLETE
    assert cdc_stage(decision).watermark == at(11, 2, 30)


def test_metric_watermark_trigger_equal_to_sample_time_counts_as_durable() -> None:
    assert run(cdc=_metric_cdc(at(11, 4), timedelta(seconds=90), trigger=at(11, 4))).is_complete


def test_metric_watermark_without_a_later_checkpoint_is_not_durable() -> None:
    decision = run(cdc=_metric_cdc(at(11, 4), timedelta(seconds=90), trigger=at(11, 3, 59)))
    assert decision.verdict is Verdict.WAITING
    assert cdc_stage(decision).reason is Reason.CDC_NOT_DURABLE


def test_metric_watermark_behind_target_waits() -> None:
    decision = run(cdc=_metric_cdc(at(11, 4), timedelta(minutes=3), trigger=at(11, 4, 30)))
    assert cdc_stage(decision).reason is Reason.CDC_BEHIND
    assert cdc_stage(decision).gap_seconds == 60.0


def test_frozen_cdc_metric_is_unknown_not_zero() -> None:
    decision = run(cdc=_metric_cdc(at(11, 4), timedelta(0), trigger=at(11, 4, 30), frozen=True))
    assert decision.verdict is Verdict.WAITING
    stage = cdc_stage(decision)
    assert stage.reason is Reason.CDC_UNKNOWN
    assert stage.watermark is None
    assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes
    assert "install heartbeats" in decision.report().lower()


def test_missing_cdc_metric_is_unknown_and_advises_heartbeats() -> None:
    decision = run(cdc=CdcObservation("shop-cdc"))
    assert cdc_stage(decision).reason is Reason.CDC_UNKNOWN
    assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes


def test_stale_metric_of_a_stuck_job_never_reads_as_zero_lag() -> None:
    # The value stopped changing hours ago; a fresh wall time with lag 0 would claim "now".
    cdc = _metric_cdc(at(11, 4), timedelta(0), trigger=at(11, 4, 30), frozen=True)
    assert run(cdc=cdc).stage(Stage.CDC).watermark is None


def test_negative_metric_lag_is_read_as_zero_never_as_the_future() -> None:
    cdc = _metric_cdc(at(11, 1), timedelta(seconds=-120), trigger=at(11, 4))
    assert cdc_stage(run(cdc=cdc)).watermark == at(11, 1)


def test_cdc_job_not_running_is_reported_but_a_sufficient_watermark_still_holds() -> None:
    cdc = heartbeat(at(11, 3), job=job("FAILED", job_id="c" * 32))
    decision = run(cdc=cdc)
    assert decision.verdict is Verdict.COMPLETE
    assert AdviceCode.CDC_JOB_DOWN in decision.advice_codes
    assert "FAILED" in decision.report()


def test_cdc_job_down_with_watermark_behind_fails_under_fail_policy() -> None:
    cdc = heartbeat(at(11, 1), job=job("CANCELED", job_id="c" * 32))
    policy = Policy(
        allowed_lateness=timedelta(minutes=2),
        clock_skew_margin=timedelta(0),
        on_job_down=JobDownBehaviour.FAIL,
    )
    decision = run(cdc=cdc, policy=policy)
    assert decision.verdict is Verdict.FAILED
    assert decision.blocking is Stage.CDC


def test_cdc_job_down_with_watermark_behind_waits_by_default() -> None:
    decision = run(cdc=heartbeat(at(11, 1), job=job("CANCELED", job_id="c" * 32)))
    assert decision.verdict is Verdict.WAITING
    assert cdc_stage(decision).status is StageStatus.WAITING


def test_no_cdc_configured_skips_the_stage() -> None:
    decision = run(cdc=None, kafka_obs=kafka(part(b_p=90)))
    assert cdc_stage(decision).status is StageStatus.SKIPPED
    assert decision.verdict is Verdict.COMPLETE


def test_clock_skew_margin_delays_target() -> None:
    margin = Policy(allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(seconds=5))
    cdc = heartbeat(at(11, 2, 3))
    assert run(cdc=cdc, policy=POLICY).is_complete
    decision = run(cdc=cdc, policy=margin, kafka_obs=kafka(target=at(11, 2, 5)))
    assert decision.target == at(11, 2, 5)
    assert decision.verdict is Verdict.WAITING
    assert decision.stage(Stage.CDC).gap_seconds == 2.0
