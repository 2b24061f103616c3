"""When a window is overdue: its deadline is ``window end + policy.deadline``.

A deadline is an alert, never a verdict: a window past its deadline is still
waited for (the sensor's ``timeout`` ends the wait). The report of a window that
is not complete states where it stands (``deadline 11:30:00 in 4m`` or
``deadline 11:30:00 missed by 2m``), and the sensor calls its ``on_deadline_missed``
callbacks once per window when it is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness._time import fmt_clock, fmt_duration, parse_utc, require_utc, to_iso
from airflow_provider_rtp.completeness.errors import MalformedRecordError
from airflow_provider_rtp.completeness.models import Policy, Window

__all__ = ["DeadlineStatus", "deadline_status"]


@dataclass(frozen=True)
class DeadlineStatus:
    """Where one window stands against its deadline at one moment."""

    window: Window
    deadline: datetime
    now: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "deadline", require_utc(self.deadline, "deadline"))
        object.__setattr__(self, "now", require_utc(self.now, "now"))

    @property
    def missed(self) -> bool:
        return self.now >= self.deadline

    @property
    def missed_by(self) -> timedelta:
        """How long ago the deadline passed; zero while it has not."""
        return max(self.now - self.deadline, timedelta(0))

    @property
    def remaining(self) -> timedelta:
        """How long until the deadline; zero once it passed."""
        return max(self.deadline - self.now, timedelta(0))

    def line(self) -> str:
        """``deadline 11:30:00 missed by 2m`` or ``deadline 11:30:00 in 4m`` (times as in the report)."""
        at = fmt_clock(self.deadline, self.window.end)
        if self.missed:
            return f"deadline {at} missed by {fmt_duration(_whole_seconds(self.missed_by))}"
        return f"deadline {at} in {fmt_duration(_whole_seconds(self.remaining))}"

    def to_dict(self) -> dict[str, Any]:
        """For callbacks and trigger events: the window, the deadline and how late it is."""
        return {
            "window": self.window.to_dict(),
            "deadline": to_iso(self.deadline),
            "checked_at": to_iso(self.now),
            "missed": self.missed,
            "missed_by_seconds": self.missed_by.total_seconds(),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> DeadlineStatus:
        if not isinstance(raw, dict):
            raise MalformedRecordError(f"a deadline status must be a mapping, got {raw!r}")
        deadline = parse_utc(raw.get("deadline"), "deadline")
        now = parse_utc(raw.get("checked_at"), "checked_at")
        if deadline is None or now is None:
            raise MalformedRecordError(f"a deadline status needs 'deadline' and 'checked_at', got {raw!r}")
        return cls(Window.from_dict(raw.get("window")), deadline, now)


def _whole_seconds(value: timedelta) -> timedelta:
    return timedelta(seconds=int(value.total_seconds()))


def deadline_status(window: Window, policy: Policy, now: datetime) -> DeadlineStatus | None:
    """The window's standing against ``end + policy.deadline``; ``None`` when no deadline is set."""
    if policy.deadline is None:
        return None
    return DeadlineStatus(window, window.end + policy.deadline, now)
