"""Typed views of what the Flink REST API returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The one job-state enum lives in the completeness core (stdlib only); the REST views use it.
from airflow_provider_rtp.completeness.observations import JobState

__all__ = ["CheckpointStats", "JobState", "JobSummary", "SavepointResult"]


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    name: str
    state: JobState
    start_time_ms: int
    end_time_ms: int | None

    @classmethod
    def from_overview(cls, raw: Mapping[str, Any]) -> JobSummary:
        end = raw.get("end-time", -1)
        return cls(
            job_id=str(raw["jid"]),
            name=str(raw["name"]),
            state=JobState.parse(str(raw["state"])),
            start_time_ms=int(raw.get("start-time", 0)),
            end_time_ms=int(end) if end and int(end) > 0 else None,
        )


@dataclass(frozen=True)
class CheckpointStats:
    """The parts of ``GET /jobs/:id/checkpoints`` the scheduler relies on."""

    completed: int
    failed: int
    in_progress: int
    latest_completed_id: int | None
    latest_completed_trigger_ms: int | None
    latest_completed_path: str | None
    latest_savepoint_path: str | None
    restored_id: int | None
    restored_path: str | None
    restored_is_savepoint: bool | None
    latest_failure: str | None = None
    # The completed checkpoint before the latest, from the recent history (None when not listed).
    previous_completed_trigger_ms: int | None = None

    @classmethod
    def from_rest(cls, raw: Mapping[str, Any]) -> CheckpointStats:
        counts = raw.get("counts") or {}
        latest = raw.get("latest") or {}
        completed = latest.get("completed") or {}
        savepoint = latest.get("savepoint") or {}
        restored = latest.get("restored") or {}
        failed = latest.get("failed") or {}
        return cls(
            completed=int(counts.get("completed", 0)),
            failed=int(counts.get("failed", 0)),
            in_progress=int(counts.get("in_progress", 0)),
            latest_completed_id=int(completed["id"]) if "id" in completed else None,
            latest_completed_trigger_ms=int(completed["trigger_timestamp"])
            if "trigger_timestamp" in completed
            else None,
            latest_completed_path=completed.get("external_path"),
            latest_savepoint_path=savepoint.get("external_path"),
            restored_id=int(restored["id"]) if "id" in restored else None,
            restored_path=restored.get("external_path"),
            restored_is_savepoint=restored.get("is_savepoint"),
            latest_failure=failed.get("failure_message"),
            previous_completed_trigger_ms=_previous_completed_trigger(raw.get("history") or [], completed),
        )


def _previous_completed_trigger(history: list[Any], latest: Mapping[str, Any]) -> int | None:
    """Trigger time of the newest completed checkpoint older than ``latest`` (history: newest first)."""
    if "id" not in latest:
        return None
    older = [
        h
        for h in history
        if isinstance(h, Mapping)
        and h.get("status") == "COMPLETED"
        and not h.get("is_savepoint")
        and int(h.get("id", -1)) < int(latest["id"])
        and "trigger_timestamp" in h
    ]
    return int(max(older, key=lambda h: int(h["id"]))["trigger_timestamp"]) if older else None


@dataclass(frozen=True)
class SavepointResult:
    job_id: str
    location: str
