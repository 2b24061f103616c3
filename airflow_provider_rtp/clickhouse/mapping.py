"""Whether a ClickHouse table can take an Iceberg table's columns without changing a value.

Checked before any row moves: every ClickHouse column must get a source column of the same
name, every selected source column must have a target, and each pair must hold the same
values. "Same values" is strict: an optional Iceberg column needs a ``Nullable`` target (a
plain one would store 0 or "" for a null), a timestamp needs a ``DateTime64`` of at least the
precision the data has (``DateTime`` keeps whole seconds), a decimal needs the same scale.
A timestamp may also go into an ``Int64`` column as Iceberg stores it: microseconds since the
epoch (UTC) — the exact form for servers without ``DateTime64`` (before 20.1).
Everything that fails is listed in one error, each pair with its reason.

:func:`cast_sql` renders, for the embedded ClickHouse that encodes the rows, each source column
converted to its target type; the mapping check is what makes that conversion lossless.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "CH_DATETIME64",
    "ColumnMismatchError",
    "SourceColumn",
    "cast_sql",
    "check_columns",
    "decimal_type",
    "unwrap_type",
]

# Iceberg primitive type (as pyiceberg prints it) -> ClickHouse types that hold every value.
_EXACT: dict[str, tuple[str, ...]] = {
    "boolean": ("Bool", "UInt8"),
    "int": ("Int32", "Int64"),
    "long": ("Int64",),
    "float": ("Float32", "Float64"),
    "double": ("Float64",),
    "string": ("String",),
    "date": ("Date32",),
    "uuid": ("UUID",),
    "binary": ("String",),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_CH_DECIMAL = re.compile(r"^Decimal\((\d+),\s*(\d+)\)$")
_CH_DECIMAL_N = re.compile(r"^Decimal(32|64|128|256)\((\d+)\)$")
CH_DATETIME64 = re.compile(r"^DateTime64\((\d+)(?:,\s*'[^']*')?\)$")
_DECIMAL_N_PRECISION = {"32": 9, "64": 18, "128": 38, "256": 76}


@dataclass(frozen=True)
class SourceColumn:
    """A column of the Iceberg table: its name, type as pyiceberg prints it, and whether it is required.

    ``timestamp_digits``: fractional digits the values really carry (Iceberg stores microseconds;
    a Flink ``TIMESTAMP_LTZ(3)`` column carries 3), which a ``DateTime64`` must keep.
    """

    name: str
    type: str
    required: bool
    timestamp_digits: int = 6


class ColumnMismatchError(InvalidInputError):
    """The target table cannot take the source's columns as they are."""


def unwrap_type(ch_type: str) -> tuple[str, bool]:
    """``(inner type, nullable)`` of a ClickHouse column type, ``LowCardinality`` removed."""
    t = ch_type.strip()
    if t.startswith("LowCardinality(") and t.endswith(")"):
        t = t[len("LowCardinality(") : -1].strip()
    if t.startswith("Nullable(") and t.endswith(")"):
        return t[len("Nullable(") : -1].strip(), True
    return t, False


def decimal_type(ch: str) -> tuple[int, int] | None:
    """``(precision, scale)`` of a ClickHouse Decimal type (unwrapped), None for any other type."""
    if m := _CH_DECIMAL.match(ch):
        return int(m.group(1)), int(m.group(2))
    if m := _CH_DECIMAL_N.match(ch):
        return _DECIMAL_N_PRECISION[m.group(1)], int(m.group(2))
    return None


def _why_not(source: SourceColumn, ch_type: str) -> str | None:
    """None when every value of ``source`` fits ``ch_type`` unchanged, else the reason."""
    inner, nullable = unwrap_type(ch_type)
    if not source.required and not nullable:
        return f"{source.type} may be null, {ch_type} is not Nullable (a null would be stored as a default)"
    iceberg = source.type.strip().lower()
    if iceberg in _EXACT:
        if inner in _EXACT[iceberg]:
            return None
        return f"{source.type} needs one of {', '.join(_EXACT[iceberg])}, not {ch_type}"
    if m := _DECIMAL.match(iceberg):
        precision, scale = int(m.group(1)), int(m.group(2))
        target = decimal_type(inner)
        if target is None:
            return f"{source.type} needs Decimal(P, {scale}) with P >= {precision}, not {ch_type}"
        if target[1] != scale or target[0] < precision:
            return f"{source.type} needs Decimal(P, {scale}) with P >= {precision}, not {ch_type}"
        return None
    if iceberg in ("timestamp", "timestamptz"):
        if inner == "Int64":
            return None  # microseconds since the epoch, Iceberg's own value
        if m := CH_DATETIME64.match(inner):
            if int(m.group(1)) >= source.timestamp_digits:
                return None
            digits = source.timestamp_digits
            return f"{source.type} carries {digits} fractional digits, {ch_type} keeps {m.group(1)}"
        needs = f"DateTime64(>= {source.timestamp_digits}) or Int64 (epoch microseconds)"
        return f"{source.type} needs {needs}, not {ch_type} (whole seconds at most)"
    return f"{source.type} columns are not loaded (no exact ClickHouse type known here)"


def check_columns(
    source: Sequence[SourceColumn], target: Sequence[tuple[str, str]], table: str
) -> list[tuple[SourceColumn, str]]:
    """Pairs (source column, ClickHouse type) in the target's column order, or one error listing
    every missing, extra and incompatible column."""
    by_name = {c.name: c for c in source}
    target_names = [name for name, _ in target]
    missing = [name for name in target_names if name not in by_name]
    extra = [c.name for c in source if c.name not in set(target_names)]
    incompatible = []
    pairs = []
    for name, ch_type in target:
        if name not in by_name:
            continue
        reason = _why_not(by_name[name], ch_type)
        if reason:
            incompatible.append(f"{name}: {reason}")
        pairs.append((by_name[name], ch_type))
    problems = []
    if missing:
        problems.append(f"no source column for {', '.join(missing)}")
    if extra:
        problems.append(f"no column in {table} for {', '.join(extra)}")
    problems.extend(incompatible)
    if problems:
        raise ColumnMismatchError(f"{table} cannot take the columns as they are: " + "; ".join(problems))
    return pairs


def cast_sql(source: SourceColumn, ch_type: str, expression: str) -> str:
    """SQL turning ``expression`` (the source column as an Arrow column reads in ClickHouse) into
    ``ch_type``; only for pairs :func:`check_columns` accepted."""
    inner, _ = unwrap_type(ch_type)
    if source.type.strip().lower() in ("timestamp", "timestamptz") and inner == "Int64":
        expression = f"toUnixTimestamp64Micro({expression})"
    return f"CAST({expression} AS {ch_type.strip()})"
