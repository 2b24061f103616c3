"""Where a stopped job can resume from: the savepoints and retained checkpoints Flink recorded for it.

The JobManager keeps terminated jobs, with their checkpoint statistics, in its job store
(``jobstore.expiration-time``, one hour by default) while it runs. For every such job of
one name, the latest savepoint and the latest completed checkpoint are candidates unless
Flink marks them ``discarded`` (a checkpoint of a FINISHED job, or of a cancelled job whose
retention is ``DELETE_ON_CANCELLATION``, is deleted). Older ones are not looked at, and a
restarted JobManager forgets its terminated jobs: then pass the path explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["RestorePoint", "newest_restore_point", "restore_points"]


@dataclass(frozen=True)
class RestorePoint:
    path: str
    kind: Literal["savepoint", "checkpoint"]
    checkpoint_id: int
    job_id: str
    trigger_ms: int


def restore_points(job_id: str, checkpoints: Mapping[str, Any]) -> list[RestorePoint]:
    """The usable restore points in one job's ``GET /jobs/:id/checkpoints`` answer."""
    latest = checkpoints.get("latest") or {}
    points = []
    for key, kind in (("savepoint", "savepoint"), ("completed", "checkpoint")):
        entry = latest.get(key) or {}
        path = entry.get("external_path")
        # Flink writes placeholders like "<checkpoint-not-externally-addressable>" for non-paths.
        if not path or str(path).startswith("<") or entry.get("discarded"):
            continue
        points.append(
            RestorePoint(
                path=str(path),
                kind=kind,  # type: ignore[arg-type]
                checkpoint_id=int(entry.get("id", -1)),
                job_id=job_id,
                trigger_ms=int(entry.get("trigger_timestamp", 0)),
            )
        )
    return points


def newest_restore_point(points: Iterable[RestorePoint]) -> RestorePoint | None:
    """The newest by trigger time; on a tie a savepoint wins (it is owned by the user, never deleted)."""
    return max(points, key=lambda p: (p.trigger_ms, p.kind == "savepoint"), default=None)
