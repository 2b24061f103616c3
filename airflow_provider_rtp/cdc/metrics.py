"""The metric watermark of a Flink CDC source, and why one sample is never enough.

Flink CDC's MySQL source updates ``currentFetchEventTimeLag`` and
``currentEmitEventTimeLag`` only when it emits a data change, never on binlog
heartbeats or during the snapshot phase. On a quiet database the gauges keep the
lag of the last change forever: read once, an old value looks like a small lag.
So a watermark needs two samples taken at least one metric refresh apart (Flink's
REST API serves metrics cached for ``metrics.fetcher.update-interval``, 10 s by
default); gauges that did not move while the job kept running are *frozen*, and
a frozen or missing metric means "unknown", never "zero lag".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CdcMetricSample", "MetricWatermark", "MetricWatermarkStatus", "metric_watermark"]

DEFAULT_REFRESH_MS = 10_000  # Flink's metrics.fetcher.update-interval default


@dataclass(frozen=True)
class CdcMetricSample:
    """One reading of the source's gauges (max over subtasks; None: not reported)."""

    at_ms: int  # wall time of the reading
    job_id: str
    job_state: str
    fetch_lag_ms: int | None = None
    emit_lag_ms: int | None = None
    idle_ms: int | None = None


class MetricWatermarkStatus(enum.StrEnum):
    OK = "ok"  # the gauges moved: the watermark holds
    FROZEN = "frozen"  # nothing moved while the job ran: unknown, not zero lag
    UNKNOWN = "unknown"  # not enough to judge (one sample, job not running, no change captured yet)


@dataclass(frozen=True)
class MetricWatermark:
    status: MetricWatermarkStatus
    reason: str
    sample: CdcMetricSample  # keep it: the next call compares against it
    watermark_ms: int | None = None  # every change logged before this time has been emitted

    @property
    def known(self) -> bool:
        return self.status is MetricWatermarkStatus.OK


def metric_watermark(
    previous: CdcMetricSample | None,
    current: CdcMetricSample,
    refresh_ms: int = DEFAULT_REFRESH_MS,
) -> MetricWatermark:
    """Judge ``current`` against ``previous`` (the same job, at least ``refresh_ms`` earlier)."""

    def unknown(reason: str, status: MetricWatermarkStatus = MetricWatermarkStatus.UNKNOWN):
        return MetricWatermark(status, reason, current)

    if current.job_state != "RUNNING":
        return unknown(f"CDC job {current.job_id} is {current.job_state}")
    if current.fetch_lag_ms is None or current.fetch_lag_ms < 0:
        return unknown("the source has emitted no binlog change since it started (or reports no lag)")
    if previous is None:
        return unknown("one sample cannot tell a live lag from a frozen one: sample again later")
    if previous.job_id != current.job_id:
        return unknown(f"the CDC job changed ({previous.job_id} -> {current.job_id}): sample again later")
    elapsed = current.at_ms - previous.at_ms
    if elapsed < refresh_ms:
        return unknown(
            f"samples {elapsed} ms apart; Flink refreshes metrics every {refresh_ms} ms, so they may "
            "show the same cached values"
        )
    lags_moved = (previous.fetch_lag_ms, previous.emit_lag_ms) != (current.fetch_lag_ms, current.emit_lag_ms)
    # sourceIdleTime grows while nothing is processed; a smaller value means a record came through.
    idle_reset = (
        previous.idle_ms is not None and current.idle_ms is not None and current.idle_ms < previous.idle_ms
    )
    if not (lags_moved or idle_reset):
        return unknown(
            f"lag gauges unchanged for {elapsed / 1000:.0f} s while the job runs (fetch lag "
            f"{current.fetch_lag_ms} ms): frozen on a quiet database; install heartbeats for an exact "
            "watermark",
            MetricWatermarkStatus.FROZEN,
        )
    lag = max(current.fetch_lag_ms, current.emit_lag_ms or 0)
    # The reading may be up to one refresh old, and the last record was processed idle_ms before it.
    watermark = current.at_ms - refresh_ms - (current.idle_ms or 0) - lag
    return MetricWatermark(
        MetricWatermarkStatus.OK,
        f"lag {lag} ms, idle {current.idle_ms} ms, metrics at most {refresh_ms} ms old",
        current,
        watermark,
    )
