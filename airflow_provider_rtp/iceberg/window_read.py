"""Reading one window of an Iceberg table as of a fixed snapshot, deletes applied.

The sensor hands downstream the snapshot that covers a window; the batch job must read that
snapshot, never "latest" (rows committed after it belong to later windows and may be half a
window). Flink-written tables carry equality deletes, which pyiceberg refuses to scan, so the
rows are read by an embedded ClickHouse (``chdb``, its ``icebergLocal`` table function) that
applies equality and position deletes and time-travels with ``iceberg_snapshot_id``; a plan
without delete files may be read by pyiceberg instead (``engine``). Either way the result is a
stream of Arrow record batches: memory stays bounded by the batch size, not the window.

The row filter is written once, in pyiceberg's expression language (a string such as
``"status = 'paid'"`` or an expression object), bound to the snapshot's schema, and rendered
for each engine from that one bound form: typed literals, quoted identifiers.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from airflow_provider_rtp.clickhouse.sql import quote_identifier, quote_string
from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.files import normalize
from airflow_provider_rtp.iceberg.health_read import live_entries

__all__ = [
    "Engine",
    "ReadPlan",
    "Window",
    "clickhouse_filter",
    "plan_read",
    "read_plan",
    "resolve_snapshot_id",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 65_536


class Engine(enum.StrEnum):
    AUTO = "auto"  # chdb unless the plan holds no delete file (then pyiceberg)
    CHDB = "chdb"
    PYICEBERG = "pyiceberg"


@dataclass(frozen=True)
class Window:
    """Rows whose ``column`` lies in ``[start, end)``; both ends timezone-aware."""

    start: datetime
    end: datetime
    column: str

    def __post_init__(self) -> None:
        for name, t in (("start", self.start), ("end", self.end)):
            if not isinstance(t, datetime):
                raise InvalidInputError(f"window {name} must be a datetime, got {t!r}")
            if t.tzinfo is None or t.utcoffset() is None:
                raise InvalidInputError(f"window {name} {t.isoformat()} has no timezone (aware needed)")
        if self.start >= self.end:
            raise InvalidInputError(
                f"window start {self.start.isoformat()} is not before its end {self.end.isoformat()}"
            )
        if not isinstance(self.column, str) or not self.column:
            raise InvalidInputError(f"window column must be a column name, got {self.column!r}")

    def expression(self) -> Any:
        from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

        # pyiceberg's predicates take (term, literal) at runtime; their stubs name other fields.
        ge: Any = GreaterThanOrEqual
        lt: Any = LessThan
        return And(
            ge(self.column, self.start.astimezone(UTC).isoformat()),
            lt(self.column, self.end.astimezone(UTC).isoformat()),
        )


@dataclass(frozen=True)
class ReadPlan:
    """What will be read: one snapshot of one table, its columns, the bound filter, the engine."""

    table: str
    snapshot_id: int
    metadata_location: str
    table_location: str
    columns: tuple[str, ...]
    row_filter: Any  # the pyiceberg BooleanExpression, unbound (what pyiceberg's scan takes)
    bound_filter: Any  # the same, bound to the snapshot's schema (typed literals)
    engine: Engine
    delete_files: int
    data_files: int
    # (name, type as pyiceberg prints it, required) of each selected column, in read order
    fields: tuple[tuple[str, str, bool], ...] = ()

    def describe(self) -> str:
        return (
            f"{self.table} at snapshot {self.snapshot_id}: {self.data_files} data files, "
            f"{self.delete_files} delete files, engine {self.engine.value}, filter {self.row_filter}"
        )


def resolve_snapshot_id(metadata: Any, identifier: str, snapshot_id: int | None, tag: str | None) -> int:
    """The snapshot to read: exactly one of ``snapshot_id`` and ``tag``, and it must exist."""
    if (snapshot_id is None) == (tag is None):
        raise InvalidInputError(
            f"reading {identifier}: give exactly one of snapshot_id (the sensor's covering snapshot) "
            "and tag (e.g. an hour tag); the current snapshot is never read by default, since rows "
            "committed after the covering snapshot belong to later windows"
        )
    if tag is not None:
        ref = metadata.refs.get(tag)
        if ref is None or str(ref.snapshot_ref_type) != "tag":
            tags = sorted(name for name, r in metadata.refs.items() if str(r.snapshot_ref_type) == "tag")
            raise IcebergError(f"{identifier} has no tag {tag!r} (tags: {', '.join(tags[-10:]) or 'none'})")
        snapshot_id = int(ref.snapshot_id)
    assert snapshot_id is not None
    if isinstance(snapshot_id, bool) or not isinstance(snapshot_id, int):
        raise InvalidInputError(f"snapshot_id must be an integer, got {snapshot_id!r}")
    if metadata.snapshot_by_id(snapshot_id) is None:
        oldest = min((s.timestamp_ms for s in metadata.snapshots), default=None)
        since = (
            f"; its oldest retained snapshot is from {datetime.fromtimestamp(oldest / 1000, UTC).isoformat()}"
            if oldest is not None
            else ""
        )
        raise IcebergError(
            f"{identifier} has no snapshot {snapshot_id} (never existed, or expired){since}: "
            "keep decided snapshots with an hour tag or the expiry's decision horizon"
        )
    return snapshot_id


def _literal_sql(field_type: Any, value: Any) -> str:
    from pyiceberg.types import (
        BooleanType,
        DateType,
        DecimalType,
        DoubleType,
        FloatType,
        IntegerType,
        LongType,
        StringType,
        TimestampType,
        TimestamptzType,
    )

    if isinstance(field_type, BooleanType):
        return "true" if value else "false"
    if isinstance(field_type, IntegerType | LongType):
        return str(int(value))
    if isinstance(field_type, FloatType | DoubleType):
        return repr(float(value))
    if isinstance(field_type, StringType):
        return quote_string(str(value))
    if isinstance(field_type, DecimalType):
        text = format(Decimal(value), "f")
        return f"CAST({quote_string(text)} AS Decimal({field_type.precision}, {field_type.scale}))"
    if isinstance(field_type, DateType):  # days since the epoch
        return f"toDate32({int(value)})"
    if isinstance(field_type, TimestamptzType | TimestampType):  # microseconds since the epoch
        return f"fromUnixTimestamp64Micro(toInt64({int(value)}), 'UTC')"
    raise InvalidInputError(f"row filters on {field_type} columns are not supported")


def clickhouse_filter(bound: Any) -> str:
    """A bound pyiceberg expression as a ClickHouse SQL condition."""
    from pyiceberg.expressions import (
        AlwaysFalse,
        AlwaysTrue,
        And,
        BoundEqualTo,
        BoundGreaterThan,
        BoundGreaterThanOrEqual,
        BoundIn,
        BoundIsNaN,
        BoundIsNull,
        BoundLessThan,
        BoundLessThanOrEqual,
        BoundNotEqualTo,
        BoundNotIn,
        BoundNotNaN,
        BoundNotNull,
        BoundNotStartsWith,
        BoundStartsWith,
        Not,
        Or,
    )

    if isinstance(bound, AlwaysTrue):
        return "1"
    if isinstance(bound, AlwaysFalse):
        return "0"
    if isinstance(bound, And):
        return f"({clickhouse_filter(bound.left)} AND {clickhouse_filter(bound.right)})"
    if isinstance(bound, Or):
        return f"({clickhouse_filter(bound.left)} OR {clickhouse_filter(bound.right)})"
    if isinstance(bound, Not):
        return f"(NOT {clickhouse_filter(bound.child)})"
    field = bound.term.ref().field
    column = quote_identifier(field.name)
    unary: dict[type, str] = {
        BoundIsNull: "isNull({c})",
        BoundNotNull: "isNotNull({c})",
        BoundIsNaN: "isNaN({c})",
        BoundNotNaN: "NOT isNaN({c})",
    }
    for kind, template in unary.items():
        if isinstance(bound, kind):
            return template.format(c=column)
    if isinstance(bound, BoundIn | BoundNotIn):
        values = ", ".join(_literal_sql(field.field_type, lit.value) for lit in sorted(bound.literals))
        return f"{column} {'NOT IN' if isinstance(bound, BoundNotIn) else 'IN'} ({values})"
    if isinstance(bound, BoundStartsWith | BoundNotStartsWith):
        test = f"startsWith({column}, {_literal_sql(field.field_type, bound.literal.value)})"
        return test if isinstance(bound, BoundStartsWith) else f"NOT {test}"
    comparisons: dict[type, str] = {
        BoundEqualTo: "=",
        BoundNotEqualTo: "!=",
        BoundLessThan: "<",
        BoundLessThanOrEqual: "<=",
        BoundGreaterThan: ">",
        BoundGreaterThanOrEqual: ">=",
    }
    value = bound.literal.value if hasattr(bound, "literal") else None
    for kind, op in comparisons.items():
        if isinstance(bound, kind):
            return f"{column} {op} {_literal_sql(field.field_type, value)}"
    raise InvalidInputError(f"row filter {bound} cannot be read by the chdb engine")


def _filter(schema: Any, window: Window | None, row_filter: Any, identifier: str) -> tuple[Any, Any]:
    """The filter (window and row filter) unbound and bound to ``schema``."""
    from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression
    from pyiceberg.expressions.parser import parse
    from pyiceberg.expressions.visitors import bind

    parts: list[Any] = []
    if window is not None:
        if window.column not in schema.column_names:
            raise InvalidInputError(
                f"window column {window.column!r} is not a column of {identifier} "
                f"(columns: {', '.join(schema.column_names)})"
            )
        parts.append(window.expression())
    if row_filter is not None:
        if isinstance(row_filter, str):
            try:
                row_filter = parse(row_filter)
            except Exception as exc:  # pyparsing's ParseException, without importing it
                raise InvalidInputError(f"row filter {row_filter!r} cannot be parsed: {exc}") from None
        if not isinstance(row_filter, BooleanExpression):
            raise InvalidInputError(
                f"row_filter must be a string or pyiceberg expression, not {row_filter!r}"
            )
        parts.append(row_filter)
    expr: Any = AlwaysTrue()
    for part in parts:
        expr = part if isinstance(expr, AlwaysTrue) else And(expr, part)
    try:
        return expr, bind(schema, expr, case_sensitive=True)
    except ValueError as exc:
        raise InvalidInputError(f"row filter on {identifier} does not fit its schema: {exc}") from None


def plan_read(
    table: Any,
    identifier: str,
    *,
    snapshot_id: int | None = None,
    tag: str | None = None,
    window: Window | None = None,
    row_filter: Any = None,
    columns: Sequence[str] | None = None,
    engine: Engine | str = Engine.AUTO,
) -> ReadPlan:
    """Check everything that can be checked before a row is read; choose the engine."""
    try:
        engine = Engine(engine)
    except ValueError:
        raise InvalidInputError(
            f"unknown read engine {engine!r}; use one of {', '.join(e.value for e in Engine)}"
        ) from None
    metadata = table.metadata
    sid = resolve_snapshot_id(metadata, identifier, snapshot_id, tag)
    snapshot = metadata.snapshot_by_id(sid)
    schema = next((s for s in metadata.schemas if s.schema_id == snapshot.schema_id), table.schema())
    if columns is None:
        selected = tuple(schema.column_names)
    else:
        if isinstance(columns, str):
            raise InvalidInputError(f"columns must be a list of names, got the string {columns!r}")
        selected = tuple(columns)
        unknown = [c for c in selected if c not in schema.column_names]
        if unknown or not selected:
            raise InvalidInputError(
                f"{identifier} has no column(s) {', '.join(map(repr, unknown)) or '(none given)'} "
                f"(columns: {', '.join(schema.column_names)})"
            )
    unbound, bound = _filter(schema, window, row_filter, identifier)
    from pyiceberg.manifest import DataFileContent

    contents = [e.data_file.content for e in live_entries(table, snapshot)]
    data_files = contents.count(DataFileContent.DATA)
    delete_files = len(contents) - data_files
    if engine is Engine.AUTO:
        engine = Engine.PYICEBERG if delete_files == 0 else Engine.CHDB
    if engine is Engine.PYICEBERG and delete_files:
        raise InvalidInputError(
            f"{identifier} at snapshot {sid} holds {delete_files} delete files; pyiceberg cannot apply "
            "equality deletes: use engine 'chdb' or 'auto'"
        )
    return ReadPlan(
        table=identifier,
        snapshot_id=sid,
        metadata_location=str(table.metadata_location),
        table_location=str(metadata.location),
        columns=selected,
        row_filter=unbound,
        bound_filter=bound,
        engine=engine,
        delete_files=delete_files,
        data_files=data_files,
        fields=tuple(
            (name, str(f.field_type), bool(f.required))
            for name in selected
            for f in [schema.find_field(name, case_sensitive=True)]
        ),
    )


def _local_path(location: str) -> str | None:
    path = normalize(location)  # file:/x, file:///x and /x alike; s3://b/k becomes b/k
    return path if path.startswith("/") else None


def chdb_query(plan: ReadPlan, batch_rows: int = DEFAULT_BATCH_ROWS) -> str:
    """The embedded ClickHouse query of a plan (tables on the local file system)."""
    root = _local_path(plan.table_location)
    metadata = _local_path(plan.metadata_location)
    if root is None or metadata is None:
        raise InvalidInputError(
            f"{plan.table}: the chdb engine reads local file system tables, not {plan.table_location!r}"
        )
    root = root.rstrip("/")
    # The metadata file the catalog names, not the newest file in metadata/ (a commit may be
    # in flight): pinned by its path relative to the table.
    relative = metadata[len(root) + 1 :] if metadata.startswith(root + "/") else metadata
    select = ", ".join(quote_identifier(c) for c in plan.columns)
    source = (
        f"icebergLocal({quote_string(root)}, SETTINGS iceberg_metadata_file_path = {quote_string(relative)})"
    )
    return (
        f"SELECT {select} FROM {source} WHERE {clickhouse_filter(plan.bound_filter)} "
        f"SETTINGS iceberg_snapshot_id = {int(plan.snapshot_id)}, max_block_size = {int(batch_rows)}"
    )


def read_plan(plan: ReadPlan, table: Any, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> Any:
    """The plan's rows as a ``pyarrow.RecordBatchReader`` (streamed; close it when done)."""
    if not isinstance(batch_rows, int) or batch_rows <= 0:
        raise InvalidInputError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    log.info("reading %s", plan.describe())
    if plan.engine is Engine.PYICEBERG:
        scan = table.scan(
            row_filter=plan.row_filter, selected_fields=plan.columns, snapshot_id=plan.snapshot_id
        )
        return _file_by_file(scan, batch_rows)
    return _chdb_reader(chdb_query(plan, batch_rows), plan, batch_rows)


def _file_by_file(scan: Any, batch_rows: int) -> Any:
    """The scan's rows one data file after the other, in batches of at most ``batch_rows``.

    pyiceberg's own batch reader hands every file to its thread pool at once and keeps each
    file's rows until they are consumed: a whole window in memory. Here one file is read at a
    time, lazily batch by batch where pyiceberg offers that (only plans without delete files
    come here, so no file needs another's deletes).
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow

    projected = scan.projection()
    arrow = ArrowScan(scan.table_metadata, scan.io, projected, scan.row_filter, scan.case_sensitive)
    lazy = getattr(arrow, "_record_batches_from_scan_tasks_and_deletes", None)

    def batches() -> Iterator[Any]:
        for task in scan.plan_files():
            stream = lazy([task], {}) if lazy is not None else arrow.to_record_batches([task])
            for batch in stream:
                for offset in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(offset, batch_rows)

    schema = schema_to_pyarrow(projected)
    return pa.RecordBatchReader.from_batches(schema, batches()).cast(schema)


_CWD_LOCK = threading.Lock()


@contextmanager
def _planned_from_root() -> Iterator[None]:
    """chdb's embedded server opens a table function's path only under its ``user_files_path``,
    which is the working directory (``.``), and checks it when the query is planned: plan from
    ``/``, then give the process its directory back (the stream reads the files it planned)."""
    with _CWD_LOCK:
        before = os.getcwd()
        os.chdir("/")
        try:
            yield
        finally:
            os.chdir(before)


def _chdb_reader(query: str, plan: ReadPlan, batch_rows: int) -> Any:
    import pyarrow as pa

    try:
        import chdb
    except ImportError as exc:
        raise IcebergError(
            "the chdb engine needs the chdb package (pip install 'airflow-provider-rtp[lake-read]')"
        ) from exc
    failed = f"chdb could not read {plan.table} at snapshot {plan.snapshot_id}"
    conn = chdb.connect(":memory:")
    try:
        with _planned_from_root():
            reader = conn.send_query(query, "Arrow").record_batch(rows_per_batch=batch_rows)
    except Exception as exc:
        conn.close()
        raise IcebergError(f"{failed}: {exc}") from exc

    def batches() -> Any:
        # The connection lives as long as the stream: closed when the reader is exhausted or closed.
        try:
            for batch in reader:  # blocks may be larger than asked (one data file's rows)
                for offset in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(offset, batch_rows)
        except Exception as exc:
            raise IcebergError(f"{failed}: {exc}") from exc
        finally:
            conn.close()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
