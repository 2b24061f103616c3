"""Measure consumer-group lag and CDC heartbeat watermarks, write them to the owning InfluxDB shard.

The measurement schema is documented in docs/monitoring.md; the names below are
the single source the dashboards and that document follow. Every point of one
pipeline carries the series key ``pipeline`` and goes to the shard the ring
assigns that key, so one shard holds everything about a pipeline.

A value that is not known is left out of the point, never written as 0: a
partition without a committed offset has no ``offset_lag``, a group with such
a partition has no ``consumed_through_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.kafka.models import GroupLag, PartitionStatus
from airflow_provider_rtp.monitoring.influx import ShardedInfluxClient, ShardWriteError
from airflow_provider_rtp.monitoring.line_protocol import Point

__all__ = [
    "CDC_WATERMARK",
    "COMPLETENESS",
    "GROUP_LAG",
    "MEASUREMENTS",
    "PARTITION_LAG",
    "LagExporter",
    "LagTarget",
    "RoundResult",
    "completeness_point",
    "group_points",
    "watermark_point",
]

PARTITION_LAG = "rtp_kafka_partition_lag"
GROUP_LAG = "rtp_kafka_group_lag"
CDC_WATERMARK = "rtp_cdc_watermark"
COMPLETENESS = "rtp_completeness"
MEASUREMENTS = (PARTITION_LAG, GROUP_LAG, CDC_WATERMARK, COMPLETENESS)


@dataclass(frozen=True)
class LagTarget:
    """One pipeline to watch. ``name`` is the series key: it picks the shard and tags every point."""

    name: str
    group: str
    topics: tuple[str, ...]
    heartbeat_topic: str | None = None
    cdc_job: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.group or not self.topics:
            raise InvalidInputError(f"lag target needs a name, a group and topics, got {self!r}")


class LagSource(Protocol):
    """What the exporter needs of ``KafkaLagReader``."""

    def group_lag(self, group: str, topics: Sequence[str], now_ms: int | None = None) -> GroupLag: ...

    def newest_committed_timestamp(self, topic: str, tail: int = 20) -> int | None: ...


def group_points(target: LagTarget, lag: GroupLag) -> list[Point]:
    """One point per partition and one for the group, stamped with the measurement time (ms)."""
    base = {"pipeline": target.name, "group": target.group}
    points = []
    for p in lag.partitions:
        points.append(
            Point(
                PARTITION_LAG,
                {
                    "status": str(p.status),
                    "log_start_offset": p.log_start,
                    "end_offset": p.end,
                    "committed_offset": p.committed,
                    "offset_lag": p.offset_lag,
                    "first_unconsumed_offset": p.first_unconsumed_offset,
                    "consumed_through_ms": p.consumed_through_ms,
                    "time_lag_ms": p.time_lag_ms,
                    "retention_gap": p.retention_gap,
                    "went_backwards": p.went_backwards,
                },
                {**base, "topic": p.topic, "partition": str(p.partition)},
                time=lag.measured_at_ms,
            )
        )
    count = {s: sum(1 for p in lag.partitions if p.status is s) for s in PartitionStatus}
    slowest = lag.slowest
    through = lag.consumed_through_ms
    points.append(
        Point(
            GROUP_LAG,
            {
                "group_state": lag.group_state,
                "partitions": len(lag.partitions),
                "lagging_partitions": count[PartitionStatus.LAGGING],
                "no_commit_partitions": count[PartitionStatus.NO_COMMIT],
                "unknown_partitions": count[PartitionStatus.UNKNOWN],
                "total_offset_lag": lag.total_offset_lag,
                "slowest_topic": slowest.topic if slowest else None,
                "slowest_partition": slowest.partition if slowest else None,
                "slowest_status": str(slowest.status) if slowest else None,
                "consumed_through_ms": through,
                "slowest_time_lag_ms": None if through is None else max(0, lag.measured_at_ms - through),
            },
            base,
            time=lag.measured_at_ms,
        )
    )
    return points


def watermark_point(target: LagTarget, topic: str, watermark_ms: int | None, now_ms: int) -> Point:
    """The CDC heartbeat watermark: the newest committed heartbeat's timestamp."""
    tags = {"pipeline": target.name, "topic": topic, "cdc_job": target.cdc_job or ""}
    known = watermark_ms is not None
    return Point(
        CDC_WATERMARK,
        {
            "known": known,
            "watermark_ms": watermark_ms,
            "lag_ms": max(0, now_ms - watermark_ms) if watermark_ms is not None else None,
        },
        tags,
        time=now_ms,
    )


def completeness_point(
    pipeline: str,
    *,
    window_start_ms: int,
    window_end_ms: int,
    complete: bool,
    watermark_ms: int | None,
    waiting_on: str | None,
    decided_at_ms: int,
) -> Point:
    """One completeness decision, stamped with the window's start: a later decision about the
    same window overwrites the earlier one, so each window is one point holding its latest state."""
    return Point(
        COMPLETENESS,
        {
            "window_end_ms": window_end_ms,
            "complete": complete,
            "watermark_ms": watermark_ms,
            "waiting_on": waiting_on or None,
            "decided_at_ms": decided_at_ms,
        },
        {"pipeline": pipeline},
        time=window_start_ms,
    )


@dataclass
class RoundResult:
    """One measuring round: points written per pipeline, owning shards, and what failed."""

    measured_at_ms: int
    points: dict[str, int] = field(default_factory=dict)
    shards: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        out = []
        for name in sorted(set(self.summaries) | set(self.errors)):
            if name in self.errors:
                out.append(f"{name}: FAILED {self.errors[name]}")
            else:
                out.append(f"{name} -> {self.shards[name]}: {self.summaries[name]}")
        return out


class LagExporter:
    """Measures every target with one lag reader and writes the points to the owning shards.

    Keep one exporter across rounds: the reader remembers committed offsets, so
    an offset reset between two rounds shows as ``went_backwards``.
    """

    def __init__(self, reader: LagSource, store: ShardedInfluxClient, targets: Iterable[LagTarget]) -> None:
        self.reader = reader
        self.store = store
        self.targets = list(targets)
        if not self.targets:
            raise InvalidInputError("nothing to export: no pipelines or groups configured")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"pipeline names must be unique, got {names}")

    def measure(self, target: LagTarget, now_ms: int) -> tuple[list[Point], str]:
        lag = self.reader.group_lag(target.group, target.topics, now_ms=now_ms)
        points = group_points(target, lag)
        slowest = lag.slowest
        if slowest is None:
            summary = "no partitions"
        elif lag.consumed_through_ms is None:
            summary = f"slowest {slowest.topic}[{slowest.partition}] {slowest.status}"
        else:
            summary = (
                f"slowest {slowest.topic}[{slowest.partition}] time lag "
                f"{(now_ms - lag.consumed_through_ms) / 1000:.1f}s"
            )
        summary += f", offset lag {lag.total_offset_lag}"
        if target.heartbeat_topic:
            watermark = self.reader.newest_committed_timestamp(target.heartbeat_topic)
            points.append(watermark_point(target, target.heartbeat_topic, watermark, now_ms))
            summary += (
                ", cdc watermark unknown (no heartbeat)"
                if watermark is None
                else f", cdc watermark lag {(now_ms - watermark) / 1000:.1f}s"
            )
        return points, summary

    def run_once(self, now_ms: int | None = None) -> RoundResult:
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        result = RoundResult(measured_at_ms=now_ms)
        batch: dict[str, list[Point]] = {}
        for target in self.targets:
            try:
                batch[target.name], result.summaries[target.name] = self.measure(target, now_ms)
            except Exception as exc:  # one bad pipeline must not stop the others' metrics
                result.errors[target.name] = f"measuring failed: {exc}"
        for name in batch:
            result.shards[name] = self.store.owner(name).name
        try:
            self.store.write_many(batch, precision="ms")  # every time here is in ms
        except ShardWriteError as exc:
            for failure in exc.failures:
                for key in failure.keys:
                    result.errors[key] = (
                        f"shard {failure.shard} ({failure.url}) write failed: {failure.error}"
                    )
        for name, points in batch.items():
            if name not in result.errors:
                result.points[name] = len(points)
        for name in result.errors:
            result.summaries.pop(name, None)
        return result


def targets_from_pipelines(pipelines: Mapping[str, object], names: Sequence[str] = ()) -> list[LagTarget]:
    """Targets from ``load_pipelines`` output; ``names`` picks some (all when empty)."""
    unknown = set(names) - set(pipelines)
    if unknown:
        raise InvalidInputError(f"unknown pipelines {sorted(unknown)}; declared: {sorted(pipelines)}")
    out = []
    for name, p in pipelines.items():
        if names and name not in names:
            continue
        out.append(
            LagTarget(
                name=name,
                group=p.group,  # type: ignore[attr-defined]
                topics=tuple(p.topics),  # type: ignore[attr-defined]
                heartbeat_topic=p.heartbeat_topic,  # type: ignore[attr-defined]
                cdc_job=p.cdc_job,  # type: ignore[attr-defined]
            )
        )
    return out
