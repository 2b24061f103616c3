"""InfluxDB line protocol and InfluxQL quoting, on plain data.

Every name a caller supplies (measurement, tag keys and values, field keys) is
escaped, never spliced: a hostile name becomes a strange but harmless name.
What no escaping can carry is refused with an ``InvalidInputError`` naming the part:
line breaks (they end a point), and a backslash at the end of a name or right
before a character that needs escaping (the 1.x parser would read it as the
start of an escape and shift the rest of the line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["PRECISIONS", "Point", "quote_identifier", "quote_literal"]

FieldValue = bool | int | float | str
PRECISIONS = ("ns", "u", "ms", "s")

_MEASUREMENT_SPECIAL = ", "  # comma and space
_NAME_SPECIAL = ", ="  # tag keys, tag values, field keys: comma, space, equals


def _escape(value: str, special: str, what: str) -> str:
    if not value:
        raise InvalidInputError(f"{what} must not be empty")
    if "\n" in value or "\r" in value:
        raise InvalidInputError(f"{what} {value!r} contains a line break, which line protocol cannot carry")
    if value.endswith("\\") or re.search(r"\\[" + re.escape(special) + "]", value):
        raise InvalidInputError(
            f"{what} {value!r} has a backslash at its end or before one of {special!r}, "
            "which line protocol cannot carry unambiguously"
        )
    return re.sub("([" + re.escape(special) + "])", r"\\\1", value)


def _field_value(key: str, value: FieldValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"field {key!r}: {value} is not a value InfluxDB stores")
        return repr(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise InvalidInputError(f"field {key!r}: string values must not contain line breaks")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"field {key!r}: unsupported value type {type(value).__name__}")


@dataclass(frozen=True)
class Point:
    """One point. ``time`` is an integer in the write's precision (None: the server's clock)."""

    measurement: str
    fields: Mapping[str, FieldValue | None]  # None: left out (the value is not known)
    tags: Mapping[str, str] = field(default_factory=dict)
    time: int | None = None

    def to_line(self) -> str:
        fields = {k: v for k, v in self.fields.items() if v is not None}
        if not fields:
            raise InvalidInputError(f"point of {self.measurement!r} has no field values")
        if self.measurement.startswith("#"):
            raise InvalidInputError(
                f"measurement {self.measurement!r} starts with '#', which marks a comment line"
            )
        parts = [_escape(self.measurement, _MEASUREMENT_SPECIAL, "measurement")]
        for key in sorted(self.tags):  # sorted tags are what the server stores; cheaper to index
            value = self.tags[key]
            if not isinstance(value, str):
                raise TypeError(f"tag {key!r}: values are strings, got {type(value).__name__}")
            if value == "":
                continue  # an empty tag value means "no tag" to InfluxDB
            parts.append(
                f"{_escape(key, _NAME_SPECIAL, 'tag key')}={_escape(value, _NAME_SPECIAL, 'tag value')}"
            )
        line = ",".join(parts) + " "
        line += ",".join(
            f"{_escape(k, _NAME_SPECIAL, 'field key')}={_field_value(k, v)}"
            for k, v in sorted(fields.items())
        )
        if self.time is not None:
            if isinstance(self.time, bool) or not isinstance(self.time, int):
                raise TypeError(f"point time must be an integer, got {self.time!r}")
            line += f" {self.time}"
        return line


def quote_identifier(name: str) -> str:
    """An InfluxQL identifier (measurement, tag or field key) in double quotes."""
    if "\n" in name or "\r" in name:
        raise InvalidInputError(f"identifier {name!r} contains a line break")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """An InfluxQL string literal (tag values in WHERE) in single quotes."""
    if "\n" in value or "\r" in value:
        raise InvalidInputError(f"literal {value!r} contains a line break")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
