"""UTC helpers shared by the models, the decision and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness.errors import (
    CompletenessError,
    MalformedRecordError,
    NaiveDatetimeError,
)

__all__ = [
    "ceil_epoch_ms",
    "fmt_clock",
    "fmt_duration",
    "parse_instant",
    "parse_utc",
    "require_utc",
    "require_utc_or_none",
    "to_iso",
]


def require_utc(value: Any, what: str) -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused, since their clock is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"{what} {value.isoformat()} has no timezone; pass an aware datetime, "
            f"e.g. {value.replace(tzinfo=UTC).isoformat()}"
        )
    return value.astimezone(UTC)


def require_utc_or_none(value: Any, what: str) -> datetime | None:
    return None if value is None else require_utc(value, what)


def ceil_epoch_ms(value: datetime) -> int:
    """Epoch milliseconds rounded up: the first whole-ms timestamp not before ``value``.

    Kafka and Iceberg count in whole milliseconds; rounding up keeps every record
    stamped before ``value`` on the "before" side of an ``offsets_for_times`` query.
    """
    delta = require_utc(value, "time") - datetime(1970, 1, 1, tzinfo=UTC)
    ms, rest = divmod(delta, timedelta(milliseconds=1))
    return ms + (1 if rest else 0)


def to_iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(value: Any, what: str) -> datetime | None:
    """Parse an ISO string written by :func:`to_iso`; ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecordError(f"{what} must be an ISO-8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRecordError(f"{what} is not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise MalformedRecordError(f"{what} {value!r} has no timezone; stored times end in 'Z'")
    return parsed.astimezone(UTC)


def parse_instant(value: Any, what: str) -> datetime:
    """An argument that names an instant (a datetime, or an ISO-8601 string as templates render
    one) as a plain UTC datetime; a naive or unparsable one is refused, naming ``what``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise CompletenessError(f"{what} is not an ISO-8601 time: {value!r}") from None
    if not isinstance(value, datetime):
        raise CompletenessError(f"{what} must be a datetime or an ISO-8601 string, got {value!r}")
    # A plain UTC datetime, also for Airflow's pendulum instants.
    return datetime.fromtimestamp(require_utc(value, what).timestamp(), tz=UTC)


def fmt_duration(value: timedelta) -> str:
    """Compact duration for reports: ``2m``, ``1h30m``, ``45s``, ``1.5s``, ``-3s``."""
    if value < timedelta(0):
        return "-" + fmt_duration(-value)
    total = value.total_seconds()
    if total < 60 and total != int(total):
        return f"{total:.3g}s"
    seconds = int(total)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"


def fmt_clock(value: datetime, reference: datetime) -> str:
    """``HH:MM:SS`` when on the same UTC day as ``reference``, else a full ``…Z`` timestamp."""
    value = value.astimezone(UTC)
    if value.date() == reference.astimezone(UTC).date():
        text = value.strftime("%H:%M:%S")
    else:
        text = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond:
        text = text.replace("Z", "") + f".{value.microsecond // 1000:03d}" + ("Z" if "T" in text else "")
    return text
