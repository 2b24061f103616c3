"""The question asked (a window) and the rules it is answered under (a policy)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness._time import ceil_epoch_ms, parse_utc, require_utc, to_iso
from airflow_provider_rtp.completeness.errors import (
    InvalidPolicyError,
    InvalidWindowError,
    MalformedRecordError,
)

__all__ = [
    "DEFAULT_CLOCK_SKEW_MARGIN",
    "DEFAULT_FUTURE_WINDOW_LIMIT",
    "DEFAULT_IDLE_TIMEOUT",
    "JobDownBehaviour",
    "Policy",
    "Window",
]

#: Producers without CDC are assumed to deliver a record within this time of its timestamp.
DEFAULT_IDLE_TIMEOUT = timedelta(minutes=5)
#: Added to ``end + lateness`` so that a record stamped by a host whose clock runs a little
#: behind is still waited for.
DEFAULT_CLOCK_SKEW_MARGIN = timedelta(seconds=5)
#: A window ending further than this after "now" is refused as a likely mistake (wrong year,
#: seconds passed as milliseconds).
DEFAULT_FUTURE_WINDOW_LIMIT = timedelta(days=1)


class JobDownBehaviour(enum.StrEnum):
    """What a down job (FAILED, CANCELED, RESTARTING, …) means for the verdict."""

    WAIT = "wait"  # keep waiting; someone may restart the job
    FAIL = "fail"  # give a FAILED verdict so the DAG stops early


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` of event time asked about, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = require_utc(self.start, "window start")
        end = require_utc(self.end, "window end")
        if end <= start:
            raise InvalidWindowError(
                f"window end {to_iso(end)} is not after its start {to_iso(start)}; "
                "windows are half-open [start, end) and must not be empty"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def target(self, policy: Policy) -> datetime:
        """``end + allowed lateness + clock-skew margin``: every record stamped before it must be in."""
        return self.end + policy.allowed_lateness + policy.clock_skew_margin

    def target_ms(self, policy: Policy) -> int:
        """The target as the epoch milliseconds to pass to ``offsets_for_times`` (rounded up)."""
        return ceil_epoch_ms(self.target(policy))

    def label(self) -> str:
        """``2026-11-24T10:00Z..11:00Z``; the end repeats the date only if it differs."""
        start = _short_iso(self.start, with_date=True)
        end = _short_iso(self.end, with_date=self.end.date() != self.start.date())
        return f"{start}..{end}"

    def to_dict(self) -> dict[str, Any]:
        return {"start": to_iso(self.start), "end": to_iso(self.end)}

    @classmethod
    def from_dict(cls, raw: Any) -> Window:
        if not isinstance(raw, dict) or "start" not in raw or "end" not in raw:
            raise MalformedRecordError(f"a window needs 'start' and 'end', got {raw!r}")
        start = parse_utc(raw["start"], "window start")
        end = parse_utc(raw["end"], "window end")
        assert start is not None and end is not None  # both keys present and parsed
        return cls(start, end)


def _short_iso(value: datetime, *, with_date: bool) -> str:
    fmt = "%H:%M" if value.second == 0 and value.microsecond == 0 else "%H:%M:%S"
    text = value.astimezone(UTC).strftime(fmt)
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return (value.strftime("%Y-%m-%dT") if with_date else "") + text + "Z"


_DURATION_FIELDS = ("allowed_lateness", "idle_timeout", "clock_skew_margin", "future_window_limit")


@dataclass(frozen=True)
class Policy:
    """How strict an evaluation is. Every field has a stated default.

    :param allowed_lateness: ``L``; records stamped before ``end + L`` belong to the answer.
    :param idle_timeout: without CDC, a partition with no record at or after the target is
        complete only once ``now ≥ target + idle_timeout`` (producers deliver within it).
    :param clock_skew_margin: added to ``end + L`` to absorb clock differences between hosts.
    :param on_job_down: ``wait`` or ``fail`` when the ingestion or CDC job is down.
    :param future_window_limit: refuse windows ending later than ``now`` plus this.
    :param deadline: a window not complete by ``end`` plus this is overdue: the report says by how
        much and the sensor alerts once (see :mod:`.deadline`); ``None``: no deadline.
    """

    allowed_lateness: timedelta = timedelta(0)
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT
    clock_skew_margin: timedelta = DEFAULT_CLOCK_SKEW_MARGIN
    on_job_down: JobDownBehaviour = JobDownBehaviour.WAIT
    future_window_limit: timedelta = DEFAULT_FUTURE_WINDOW_LIMIT
    deadline: timedelta | None = None

    def __post_init__(self) -> None:
        if self.deadline is not None and (
            not isinstance(self.deadline, timedelta) or self.deadline < timedelta(0)
        ):
            raise InvalidPolicyError(
                f"deadline must be a non-negative datetime.timedelta after the window end or None, "
                f"got {self.deadline!r}; e.g. timedelta(minutes=30)"
            )
        for name in _DURATION_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                raise InvalidPolicyError(
                    f"{name} must be a datetime.timedelta, got {type(value).__name__} {value!r}; "
                    f"e.g. timedelta(minutes=2)"
                )
            if value < timedelta(0):
                raise InvalidPolicyError(f"{name} must not be negative, got {value!r}")
        try:
            object.__setattr__(self, "on_job_down", JobDownBehaviour(self.on_job_down))
        except ValueError:
            choices = ", ".join(repr(b.value) for b in JobDownBehaviour)
            raise InvalidPolicyError(
                f"on_job_down must be one of {choices}, got {self.on_job_down!r}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """Durations as seconds (floats), so the policy fits into trigger kwargs and XCom."""
        out: dict[str, Any] = {name: getattr(self, name).total_seconds() for name in _DURATION_FIELDS}
        out["on_job_down"] = self.on_job_down.value
        if self.deadline is not None:  # absent when unset: older policies read back unchanged
            out["deadline"] = self.deadline.total_seconds()
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> Policy:
        if not isinstance(raw, dict):
            raise MalformedRecordError(f"a policy must be a mapping, got {raw!r}")
        unknown = set(raw) - {*_DURATION_FIELDS, "on_job_down", "deadline"}
        if unknown:
            raise MalformedRecordError(f"unknown policy keys {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        optional = ("deadline",) if raw.get("deadline") is not None else ()
        for name in (*_DURATION_FIELDS, *optional):
            if name in raw:
                value = raw[name]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise MalformedRecordError(f"policy {name} must be a number of seconds, got {value!r}")
                kwargs[name] = timedelta(seconds=value)
        if "on_job_down" in raw:
            kwargs["on_job_down"] = raw["on_job_down"]
        return cls(**kwargs)
