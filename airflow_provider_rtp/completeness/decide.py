"""``decide``: the completeness rules, applied to one evaluation's observations.

Stage by stage (see ``docs/completeness.md``): CDC watermark ≥ target; every
partition consumed through the target; J healthy; a commit of J covering c*.
Every stage is evaluated even when an earlier one blocks, so the report shows
the whole chain; the verdict is COMPLETE only when all hold.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from airflow_provider_rtp.completeness import _advice
from airflow_provider_rtp.completeness._time import ceil_epoch_ms, require_utc, to_iso
from airflow_provider_rtp.completeness.cdc_watermark import metric_watermark
from airflow_provider_rtp.completeness.decision import Decision, Verdict
from airflow_provider_rtp.completeness.errors import InvalidWindowError, MalformedObservationError
from airflow_provider_rtp.completeness.models import JobDownBehaviour, Policy, Window
from airflow_provider_rtp.completeness.observations import (
    CdcObservation,
    JobObservation,
    JobState,
    KafkaObservation,
    Observations,
    PartitionObservation,
)
from airflow_provider_rtp.completeness.results import (
    Advice,
    PartitionResult,
    Reason,
    Stage,
    StageResult,
    StageStatus,
    gap_seconds,
)

__all__ = ["decide"]


def decide(observations: Observations, policy: Policy, now: datetime) -> Decision:
    """Whether every record stamped before ``window.end + lateness + margin`` is committed.

    Pure: the same observations, policy and ``now`` always give the same decision.

    :param observations: gathered in the order CDC, Kafka, job, commit (see :class:`Observations`).
    :param now: the evaluation time (UTC); drives the idle timeout and "consumed through".
    :raises InvalidWindowError: the window ends more than ``policy.future_window_limit`` after now.
    :raises MalformedObservationError: the offsets were looked up for another target.
    """
    now = require_utc(now, "now")
    window = observations.window
    target = _checked_target(window, observations.kafka, policy, now)
    advice: list[Advice] = []

    cdc = _cdc_stage(observations.cdc, target, policy, advice)
    cdc_durable = None if observations.cdc is None else cdc.status is StageStatus.OK
    partitions = [_partition(p, target, cdc_durable, policy, now) for p in observations.kafka.partitions]
    kafka, slowest, waiting = _kafka_stage(observations.kafka, partitions, target, policy, now, advice)
    upstream_held = cdc.ok and kafka.ok
    outcome = observations.commit.evaluate(observations.job, upstream_held=upstream_held, policy=policy)
    job = _job_stage(observations.job, policy, commit_ok=outcome.result.ok, advice=advice)
    advice.extend(outcome.advice)

    stages = (cdc, kafka, job, outcome.result)
    failed = next((s for s in stages if s.status is StageStatus.FAILED), None)
    blocked = failed or next((s for s in stages if not s.ok), None)
    verdict = Verdict.FAILED if failed else Verdict.WAITING if blocked else Verdict.COMPLETE
    order = list(Stage)
    return Decision(
        verdict=verdict,
        window=window,
        policy=policy,
        target=target,
        decided_at=now,
        stages=stages,
        blocking=blocked.stage if blocked else None,
        group=observations.kafka.group,
        slowest_partition=slowest,
        waiting_partitions=waiting,
        commit=outcome.commit if verdict is Verdict.COMPLETE else None,
        advice=tuple(sorted(advice, key=lambda a: order.index(a.stage))),
        kafka_held_at=_held_at(observations.kafka, now) if upstream_held else None,
    )


def _held_at(kafka: KafkaObservation, now: datetime) -> datetime:
    """When the Kafka stage is known to hold: once its offsets were read (never before ``now``)."""
    return now if kafka.read_at is None else max(kafka.read_at, now)


def _checked_target(window: Window, kafka: KafkaObservation, policy: Policy, now: datetime) -> datetime:
    if window.end > now + policy.future_window_limit:
        raise InvalidWindowError(
            f"window end {to_iso(window.end)} is more than {policy.future_window_limit} after now "
            f"({to_iso(now)}); check the window, or raise Policy.future_window_limit"
        )
    target = window.target(policy)
    if ceil_epoch_ms(kafka.target) != ceil_epoch_ms(target):
        raise MalformedObservationError(
            f"offsets_for_times was asked for {to_iso(kafka.target)} but window and policy give target "
            f"{to_iso(target)}; look offsets up at Window.target_ms(policy) = {window.target_ms(policy)}"
        )
    return target


def _down_status(policy: Policy) -> StageStatus:
    return StageStatus.FAILED if policy.on_job_down is JobDownBehaviour.FAIL else StageStatus.WAITING


def _cdc_stage(
    cdc: CdcObservation | None, target: datetime, policy: Policy, advice: list[Advice]
) -> StageResult:
    if cdc is None:
        return StageResult(Stage.CDC, "-", StageStatus.SKIPPED, Reason.NOT_CONFIGURED)
    watermark: datetime | None
    note = None
    if cdc.heartbeat is not None:
        watermark = cdc.heartbeat
        reason = Reason.OK if watermark >= target else Reason.CDC_BEHIND
    else:
        # Without heartbeats: the one metric model (proven from the gauges, or assumed while quiet).
        metric = metric_watermark(cdc.metric, cdc.job, policy.idle_timeout)
        watermark = metric.watermark
        if metric.proves(target):
            reason = Reason.OK
        elif metric.assumes(target):
            reason = Reason.CDC_ASSUMED
        elif metric.proven is not None and metric.proven >= target:
            watermark, reason = metric.proven, Reason.CDC_NOT_DURABLE  # may sit in an open transaction
        elif metric.proven is None:
            reason = Reason.CDC_UNKNOWN  # never "zero lag"
        else:
            watermark, reason = watermark or metric.proven, Reason.CDC_BEHIND
        if reason is not Reason.OK:
            note = metric.reason
        if reason is not Reason.OK and (metric.proven is None or metric.assumed is not None):
            # Unknown, or held (or to be released) only by the idle-timeout assumption.
            advice.append(_advice.install_heartbeats(cdc.name, assumed=metric.proven is not None))
    status = StageStatus.OK if reason.is_ok else StageStatus.WAITING
    if cdc.job is not None and (cdc.job.state.is_down or cdc.job.state is JobState.FINISHED):
        advice.append(_advice.cdc_job_down(cdc.job))
        if status is not StageStatus.OK:
            status = _down_status(policy)
    return StageResult(
        Stage.CDC,
        cdc.name,
        status,
        reason,
        watermark=watermark,
        needed=target,
        gap_seconds=gap_seconds(watermark, target),
        job_state=cdc.job.state.value if cdc.job else None,
        note=note,
    )


def _partition(
    p: PartitionObservation, target: datetime, cdc_durable: bool | None, policy: Policy, now: datetime
) -> PartitionResult:
    if p.committed is None and (p.end == 0 or p.offset_for_target == 0):
        # No record before the target ever existed in p (it is empty, or its very first offset
        # is stamped at or after the target): no commit is owed for the window. A source that
        # never read p commits nothing for it.
        p = replace(p, committed=0)
    through = p.first_unconsumed_timestamp if p.has_data_in_lag else now

    def result(reason: Reason, needed: int | None, behind: int | None) -> PartitionResult:
        known = through if p.committed is not None else None
        return PartitionResult(p.topic, p.partition, reason, known, needed, p.committed, p.end, behind)

    b_p = p.offset_for_target
    if p.committed is None:
        return result(Reason.NO_COMMITTED_OFFSET, b_p, None)
    if p.committed < p.log_start:
        return result(Reason.BELOW_LOG_START, max(p.log_start, b_p or 0), p.end - p.committed)
    if b_p is not None:
        # Below the log start means retention deleted the window's records; the group is past them.
        needed = max(b_p, p.log_start)
        # Exact with transaction markers: only control records may lie between committed and needed.
        no_data_before = needed <= p.end and (
            p.first_unconsumed_offset is None or p.first_unconsumed_offset >= needed
        )
        if p.committed >= needed or no_data_before:
            return result(Reason.OK, needed, 0)
        return result(Reason.BEHIND, needed, needed - p.committed)
    if p.has_data_in_lag:
        return result(Reason.BEHIND, p.end, p.end - p.committed)
    # Every record in p is older than the target and consumed. Only the CDC watermark or,
    # without CDC, the idle timeout says that no older record is still on its way.
    if cdc_durable is not None:
        return result(Reason.CAUGHT_UP_CDC if cdc_durable else Reason.WAITING_FOR_CDC, None, 0)
    if now >= target + policy.idle_timeout:
        return result(Reason.CAUGHT_UP_IDLE, None, 0)
    return result(Reason.IDLE_WAIT, None, 0)


def _kafka_stage(
    kafka: KafkaObservation,
    partitions: list[PartitionResult],
    target: datetime,
    policy: Policy,
    now: datetime,
    advice: list[Advice],
) -> tuple[StageResult, PartitionResult, tuple[PartitionResult, ...]]:
    waiting = tuple(r for r in partitions if not r.ok)
    # Waiting partitions first, unknown progress first, then the smallest consumed-through time.
    slowest = min(
        partitions,
        key=lambda r: (r.ok, r.consumed_through is not None, r.consumed_through or now, r.topic, r.partition),
    )
    _kafka_advice(kafka, partitions, advice)
    behind = [r.records_behind for r in waiting if r.records_behind is not None]
    needed = target + policy.idle_timeout if slowest.reason is Reason.IDLE_WAIT else target
    stage = StageResult(
        Stage.KAFKA,
        slowest.name,
        StageStatus.WAITING if waiting else StageStatus.OK,
        slowest.reason if waiting else Reason.OK,
        watermark=slowest.consumed_through,
        needed=needed,
        gap_seconds=gap_seconds(slowest.consumed_through, needed),
        records_behind=sum(behind) if behind or not waiting else None,
        subject=kafka.group,
    )
    return stage, slowest, waiting


def _kafka_advice(kafka: KafkaObservation, partitions: list[PartitionResult], advice: list[Advice]) -> None:
    def named(reason: Reason) -> list[str]:
        return [r.name for r in partitions if r.reason is reason]

    if missing := named(Reason.NO_COMMITTED_OFFSET):
        advice.append(_advice.missing_group_offset(kafka.group, missing))
    if deleted := named(Reason.BELOW_LOG_START):
        advice.append(_advice.offsets_deleted(kafka.group, deleted))
    results = {(r.topic, r.partition): r for r in partitions}
    retained = [
        p.name
        for p in kafka.partitions
        if results[(p.topic, p.partition)].ok
        and p.offset_for_target is not None
        and p.offset_for_target < p.log_start
    ]
    if retained:
        advice.append(_advice.retention(kafka.group, retained))


def _job_stage(job: JobObservation, policy: Policy, *, commit_ok: bool, advice: list[Advice]) -> StageResult:
    base = StageResult(
        Stage.JOB,
        job.name,
        StageStatus.OK,
        Reason.OK,
        checkpoint_id=job.latest_checkpoint_id,
        job_state=job.state.value,
        subject=job.job_id,
    )
    if job.state is JobState.RUNNING:
        return base
    if job.state is JobState.FINISHED and commit_ok:
        return replace(base, reason=Reason.JOB_FINISHED)  # drained: its final commit covers what it read
    if job.state.is_starting:
        return replace(base, status=StageStatus.WAITING, reason=Reason.JOB_STARTING)
    # Down, or finished without a covering commit: it will not commit anything more.
    status = _down_status(policy)
    advice.append(_advice.job_down(job, failing=status is StageStatus.FAILED))
    return replace(base, status=status, reason=Reason.JOB_DOWN)
