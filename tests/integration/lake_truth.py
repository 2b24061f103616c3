"""The truth check: a lake table's current rows equal MariaDB's ``shop.orders``.

Called once the source is quiet (generator stopped) and the completeness check says the
last closed minute is in the lake. The lake side is read by a Flink batch query through
the stack's SQL Gateway (the reader every lake user has: equality and position deletes
applied by Iceberg's Flink source), the source side straight from MariaDB. Both sides
are normalised to plain values, so equal rows compare equal whatever their types.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from airflow.sdk import Connection

from airflow_provider_rtp.exceptions import FlinkError
from airflow_provider_rtp.flink import HttpSettings, SqlGatewayClient
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from tests.integration.conftest import connect_mariadb
from tests.stack import host, port, sql_gateway_url, stack_env

__all__ = [
    "TruthReport",
    "assert_lake_matches_source",
    "compare",
    "lake_connection",
    "lake_rows",
    "source_rows",
]

COLUMNS = ("id", "customer_id", "amount", "status", "updated_at")
# A plain row: (id, customer_id, amount as a canonical decimal string, status, updated_at in UTC ms).
Row = tuple[int, int | None, str | None, str | None, int | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ROWS = 2_000_000
_EXAMPLES = 5


# -- reading both sides ----------------------------------------------------------
def lake_connection() -> Connection:
    """The Iceberg connection ./dev gives Airflow (AIRFLOW_CONN_ICEBERG_DEFAULT), from the stack's values."""
    env = stack_env()
    return Connection(
        conn_id="iceberg_default",
        conn_type="iceberg",
        host=host(),
        port=port("POSTGRES_PORT"),
        login=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        schema=env["POSTGRES_CATALOG_DB"],
        extra=json.dumps(
            {
                "catalog_type": "sql",
                "catalog_name": "lake",
                "warehouse": f"file://{env['RTP_STATE']}/data/warehouse",
            }
        ),
    )


def lake_rows(
    table: str, *, timeout: float = 180.0, snapshot_id: int | None = None, where: str | None = None
) -> list[tuple[Any, ...]]:
    """The live rows of ``lake.<table>`` (``namespace.table``) as Flink returns them: current, or
    as of ``snapshot_id``; ``where``: a Flink SQL condition."""
    conn = lake_connection()
    ddl = IcebergHook(connection=conn).flink_catalog_ddl("lake")
    query = f"SELECT {', '.join(COLUMNS)} FROM lake.{table}"
    if snapshot_id is not None:
        query += f" /*+ OPTIONS('snapshot-id'='{int(snapshot_id)}') */"
    if where is not None:
        query += f" WHERE {where}"
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        props = {"execution.runtime-mode": "batch", "table.local-time-zone": "UTC"}
        with gateway.session(props, name="rtp-lake-truth") as session:
            gateway.execute(session, ddl)
            # Every page of the result: execute follows nextResultUri up to max_rows.
            result = gateway.execute(session, query, timeout=timeout, max_rows=_MAX_ROWS)
    except FlinkError as exc:
        # The catalog statement holds the catalog password: never show it.
        raise AssertionError(f"reading lake.{table} failed: {_hide(str(exc), conn.password)}") from None
    finally:
        gateway.close()
    assert result.columns == list(COLUMNS), f"lake.{table}: unexpected columns {result.columns}"
    assert len(result.rows) < _MAX_ROWS, f"lake.{table} has {_MAX_ROWS}+ rows: too many to compare here"
    return [tuple(r) for r in result.rows]


def source_rows(database: str = "shop") -> list[tuple[Any, ...]]:
    """MariaDB ``<database>.orders`` now, timestamps read in UTC."""
    conn = connect_mariadb(database)
    try:
        with conn.cursor() as cur:
            # TIMESTAMP columns are returned in the session's zone: UTC, as naive datetimes.
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"SELECT {', '.join(COLUMNS)} FROM orders")
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _hide(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


# -- normalising and comparing --------------------------------------------------
def _amount(value: Any) -> str | None:
    if value is None:
        return None
    # str() first: a JSON number arrives as a float, whose shortest form is the decimal sent.
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(d.normalize(), "f")


def _utc_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:  # both readers are asked for UTC
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


def normalise(row: Sequence[Any]) -> Row:
    """One row as plain values: int ids, decimal string amount, UTC milliseconds."""
    id_, customer_id, amount, status, updated_at = row
    return (
        int(id_),
        None if customer_id is None else int(customer_id),
        _amount(amount),
        None if status is None else str(status),
        _utc_ms(updated_at),
    )


def checksum(rows: Iterable[Row]) -> str:
    """Order-independent: the sum of each row's 64-bit hash (duplicates count, unlike XOR)."""
    total = 0
    for row in rows:
        total += int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=8).digest(), "big")
    return f"{total % (1 << 64):016x}"


@dataclass(frozen=True)
class TruthReport:
    """Both sides' count and checksum, and up to five examples of each kind of difference."""

    lake_count: int
    source_count: int
    lake_checksum: str
    source_checksum: str
    missing: tuple[Row, ...]  # in the source, not in the lake
    extra: tuple[Row, ...]  # in the lake, not in the source (or once too often)
    different: tuple[tuple[Row, Row], ...]  # same id, other values: (lake, source)
    missing_total: int
    extra_total: int
    different_total: int

    @property
    def equal(self) -> bool:
        return not (self.missing_total or self.extra_total or self.different_total)

    def __str__(self) -> str:
        head = (
            f"lake {self.lake_count} rows (checksum {self.lake_checksum}), "
            f"source {self.source_count} rows (checksum {self.source_checksum})"
        )
        if self.equal:
            return head + ": equal"
        lines = [
            head,
            f"missing in the lake: {self.missing_total}, extra in the lake: {self.extra_total}, "
            f"different: {self.different_total} "
            "(row: id, customer_id, amount, status, updated_at UTC ms)",
        ]
        lines += [f"  missing {row}" for row in self.missing]
        lines += [f"  extra   {row}" for row in self.extra]
        for lake, source in self.different:
            lines += [f"  id {lake[0]}: lake {lake[1:]} != source {source[1:]}"]
        return "\n".join(lines)


def compare(lake: Iterable[Sequence[Any]], source: Iterable[Sequence[Any]]) -> TruthReport:
    """The lake's rows against the source's, by value and by id."""
    lake_rows_ = [normalise(r) for r in lake]
    source_rows_ = [normalise(r) for r in source]
    lake_c, source_c = Counter(lake_rows_), Counter(source_rows_)
    only_lake = sorted((lake_c - source_c).elements())
    only_source = sorted((source_c - lake_c).elements())
    by_id_source = {row[0]: row for row in only_source}
    paired: set[int] = set()
    different: list[tuple[Row, Row]] = []
    extra: list[Row] = []
    for row in only_lake:
        match = by_id_source.get(row[0])
        if match is not None and row[0] not in paired:
            paired.add(row[0])
            different.append((row, match))
        else:
            extra.append(row)
    missing = [row for row in only_source if row[0] not in paired]
    return TruthReport(
        lake_count=len(lake_rows_),
        source_count=len(source_rows_),
        lake_checksum=checksum(lake_rows_),
        source_checksum=checksum(source_rows_),
        missing=tuple(missing[:_EXAMPLES]),
        extra=tuple(extra[:_EXAMPLES]),
        different=tuple(different[:_EXAMPLES]),
        missing_total=len(missing),
        extra_total=len(extra),
        different_total=len(different),
    )


def assert_lake_matches_source(
    table: str, timeout: float = 120.0, poll: float = 2.0, *, database: str = "shop"
) -> TruthReport:
    """Until ``lake.<table>`` equals ``<database>.orders``, at most ``timeout`` seconds; the report
    of the equal reading, else fails with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        report = compare(lake_rows(table), source_rows(database))
        if report.equal:
            return report
        if time.monotonic() + poll > deadline:
            raise AssertionError(
                f"lake.{table} differs from MariaDB {database}.orders after {timeout:.0f}s:\n{report}"
            )
        time.sleep(poll)
