"""What the lake-freshness page shows, built from plain data; no I/O and no Airflow.

Inputs: the grid of windows (the running one and the last N closed ones), the decisions
persisted for them (the dicts the sensor stores), the windows whose sensor task failed,
and at most one live evaluation (a :class:`~airflow_provider_rtp.evaluation.CheckResult`).
Outputs: one row per window, each stage's watermark and the lag of each hop from the live
decision, completion-delay statistics and the points of the delay chart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness import (
    Decision,
    MalformedRecordError,
    PersistedDecision,
    Reason,
    Stage,
    StageResult,
    Verdict,
    Window,
)
from airflow_provider_rtp.completeness._time import to_iso
from airflow_provider_rtp.evaluation import CheckResult
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "DEFAULT_LIVE_BUDGET",
    "DEFAULT_WINDOW_LENGTH",
    "LIVE_RUNNING",
    "FailedWindow",
    "Live",
    "WindowRow",
    "chart_points",
    "delay_stats",
    "grid_windows",
    "hop_lags",
    "live_view",
    "live_window",
    "parse_live_budget",
    "parse_window_length",
    "pipeline_view",
    "stage_view",
    "window_rows",
]

#: ``[rtp] freshness_window`` when unset: hourly windows, as the sensors' hourly DAGs ask.
DEFAULT_WINDOW_LENGTH = timedelta(hours=1)
#: ``[rtp] freshness_live_budget`` when unset: seconds a request waits for live evaluations.
DEFAULT_LIVE_BUDGET = 0.6
_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: What a window the live evaluation is asking about shows until its first answer.
LIVE_RUNNING = "live evaluation running"


@dataclass(frozen=True)
class FailedWindow:
    """A sensor task instance of the table that ended failed, for one window."""

    dag_id: str
    task_id: str
    run_id: str
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Live:
    """The one live evaluation of a pipeline: its result, or why there is none.

    ``running``: a newer evaluation has not finished within the request's budget; this is the
    previous answer (its age counts from ``evaluated_at``), or, with neither result nor error,
    there is none yet.
    """

    window: Window
    result: CheckResult | None = None
    error: str | None = None
    evaluated_at: datetime | None = None
    running: bool = False


@dataclass(frozen=True)
class WindowRow:
    window: Window
    status: Verdict  # failed here: the sensor task of the window ended failed, no decision since
    source: str  # decision | live | task | none
    running: bool = False
    decided_at: datetime | None = None
    snapshot_id: int | None = None
    checkpoint_id: int | None = None
    job_id: str | None = None
    tag: str | None = None
    blocker: str | None = None
    failed_task: FailedWindow | None = None

    @property
    def delay_seconds(self) -> float | None:
        """From the window's end to its completion (``decided_at - end``)."""
        if self.status is not Verdict.COMPLETE or self.decided_at is None:
            return None
        return (self.decided_at - self.window.end).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        failed = self.failed_task
        return {
            "window": self.window.to_dict(),
            "status": self.status.value,
            "source": self.source,
            "running": self.running,
            "decided_at": to_iso(self.decided_at),
            "delay_seconds": self.delay_seconds,
            "snapshot_id": None if self.snapshot_id is None else str(self.snapshot_id),
            "checkpoint_id": self.checkpoint_id,
            "job_id": self.job_id,
            "tag": self.tag,
            "blocker": self.blocker,
            "failed_task": None
            if failed is None
            else {
                "dag_id": failed.dag_id,
                "task_id": failed.task_id,
                "run_id": failed.run_id,
                "ended_at": to_iso(failed.ended_at),
            },
        }


def parse_window_length(text: str | None) -> timedelta:
    """An ISO-8601 duration of days, hours, minutes and seconds (``PT1H``, ``PT1M``, ``P1D``)."""
    if text is None or not str(text).strip():
        return DEFAULT_WINDOW_LENGTH
    match = _DURATION.fullmatch(str(text).strip().upper())
    if match is None or not any(match.groupdict().values()):
        raise InvalidInputError(
            f"[rtp] freshness_window must be an ISO-8601 duration such as PT1H or PT1M, got {text!r}"
        )
    length = timedelta(**{k: int(v) for k, v in match.groupdict().items() if v})
    if length <= timedelta(0) or timedelta(days=1) % length:
        raise InvalidInputError(
            f"[rtp] freshness_window {text!r} must be positive and divide a day (PT1M, PT15M, PT1H, P1D)"
        )
    return length


def parse_live_budget(text: str | None) -> float:
    """Seconds a request waits for live evaluations: a number of seconds, 0 or more."""
    if text is None or not str(text).strip():
        return DEFAULT_LIVE_BUDGET
    try:
        budget = float(str(text).strip())
    except ValueError:
        budget = math.nan
    if not math.isfinite(budget) or budget < 0:
        raise InvalidInputError(
            f"[rtp] freshness_live_budget must be a number of seconds, 0 or more (0.8), got {text!r}"
        )
    return budget


def grid_windows(now: datetime, length: timedelta, count: int) -> list[Window]:
    """The running window (``start <= now < end``) first, then ``count`` closed ones, newest first.

    Windows are aligned on the epoch, as data-interval timetables align hours and minutes.
    """
    if count < 0:
        raise InvalidInputError(f"the number of windows must not be negative, got {count}")
    step = length.total_seconds()
    start = _EPOCH + timedelta(seconds=math.floor((now - _EPOCH).total_seconds() / step) * step)
    return [Window(start - i * length, start - (i - 1) * length) for i in range(count + 1)]


def live_window(windows: Sequence[Window], records: Mapping[Window, Any]) -> Window:
    """The window the live evaluation asks about: the newest closed window no stored decision
    answers (what a sensor waits for now), else the running one (``windows[0]``)."""
    if len(windows) > 1 and _complete_record(windows[1], records.get(windows[1])) is None:
        return windows[1]
    return windows[0]


def _complete_record(window: Window, raw: Any) -> PersistedDecision | None:
    if raw is None:
        return None
    try:
        record = PersistedDecision.from_dict(raw)
    except (MalformedRecordError, ValueError, TypeError):
        return None  # a damaged record proves nothing; the window shows as not decided
    return record if record.window == window else None


def window_rows(
    windows: Sequence[Window],
    records: Mapping[Window, Any],
    *,
    failed: Mapping[Window, FailedWindow] | None = None,
    tags: Mapping[Window, str] | None = None,
    live: Live | None = None,
) -> list[WindowRow]:
    """One row per window, in the order given (``windows[0]`` is the running window).

    A stored decision wins; then a complete live answer; then a failed sensor task; then the
    live answer's wait; a window nothing speaks for is waiting.
    """
    failed = failed or {}
    tags = tags or {}
    rows = []
    for i, window in enumerate(windows):
        running = i == 0
        record = _complete_record(window, records.get(window))
        result = live.result if live is not None and live.window == window else None
        if record is not None:
            row = WindowRow(
                window,
                Verdict.COMPLETE,
                "decision",
                running,
                decided_at=record.decided_at,
                snapshot_id=record.snapshot_id,
                checkpoint_id=record.commit.checkpoint_id,
                job_id=record.commit.job_id,
                tag=tags.get(window),
            )
        elif result is not None and result.complete and result.record is not None:
            row = WindowRow(
                window,
                Verdict.COMPLETE,
                "live",
                running,
                decided_at=result.record.decided_at,
                snapshot_id=result.snapshot_id,
                checkpoint_id=result.record.commit.checkpoint_id,
                job_id=result.record.commit.job_id,
                tag=tags.get(window),
            )
        elif window in failed:
            blocker = result.blocker if result is not None else None
            row = WindowRow(
                window, Verdict.FAILED, "task", running, blocker=blocker, failed_task=failed[window]
            )
        elif result is not None:
            status = Verdict.FAILED if result.verdict is Verdict.FAILED else Verdict.WAITING
            row = WindowRow(window, status, "live", running, blocker=result.blocker)
        else:
            blocker = None
            if live is not None and live.window == window:
                blocker = live.error or (LIVE_RUNNING if live.running else None)
            row = WindowRow(window, Verdict.WAITING, "none", running, blocker=blocker)
        rows.append(row)
    return rows


def _decided_delay(row: WindowRow) -> float | None:
    """A stored decision's delay; a live answer's is only when it was looked at, not measured."""
    return row.delay_seconds if row.source == "decision" else None


def delay_stats(rows: Sequence[WindowRow]) -> dict[str, Any]:
    """Completion delays of the windows stored as decided: count, min, p50, p95, max, mean (s)."""
    delays = sorted(d for r in rows if (d := _decided_delay(r)) is not None)
    if not delays:
        return {"count": 0, "min": None, "p50": None, "p95": None, "max": None, "mean": None}
    return {
        "count": len(delays),
        "min": delays[0],
        "p50": _quantile(delays, 0.5),
        "p95": _quantile(delays, 0.95),
        "max": delays[-1],
        "mean": sum(delays) / len(delays),
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def chart_points(rows: Sequence[WindowRow]) -> list[dict[str, Any]]:
    """The delay chart's points, oldest window first: ``{end, delay_seconds}`` of decided windows."""
    return [
        {"end": to_iso(r.window.end), "delay_seconds": d}
        for r in reversed(rows)
        if (d := _decided_delay(r)) is not None
    ]


def stage_view(decision: Decision, report: str) -> list[dict[str, Any]]:
    """Each stage's standing from the live decision, with its line of the report."""
    lines = {line.strip().split(" ", 1)[0]: line.strip() for line in report.splitlines()[1:]}
    return [
        {
            "stage": s.stage.value,
            "name": s.name,
            "status": s.status.value,
            "reason": s.reason.value,
            "watermark": to_iso(s.watermark),
            "needed": to_iso(s.needed),
            "behind_seconds": s.gap_seconds,
            "records_behind": s.records_behind,
            "checkpoint_id": s.checkpoint_id,
            "needed_checkpoint_id": s.needed_checkpoint_id,
            "job_state": s.job_state,
            "subject": s.subject,
            "line": lines.get(s.stage.value),
        }
        for s in decision.stages
    ]


def hop_lags(decision: Decision) -> list[dict[str, Any]]:
    """How far each hop of CDC -> Kafka -> Flink -> lake trails the one before it.

    source -> cdc: the evaluation time minus the CDC watermark; cdc -> kafka: the CDC watermark
    minus the time the ingestion job's group has consumed through (both in seconds);
    flink -> commit: the job's latest checkpoint minus the one the table has committed (checkpoints).
    A hop whose two ends are not both known has ``None``.
    """
    cdc, kafka, job = decision.stage(Stage.CDC), decision.stage(Stage.KAFKA), decision.stage(Stage.JOB)
    commit = decision.stage(Stage.ICEBERG) or decision.stage(Stage.CLICKHOUSE)
    cdc_wm = _watermark(cdc)
    kafka_wm = _watermark(kafka)
    return [
        {
            "hop": "source -> cdc",
            "lag_seconds": None
            if cdc_wm is None
            else max(0.0, (decision.decided_at - cdc_wm).total_seconds()),
        },
        {
            "hop": "cdc -> kafka",
            # A caught-up group counts as consumed through the evaluation time: no lag, not a negative one.
            "lag_seconds": None
            if cdc_wm is None or kafka_wm is None
            else max(0.0, (cdc_wm - kafka_wm).total_seconds()),
        },
        {
            "hop": f"flink -> {commit.stage.value if commit else 'commit'}",
            "lag_checkpoints": None
            if job is None or commit is None or job.checkpoint_id is None or commit.checkpoint_id is None
            else max(0, job.checkpoint_id - commit.checkpoint_id),
        },
    ]


def _watermark(stage: StageResult | None) -> datetime | None:
    if stage is None or stage.reason is Reason.NOT_CONFIGURED:
        return None
    return stage.watermark


def live_view(live: Live | None, now: datetime | None = None) -> dict[str, Any] | None:
    """The live evaluation as the page shows it: verdict, blocker, report, stages and hops, and
    whether a newer one is still running, with the age of this one at ``now``."""
    if live is None:
        return None
    age = None
    if live.evaluated_at is not None and now is not None:
        age = max(0.0, (now - live.evaluated_at).total_seconds())
    out: dict[str, Any] = {
        "window": live.window.to_dict(),
        "evaluated_at": to_iso(live.evaluated_at),
        "age_seconds": age,
        "running": live.running,
        "error": live.error,
        "verdict": None,
        "blocker": None,
        "report": None,
        "advice": [],
        "stages": [],
        "hops": [],
    }
    result = live.result
    if result is None:
        return out
    out.update(verdict=result.verdict.value, blocker=result.blocker, report=result.report)
    if result.decision is not None:
        out["stages"] = stage_view(result.decision, result.report)
        out["hops"] = hop_lags(result.decision)
        out["advice"] = [a.message for a in result.decision.advice]
    return out


def pipeline_view(
    table: str,
    windows: Sequence[Window],
    records: Mapping[Window, Any],
    *,
    failed: Mapping[Window, FailedWindow] | None = None,
    tags: Mapping[Window, str] | None = None,
    live: Live | None = None,
    links: Mapping[str, str | None] | None = None,
    failed_known: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything the page shows of one pipeline, JSON-able (``now``: when, for the live answer's age)."""
    rows = window_rows(windows, records, failed=failed, tags=tags, live=live)
    return {
        "table": table,
        "current": rows[0].to_dict() if rows else None,
        "windows": [r.to_dict() for r in rows],
        "live": live_view(live, now),
        "delay": delay_stats(rows),
        "chart": chart_points(rows),
        "links": dict(links or {}),
        "failed_windows_known": failed_known,
    }
