"""An order-independent checksum of rows that a ClickHouse server and the embedded one compute alike.

Each row hashes to ``cityHash64`` of one term per column; the checksum is the sum of the row
hashes modulo 2**64 (ClickHouse's ``sum`` of UInt64 wraps), so the order in which rows were
written or merged does not matter, and a row missing, doubled or changed does.

A term must hash the same in ClickHouse 18.16 and in chdb (ClickHouse 26), for the same
stored value. Integers, floats, String, FixedString, Date and DateTime do as they are. A
Decimal does not: 18.16 refuses to hash one and the two versions print it differently, so it
contributes its integer part and its fraction scaled to an integer (``toInt64`` both, exact
up to 18 digits); a wider Decimal is left out of the checksum and named in the report. A
Nullable column's term is the hash of its value, or 1 for a NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_rtp.clickhouse.mapping import CH_DATETIME64, decimal_type, unwrap_type
from airflow_provider_rtp.clickhouse.sql import quote_identifier

__all__ = ["MASK", "RowHash", "row_hash"]

MASK = 2**64 - 1  # checksums add modulo 2**64, as ClickHouse's sum(UInt64) does


@dataclass(frozen=True)
class RowHash:
    """The per-row hash as SQL over the target's columns, and the columns it leaves out (and why)."""

    sql: str
    left_out: tuple[str, ...] = ()


def _terms(column: str, inner: str) -> list[str] | None:
    """Terms of one non-Nullable value; None when no term hashes alike in both versions."""
    if decimal := decimal_type(inner):
        precision, scale = decimal
        if precision > 18:
            return None
        whole = f"toInt64({column})"
        return [whole, f"toInt64(({column} - {whole}) * {10**scale})"] if scale else [whole]
    if m := CH_DATETIME64.match(inner):
        digits = int(m.group(1))
        unit = "Milli" if digits <= 3 else "Micro" if digits <= 6 else "Nano"
        return [f"toUnixTimestamp64{unit}({column})"]
    if inner == "Date32":
        return [f"toInt32({column})"]
    if inner == "UUID":
        return [f"toString({column})"]
    if inner == "Bool":
        return [f"toUInt8({column})"]
    return [column]


def row_hash(columns: Sequence[tuple[str, str]]) -> RowHash:
    """The row hash over ``columns`` (name, ClickHouse type), as stored in the target."""
    terms: list[str] = []
    left_out: list[str] = []
    for name, ch_type in columns:
        inner, nullable = unwrap_type(ch_type)
        column = quote_identifier(name)
        parts = _terms(column, inner)
        if parts is None:
            left_out.append(f"{name} ({ch_type}: no hash agrees across ClickHouse versions)")
            continue
        # A NULL makes the hash NULL; 1 stands for it (a value hashing to 1 is a 2**-64 chance).
        terms.extend([f"ifNull(cityHash64({', '.join(parts)}), 1)"] if nullable else parts)
    if not terms:
        return RowHash("toUInt64(0)", tuple(left_out))
    return RowHash(f"cityHash64({', '.join(terms)})", tuple(left_out))
