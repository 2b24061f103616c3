"""How to bring a running job to a new parallelism. Pure: plain data in and out.

Only the adaptive scheduler changes a running job's parallelism in place (``PUT
/jobs/:id/resource-requirements``, Flink 1.18+); under the default scheduler the job is
stopped with a savepoint and submitted again with the new parallelism.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "RescalePlan",
    "plan_rescale",
    "requirements_body",
    "scheduler_of",
]

Method = Literal["adaptive", "savepoint", "none"]


def scheduler_of(config: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> str:
    """The ``jobmanager.scheduler`` of a ``/jobmanager/config`` answer (a key/value list)."""
    if isinstance(config, Mapping):
        value = config.get("jobmanager.scheduler")
    else:
        value = next((e.get("value") for e in config if e.get("key") == "jobmanager.scheduler"), None)
    return str(value or "default").strip().lower()


@dataclass(frozen=True)
class RescalePlan:
    method: Method
    targets: dict[str, int]  # vertex id -> wanted parallelism
    reason: str


def plan_rescale(scheduler: str, vertices: Sequence[Mapping[str, Any]], parallelism: int) -> RescalePlan:
    """Targets per vertex (never above its max parallelism) and the way to reach them.

    :param vertices: the ``vertices`` of ``GET /jobs/:id`` (id, name, parallelism, maxParallelism).
    """
    if parallelism < 1:
        raise InvalidInputError(f"parallelism must be >= 1, got {parallelism}")
    if not vertices:
        raise InvalidInputError("the job has no vertices")
    targets = {str(v["id"]): min(parallelism, int(v.get("maxParallelism") or parallelism)) for v in vertices}
    current = {str(v["id"]): int(v["parallelism"]) for v in vertices}
    if targets == current:
        return RescalePlan("none", targets, f"every vertex already runs at parallelism {parallelism}")
    if scheduler == "adaptive":
        return RescalePlan("adaptive", targets, "adaptive scheduler: new resource requirements, no restart")
    return RescalePlan(
        "savepoint",
        targets,
        f"{scheduler} scheduler cannot rescale in place: stop with savepoint, resubmit with the new "
        "parallelism",
    )


def requirements_body(
    targets: Mapping[str, int], current: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The body of ``PUT /jobs/:id/resource-requirements``: upper bound = target, lower bound kept below it.

    :param current: the ``GET`` answer: vertex id -> ``{"parallelism": {"lowerBound", "upperBound"}}``.
    """
    unknown = sorted(set(targets) - set(current))
    if unknown:
        raise InvalidInputError(f"vertices {unknown} are not in the job's resource requirements")
    body = {}
    for vertex_id, entry in current.items():
        bounds = entry.get("parallelism") or {}
        upper = targets.get(vertex_id, int(bounds.get("upperBound", 1)))
        lower = min(int(bounds.get("lowerBound", 1)), upper)
        body[vertex_id] = {"parallelism": {"lowerBound": lower, "upperBound": upper}}
    return body
