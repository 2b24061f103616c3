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
    metric_watermark,
)
from tests.unit.completeness.builders import POLICY, TARGET, at, heartbeat, job, kafka, part, run

C_JOB = "c" * 32


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


def sample(read_at, *, emit=timedelta(seconds=1), idle=timedelta(0), age=timedelta(0), job_id=C_JOB):  # type: ignore[no-untyped-def]
    return LagSample(job_id, read_at, age, emit, idle)


def metric_cdc(metric, *, trigger, state="RUNNING"):  # type: ignore[no-untyped-def]
    c_job = job(
        state,
        checkpoint=41,
        job_id=C_JOB,
        latest_checkpoint_trigger=trigger,
        committed_checkpoint_trigger=trigger,  # the checkpoint before it too: committed in Kafka
    )
    return CdcObservation("shop-cdc", metric=metric, job=c_job)


def test_heartbeat_is_preferred_over_the_metric() -> None:
    cdc = CdcObservation("shop-cdc", heartbeat=at(11, 3), metric=sample(at(10, 0), idle=timedelta(hours=1)))
    decision = run(cdc=cdc)
    assert decision.verdict is Verdict.COMPLETE
    assert AdviceCode.INSTALL_HEARTBEATS not in decision.advice_codes


def test_live_metric_watermark_is_the_last_emitted_change() -> None:
    # Read at 11:04:30, values up to 10 s old, idle 5 s, emit lag 15 s: read_at - age - idle - lag.
    metric = sample(
        at(11, 4, 30), emit=timedelta(seconds=15), idle=timedelta(seconds=5), age=timedelta(seconds=10)
    )
    decision = run(cdc=metric_cdc(metric, trigger=at(11, 4, 40)))
    assert decision.verdict is Verdict.COMPLETE
    stage = cdc_stage(decision)
    assert stage.reason is Reason.OK and stage.watermark == at(11, 4)
    assert AdviceCode.INSTALL_HEARTBEATS not in decision.advice_codes


def test_metric_watermark_is_durable_once_a_checkpoint_triggered_after_the_emission_completed() -> None:
    # The source went idle at 11:04:00 (read 11:04:30, idle 30 s): a checkpoint triggered then holds it.
    metric = sample(at(11, 4, 30), emit=timedelta(seconds=30), idle=timedelta(seconds=30))
    assert run(cdc=metric_cdc(metric, trigger=at(11, 4))).is_complete
    decision = run(cdc=metric_cdc(metric, trigger=at(11, 3, 59)))
    assert decision.verdict is Verdict.WAITING
    assert cdc_stage(decision).reason is Reason.CDC_NOT_DURABLE
    assert cdc_stage(decision).watermark == at(11, 3, 30)


def test_metric_watermark_behind_target_waits_with_the_gap() -> None:
    metric = sample(at(11, 4), emit=timedelta(minutes=3))
    decision = run(cdc=metric_cdc(metric, trigger=at(11, 4, 30)))
    assert cdc_stage(decision).reason is Reason.CDC_BEHIND
    assert cdc_stage(decision).gap_seconds == 60.0


def test_frozen_lag_on_a_quiet_database_never_moves_the_proven_watermark() -> None:
    # The lag gauge froze at 2 s after the last change at 10:58:00; idle grows with the wall clock.
    proven = [
        metric_watermark(
            sample(at(10, 58, 2) + idle, emit=timedelta(seconds=2), idle=idle), None, POLICY.idle_timeout
        ).proven
        for idle in (timedelta(0), timedelta(minutes=3), timedelta(hours=2))
    ]
    assert proven == [at(10, 58)] * 3


def test_quiet_database_is_not_released_before_the_idle_timeout_bound() -> None:
    # Last change 10:58; target 11:02; idle timeout 5 m: the bound needs a checkpoint triggered at 11:07.
    for trigger in (at(11, 2), at(11, 6, 59)):
        quiet = sample(
            trigger + timedelta(seconds=5),
            emit=timedelta(seconds=1),
            idle=trigger - at(10, 58) + timedelta(seconds=4),
        )
        decision = run(cdc=metric_cdc(quiet, trigger=trigger), now=trigger + timedelta(seconds=5))
        assert decision.verdict is Verdict.WAITING, decision.report()
        stage = cdc_stage(decision)
        assert stage.reason is Reason.CDC_BEHIND
        assert stage.watermark == max(at(10, 58), trigger - POLICY.idle_timeout)
        assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes


def test_quiet_database_is_released_by_assumption_after_the_bound() -> None:
    quiet = sample(at(11, 7, 5), emit=timedelta(seconds=1), idle=timedelta(minutes=9, seconds=4))
    decision = run(cdc=metric_cdc(quiet, trigger=at(11, 7)), now=at(11, 7, 5))
    assert decision.verdict is Verdict.COMPLETE
    stage = cdc_stage(decision)
    assert stage.reason is Reason.CDC_ASSUMED and stage.watermark == at(11, 2)
    assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes
    report = decision.report()
    assert "ok by assumption (quiet source, idle timeout 5m)" in report
    assert "install heartbeats" in report.lower()


def test_no_assumption_while_the_cdc_job_is_down() -> None:
    quiet = sample(at(11, 9), idle=timedelta(minutes=11))
    decision = run(cdc=metric_cdc(quiet, trigger=at(11, 8), state="CANCELED"), now=at(11, 9))
    assert decision.verdict is Verdict.WAITING
    assert cdc_stage(decision).reason is Reason.CDC_BEHIND
    assert cdc_stage(decision).watermark == at(10, 57, 59)  # proven only: the last change
    assert AdviceCode.CDC_JOB_DOWN in decision.advice_codes
    assert "job CANCELED" in decision.report()


def test_no_assumption_when_the_last_change_arrived_later_than_the_idle_timeout() -> None:
    # 11:09 - idle 1m - lag 7m = 11:01; the idle-timeout bound (11:03:59) is refused.
    backlog = sample(at(11, 9), emit=timedelta(minutes=7), idle=timedelta(minutes=1))
    decision = run(cdc=metric_cdc(backlog, trigger=at(11, 8, 59)), now=at(11, 9))
    assert cdc_stage(decision).reason is Reason.CDC_BEHIND
    assert cdc_stage(decision).watermark == at(11, 1)


def test_never_emitted_source_is_unknown_and_advises_heartbeats() -> None:
    never = sample(at(11, 9), emit=None, idle=timedelta(minutes=30))
    decision = run(cdc=metric_cdc(never, trigger=at(11, 8, 59)), now=at(11, 9))
    stage = cdc_stage(decision)
    assert stage.reason is Reason.CDC_UNKNOWN and stage.watermark is None
    assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes
    assert "no change since" in decision.report()


def test_missing_cdc_metric_is_unknown_and_advises_heartbeats() -> None:
    decision = run(cdc=CdcObservation("shop-cdc"))
    assert cdc_stage(decision).reason is Reason.CDC_UNKNOWN
    assert AdviceCode.INSTALL_HEARTBEATS in decision.advice_codes


def test_gauges_of_a_previous_run_of_the_cdc_job_are_not_used() -> None:
    metric = sample(at(11, 4), job_id="d" * 32)
    decision = run(cdc=metric_cdc(metric, trigger=at(11, 4, 30)))
    assert cdc_stage(decision).reason is Reason.CDC_UNKNOWN
    assert "restarted" in decision.report()


def test_negative_metric_lag_is_read_as_zero_never_as_the_future() -> None:
    metric = sample(at(11, 1), emit=timedelta(seconds=-120))
    assert cdc_stage(run(cdc=metric_cdc(metric, trigger=at(11, 4)))).watermark == at(11, 1)


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


def test_no_cdc_configured_skips_the_stage_and_says_so() -> None:
    decision = run(cdc=None, kafka_obs=kafka(part(b_p=90)))
    assert cdc_stage(decision).status is StageStatus.SKIPPED
    assert decision.verdict is Verdict.COMPLETE
    assert "no CDC stage declared: Kafka-native, idle timeout 5m applies" in decision.report()


def test_clock_skew_margin_delays_target() -> None:
    margin = Policy(allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(seconds=5))
    cdc = heartbeat(at(11, 2, 3))
    assert run(cdc=cdc, policy=POLICY).is_complete
    decision = run(cdc=cdc, policy=margin, kafka_obs=kafka(target=at(11, 2, 5)))
    assert decision.target == at(11, 2, 5)
    assert decision.verdict is Verdict.WAITING
    assert decision.stage(Stage.CDC).gap_seconds == 2.0
