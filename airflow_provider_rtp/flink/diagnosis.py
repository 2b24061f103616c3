"""Per-vertex load of a running job -> a suggested parallelism with its reason. Pure: plain data in and out.

Flink measures, per subtask and second, the milliseconds spent busy, backpressured (waiting
for an output buffer) and idle (waiting for input); the three add up to about 1000. The
rules:

- a vertex busy on average at or above ``busy_high`` is a bottleneck: scale it so the average
  busy ratio lands at ``target_busy`` (proportionally), capped at its max parallelism;
- a vertex whose hottest subtask is busy but whose average is not is skewed: more subtasks do
  not help, the hot key stays on one of them;
- a backpressured vertex is not the bottleneck: it waits for a busy vertex downstream, which
  the reason names;
- a vertex busy below ``idle_low`` (and not backpressured) gives back subtasks.

The job's suggestion is the largest vertex suggestion, since a job is submitted with one
default parallelism.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["JobDiagnosis", "Thresholds", "VertexAdvice", "VertexLoad", "diagnose", "vertex_load"]


@dataclass(frozen=True)
class VertexLoad:
    """Ratios in [0, 1] over the vertex's subtasks; ``None`` when Flink has no value yet."""

    vertex_id: str
    name: str
    parallelism: int
    max_parallelism: int
    busy_avg: float | None
    busy_max: float | None
    backpressured_max: float | None
    backpressure_level: str | None = None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    busy_high: float = 0.8
    idle_low: float = 0.2
    target_busy: float = 0.6
    backpressured_high: float = 0.5

    def __post_init__(self) -> None:
        for name in ("busy_high", "idle_low", "target_busy", "backpressured_high"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise InvalidInputError(f"{name} must be between 0 and 1 (exclusive), got {value}")
        if not self.idle_low < self.target_busy < self.busy_high:
            raise InvalidInputError(
                f"need idle_low < target_busy < busy_high, got {self.idle_low}, "
                f"{self.target_busy}, {self.busy_high}"
            )


@dataclass(frozen=True)
class VertexAdvice:
    vertex_id: str
    name: str
    parallelism: int
    suggested_parallelism: int
    busy_avg: float | None
    busy_max: float | None
    backpressured_max: float | None
    backpressure_level: str | None
    reason: str


@dataclass(frozen=True)
class JobDiagnosis:
    job_id: str
    job_name: str
    parallelism: int
    suggested_parallelism: int
    reason: str
    bottleneck: str | None
    vertices: list[VertexAdvice] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(ms_per_second: Any) -> float | None:
    """Flink reports NaN until a subtask has been measured."""
    if ms_per_second is None:
        return None
    value = float(ms_per_second)
    if math.isnan(value):
        return None
    return min(max(value / 1000.0, 0.0), 1.0)


def vertex_load(
    vertex: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, Any]],
    *,
    inputs: Sequence[str] = (),
    backpressure: Mapping[str, Any] | None = None,
) -> VertexLoad:
    """Build one vertex's load from the REST answers.

    :param vertex: an entry of ``GET /jobs/:id`` ``vertices``.
    :param metrics: ``GET .../subtasks/metrics?agg=min,max,avg,sum`` keyed by metric id.
    :param inputs: ids of the vertices feeding this one (from the job plan).
    :param backpressure: ``GET .../backpressure``, if it was sampled.
    """
    busy = metrics.get("busyTimeMsPerSecond") or {}
    pressured = metrics.get("backPressuredTimeMsPerSecond") or {}
    level = None
    if backpressure and backpressure.get("status") == "ok":
        level = backpressure.get("backpressure-level") or backpressure.get("backpressureLevel")
    parallelism = int(vertex.get("parallelism", 1))
    return VertexLoad(
        vertex_id=str(vertex["id"]),
        name=str(vertex.get("name", vertex["id"])),
        parallelism=parallelism,
        max_parallelism=int(vertex.get("maxParallelism") or parallelism),
        busy_avg=_ratio(busy.get("avg")),
        busy_max=_ratio(busy.get("max")),
        backpressured_max=_ratio(pressured.get("max")),
        backpressure_level=level,
        inputs=tuple(inputs),
    )


def _pct(ratio: float) -> str:
    return f"{ratio:.0%}"


def _busy_downstream(vertex: VertexLoad, loads: Sequence[VertexLoad], t: Thresholds) -> list[VertexLoad]:
    """The first busy vertices found walking downstream from ``vertex`` (breadth first)."""
    consumers: dict[str, list[VertexLoad]] = {}
    for v in loads:
        for source in v.inputs:
            consumers.setdefault(source, []).append(v)
    frontier, seen = consumers.get(vertex.vertex_id, []), {vertex.vertex_id}
    while frontier:
        busy = [v for v in frontier if (v.busy_max or 0) >= t.busy_high]
        if busy:
            return busy
        seen.update(v.vertex_id for v in frontier)
        frontier = [c for v in frontier for c in consumers.get(v.vertex_id, []) if c.vertex_id not in seen]
    return []


def _advise(v: VertexLoad, loads: Sequence[VertexLoad], t: Thresholds) -> tuple[int, str]:
    p = v.parallelism
    if v.busy_avg is None or v.busy_max is None:
        return p, "no busy-time metrics yet (the job just started, or the vertex does not report them)"
    pressured = v.backpressured_max or 0.0
    if v.busy_avg >= t.busy_high:
        wanted = max(p + 1, math.ceil(p * v.busy_avg / t.target_busy))
        suggested = min(wanted, v.max_parallelism)
        if suggested <= p:
            return p, f"busy {_pct(v.busy_avg)} but already at its max parallelism {v.max_parallelism}"
        capped = f" (capped at max parallelism {v.max_parallelism})" if suggested < wanted else ""
        return suggested, (
            f"bottleneck: busy {_pct(v.busy_avg)} on average; {suggested} subtasks bring it to about "
            f"{_pct(t.target_busy)}{capped}"
        )
    if v.busy_max >= t.busy_high:
        return p, (
            f"skewed: one subtask busy {_pct(v.busy_max)} while the average is {_pct(v.busy_avg)}; "
            "more subtasks would not relieve the hot key"
        )
    if pressured >= t.backpressured_high:
        culprits = _busy_downstream(v, loads, t)
        named = ", ".join(repr(c.name) for c in culprits) or "a vertex downstream"
        return p, f"backpressured {_pct(pressured)} of the time by {named}: not the bottleneck"
    if v.busy_avg < t.idle_low and p > 1:
        suggested = max(1, math.ceil(p * v.busy_avg / t.target_busy))
        return suggested, f"mostly idle: busy {_pct(v.busy_avg)}; {suggested} subtask(s) suffice"
    return p, f"busy {_pct(v.busy_avg)}: within range"


def diagnose(
    job_id: str, job_name: str, loads: Sequence[VertexLoad], thresholds: Thresholds | None = None
) -> JobDiagnosis:
    t = thresholds or Thresholds()
    if not loads:
        raise InvalidInputError(f"job {job_name!r} ({job_id}) has no vertices to diagnose")
    advice = []
    for v in loads:
        suggested, reason = _advise(v, loads, t)
        advice.append(
            VertexAdvice(
                vertex_id=v.vertex_id,
                name=v.name,
                parallelism=v.parallelism,
                suggested_parallelism=suggested,
                busy_avg=v.busy_avg,
                busy_max=v.busy_max,
                backpressured_max=v.backpressured_max,
                backpressure_level=v.backpressure_level,
                reason=reason,
            )
        )
    current = max(v.parallelism for v in loads)
    suggested = max(a.suggested_parallelism for a in advice)
    ups = [a for a in advice if a.suggested_parallelism > a.parallelism]
    bottleneck = max(ups, key=lambda a: a.busy_avg or 0.0) if ups else None
    if bottleneck is not None:
        reason = f"{bottleneck.name!r} is the bottleneck: {bottleneck.reason}"
    elif suggested < current:
        reason = "every vertex is mostly idle or backpressured: fewer subtasks suffice"
    else:
        reason = "no vertex needs another parallelism"
    return JobDiagnosis(
        job_id=job_id,
        job_name=job_name,
        parallelism=current,
        suggested_parallelism=suggested,
        reason=reason,
        bottleneck=bottleneck.name if bottleneck else None,
        vertices=advice,
    )
