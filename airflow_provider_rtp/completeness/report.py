"""The human report of a decision, one line per stage::

window 2026-11-24T10:00Z..11:00Z  lateness 2m  → WAITING (kafka)
  cdc      shop-cdc       watermark 11:03:41  ok
  kafka    orders.p7      consumed through 10:58:12  needs 11:02:00  (1,204 records behind)
  job      orders-sink    RUNNING  checkpoint 8812
  iceberg  ods.orders     job 3f2a… committed checkpoint 8809  needs ≥ 8812
  deadline 11:30:00 in 26m
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Protocol

from airflow_provider_rtp.completeness._advice import short_job_id
from airflow_provider_rtp.completeness._time import fmt_clock, fmt_duration
from airflow_provider_rtp.completeness.deadline import deadline_status
from airflow_provider_rtp.completeness.models import Policy, Window
from airflow_provider_rtp.completeness.results import (
    FINAL_CHECKPOINT_ID,
    Advice,
    CommitPoint,
    PartitionResult,
    Reason,
    Stage,
    StageResult,
    StageStatus,
)

__all__ = ["CLICKHOUSE_GUARANTEE", "Reported", "guarantee", "render"]

#: What a complete decision promises when J's sink flushes to ClickHouse on checkpoints.
CLICKHOUSE_GUARANTEE = (
    "at least once: complete means every row of the window was flushed to ClickHouse by a checkpoint "
    "of the job that completed after the Kafka stage held; there is no snapshot to pin, rows are "
    "visible as soon as they are flushed and a later failure may deliver some again, so the table "
    "(e.g. a ReplacingMergeTree) or its readers must deduplicate"
)


class Reported(Protocol):
    """What the report reads of a :class:`~.decision.Decision` (which renders itself with it)."""

    @property
    def verdict(self) -> enum.Enum: ...
    @property
    def window(self) -> Window: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def target(self) -> datetime: ...
    @property
    def decided_at(self) -> datetime: ...
    @property
    def stages(self) -> tuple[StageResult, ...]: ...
    @property
    def blocking(self) -> Stage | None: ...
    @property
    def group(self) -> str | None: ...
    @property
    def slowest_partition(self) -> PartitionResult | None: ...
    @property
    def waiting_partitions(self) -> tuple[PartitionResult, ...]: ...
    @property
    def commit(self) -> CommitPoint | None: ...
    @property
    def advice(self) -> tuple[Advice, ...]: ...


_STAGE_WIDTH = 9
_NAME_WIDTH = 15


def render(decision: Reported) -> str:
    """Header, one line per stage, then one ``!`` line per finding."""
    lines = [_header(decision)]
    for stage in decision.stages:
        name = stage.name if len(stage.name) < _NAME_WIDTH - 1 else stage.name + " "
        label = stage.stage.value if len(stage.stage.value) < _STAGE_WIDTH else stage.stage.value + " "
        lines.append(f"  {label:<{_STAGE_WIDTH}}{name:<{_NAME_WIDTH}}{_detail(decision, stage)}".rstrip())
    due = deadline_status(decision.window, decision.policy, decision.decided_at)
    if due is not None and decision.verdict.value != "complete":
        lines.append(f"  {due.line()}")
    said = guarantee(decision.stages)
    if said is not None:
        lines.append(f"  guarantee: {said}")
    lines.extend(f"  ! {a.message}" for a in decision.advice)
    return "\n".join(lines)


def guarantee(stages: tuple[StageResult, ...]) -> str | None:
    """The weaker guarantee of a ClickHouse commit stage, in one sentence; ``None`` for Iceberg,
    whose guarantee is the snapshot the decision names."""
    if any(s.stage is Stage.CLICKHOUSE for s in stages):
        return CLICKHOUSE_GUARANTEE
    return None


def _header(d: Reported) -> str:
    text = f"window {d.window.label()}  lateness {fmt_duration(d.policy.allowed_lateness)}"
    if d.policy.clock_skew_margin:
        text += f"  margin {fmt_duration(d.policy.clock_skew_margin)}"
    text += f"  → {d.verdict.value.upper()}"
    if d.blocking is not None:
        text += f" ({d.blocking.value})"
    if d.commit is not None and d.commit.snapshot_id is not None:
        text += f"  snapshot {d.commit.snapshot_id}"
    return text


def _clock(d: Reported, value: datetime | None) -> str:
    return "unknown" if value is None else fmt_clock(value, d.target)


def _behind(s: StageResult) -> str:
    return (
        ""
        if s.gap_seconds is None or s.gap_seconds <= 0
        else f"  ({fmt_duration(timedelta(seconds=s.gap_seconds))} behind)"
    )


def _checkpoint(checkpoint_id: int | None) -> str:
    return "final commit" if checkpoint_id == FINAL_CHECKPOINT_ID else f"checkpoint {checkpoint_id}"


def _detail(d: Reported, s: StageResult) -> str:
    if s.stage is Stage.CDC:
        text = _cdc(d, s)
    elif s.stage is Stage.KAFKA:
        text = _kafka(d, s)
    elif s.stage is Stage.JOB:
        text = _job(s)
    else:
        text = _commit(s)
    if s.note and s.stage is not Stage.KAFKA:
        text += f"  ({s.note})"
    return text


def _cdc(d: Reported, s: StageResult) -> str:
    needs = f"needs {_clock(d, s.needed)}"
    text = {
        Reason.NOT_CONFIGURED: "no CDC stage declared: Kafka-native, idle timeout "
        f"{fmt_duration(d.policy.idle_timeout)} applies",
        Reason.OK: f"watermark {_clock(d, s.watermark)}  ok",
        Reason.CDC_ASSUMED: f"watermark {_clock(d, s.watermark)}  ok by assumption (quiet source, "
        f"idle timeout {fmt_duration(d.policy.idle_timeout)})",
        Reason.CDC_BEHIND: f"watermark {_clock(d, s.watermark)}  {needs}{_behind(s)}",
        Reason.CDC_NOT_DURABLE: f"watermark {_clock(d, s.watermark)} awaits a checkpoint of the job  {needs}",
        Reason.CDC_UNKNOWN: f"watermark unknown (no lag gauges, or no change emitted yet)  {needs}",
    }[s.reason]
    if s.job_state and s.job_state != "RUNNING":
        text += f"  job {s.job_state}"
    return text


def _kafka(d: Reported, s: StageResult) -> str:
    slowest = d.slowest_partition
    through = f"consumed through {_clock(d, s.watermark)}"
    needs = f"needs {_clock(d, s.needed)}"
    behind = slowest.records_behind if slowest else None
    records = f"  ({behind:,} records behind)" if behind else ""
    if s.status is StageStatus.OK:
        return f"{through}  ok"
    text = {
        Reason.BEHIND: f"{through}  {needs}{records}",
        Reason.NO_COMMITTED_OFFSET: f"no committed offset for group {d.group}  {needs}",
        Reason.BELOW_LOG_START: f"committed offset below the log start  {needs}{records}",
        Reason.IDLE_WAIT: f"caught up, nothing at or after the target yet  waits until {_clock(d, s.needed)} "
        f"(idle timeout {fmt_duration(d.policy.idle_timeout)})",
        Reason.WAITING_FOR_CDC: f"caught up  waits for the cdc watermark to pass {_clock(d, d.target)}",
    }.get(s.reason, f"{through}  {needs}")
    others = len(d.waiting_partitions) - 1
    if others > 0:
        total = f", {s.records_behind:,} records behind in all" if s.records_behind else ""
        text += f"  [+{others} more partition{'s' if others > 1 else ''} waiting{total}]"
    return text


def _job(s: StageResult) -> str:
    checkpoint = "no completed checkpoint yet" if s.checkpoint_id is None else f"checkpoint {s.checkpoint_id}"
    text = f"{s.job_state}  {checkpoint}"
    if s.reason is Reason.JOB_STARTING:
        text += "  (starting)"
    elif s.reason is Reason.JOB_DOWN:
        text += "  (down: failing)" if s.status is StageStatus.FAILED else "  (down: waiting)"
    return text


def _commit(s: StageResult) -> str:
    job = f"job {short_job_id(s.subject or '?')}"
    needs = f"needs ≥ {s.needed_checkpoint_id}"
    if s.reason is Reason.NO_CHECKPOINT:
        return f"{job} has no completed checkpoint yet"
    if s.status is StageStatus.OK:
        if s.stage is Stage.CLICKHOUSE:
            return f"{job} completed checkpoint {s.checkpoint_id} after the offsets held  ok"
        return f"{job} committed {_checkpoint(s.checkpoint_id)}  ≥ {s.needed_checkpoint_id}  ok"
    if s.stage is Stage.CLICKHOUSE and s.reason is Reason.COMMIT_BEHIND:
        return f"{job} latest checkpoint {s.checkpoint_id} was triggered too early"
    return {
        Reason.COMMIT_BEHIND: f"{job} committed {_checkpoint(s.checkpoint_id)}  {needs}",
        Reason.NEW_JOB_NO_COMMIT: f"no commit of {job} yet  {needs}",
        Reason.NO_COMMIT: f"no Flink commit in main's history  {needs}",
    }.get(s.reason, needs)
