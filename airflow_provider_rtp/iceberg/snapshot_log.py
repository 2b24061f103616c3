"""A table's snapshot log, read straight from its metadata file.

A Flink-fed table commits every checkpoint, so its metadata file grows by a
snapshot each time and, after weeks, holds tens of thousands of them. pyiceberg
validates the whole file into models before anything can be read (about a second
at 20,000 snapshots); the decision needs seven fields per snapshot. So:

- the current metadata location is asked of the catalog (one SQL query for the
  SQL/JDBC catalog; other catalogs load the table as usual);
- the file is read through the catalog's FileIO and decoded by msgspec into the
  few fields the decision reads (every other key is skipped without building
  objects), then into the columns of :class:`TableSnapshots` (no object per
  snapshot: the core indexes the columns once per log);
- metadata files are immutable, so a location already read is answered from
  memory, with the indexes the last evaluation built.

The catalog is asked every time, so the log is never older than a fresh
``load_table`` would give.
"""

from __future__ import annotations

import gzip
import threading
from typing import Any

import msgspec

from airflow_provider_rtp.completeness.snapshots import (
    Operation,
    SnapshotColumns,
    SnapshotObservation,
    TableSnapshots,
)
from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.locations import is_metadata_location

__all__ = ["first_snapshot_retained", "observe_table", "read_snapshot_log", "table_snapshots_from_metadata"]

# One parsed version per table, bounded by the number of tables.
_CACHE_LOCK = threading.Lock()
_LATEST: dict[tuple[str, str], tuple[str, TableSnapshots]] = {}


# Only what the decision reads is declared; msgspec skips every other key (manifest lists, statistics,
# the schema, the snapshot and metadata logs) while decoding. gc=False: the decoded rows hold no
# containers, so the cyclic collector need not track tens of thousands of them.
class _Summary(msgspec.Struct, gc=False):
    operation: str = Operation.APPEND.value
    job_id: str | None = msgspec.field(default=None, name="flink.job-id")
    checkpoint: str | None = msgspec.field(default=None, name="flink.max-committed-checkpoint-id")
    operator_id: str | None = msgspec.field(default=None, name="flink.operator-id")


class _Snapshot(msgspec.Struct, gc=False):
    snapshot_id: int = msgspec.field(name="snapshot-id")
    timestamp_ms: int = msgspec.field(name="timestamp-ms")
    parent_id: int | None = msgspec.field(default=None, name="parent-snapshot-id")
    sequence_number: int | None = msgspec.field(default=None, name="sequence-number")
    summary: _Summary | None = None


class _Metadata(msgspec.Struct):
    table_uuid: str | None = msgspec.field(default=None, name="table-uuid")
    current_snapshot_id: int | None = msgspec.field(default=None, name="current-snapshot-id")
    properties: dict[str, Any] | None = None
    snapshots: list[_Snapshot] | None = None


_DECODER = msgspec.json.Decoder(_Metadata)
_NO_SUMMARY = _Summary()  # a v1 snapshot may have none: an append


def table_snapshots_from_metadata(raw: bytes | str, name: str) -> tuple[str | None, TableSnapshots]:
    """``(table uuid, snapshot log)`` of a metadata file's text.

    :raises IcebergError: the text is not table metadata.
    """
    try:
        meta = _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise IcebergError(f"table {name}: unreadable metadata: {exc}") from exc
    snaps = meta.snapshots or []
    summaries = [s.summary or _NO_SUMMARY for s in snaps]
    columns = SnapshotColumns(
        tuple([s.snapshot_id for s in snaps]),
        tuple([s.parent_id for s in snaps]),
        tuple([s.timestamp_ms for s in snaps]),
        tuple([m.operation for m in summaries]),
        tuple([m.job_id for m in summaries]),
        tuple([m.checkpoint for m in summaries]),
        tuple([m.operator_id for m in summaries]),
    )
    current = meta.current_snapshot_id
    table = TableSnapshots.from_columns(
        name,
        None if current == -1 else current,
        columns,
        meta.properties or {},
        first_snapshot_retained([s.sequence_number for s in snaps]),
    )
    return meta.table_uuid, table


def first_snapshot_retained(sequence_numbers: list[int | None]) -> bool | None:
    """Whether the table's first snapshot is in the log: in format v2 it has sequence number 1
    (0 for snapshots of a table upgraded from v1); unknown when a snapshot carries none (v1)."""
    if not sequence_numbers or any(n is None for n in sequence_numbers):
        return None
    return min(n for n in sequence_numbers if n is not None) <= 1


def read_snapshot_log(catalog: Any, identifier: str) -> TableSnapshots:
    """The snapshot log of ``identifier`` (``namespace.table``) in ``catalog``.

    :param catalog: a pyiceberg catalog, or anything with a ``catalog`` attribute holding one
        (the Iceberg hook).
    :raises IcebergError: the table does not exist, or its metadata cannot be read.
    """
    from pyiceberg.catalog.sql import SqlCatalog

    pyiceberg_catalog = getattr(catalog, "catalog", catalog)
    if not isinstance(pyiceberg_catalog, SqlCatalog) or is_metadata_location(identifier):
        return observe_table(_load_table(catalog, identifier), identifier)
    location = _sql_metadata_location(pyiceberg_catalog, identifier)
    key = (pyiceberg_catalog.name, identifier)
    with _CACHE_LOCK:
        cached = _LATEST.get(key)
    if cached is not None and cached[0] == location:
        return cached[1]  # the same immutable file: the same log, with its indexes already built
    _, table = table_snapshots_from_metadata(_read(pyiceberg_catalog, location, identifier), identifier)
    with _CACHE_LOCK:
        _LATEST[key] = (location, table)
    return table


def observe_table(table: Any, name: str) -> TableSnapshots:
    """A pyiceberg table's snapshot log as plain data (see also :func:`read_snapshot_log`)."""
    meta = table.metadata
    snaps = []
    for s in meta.snapshots:
        summary = s.summary
        op = summary.operation.value if summary is not None else "append"
        snaps.append(
            SnapshotObservation(
                snapshot_id=s.snapshot_id,
                parent_id=s.parent_snapshot_id,
                timestamp_ms=s.timestamp_ms,
                operation=Operation(op),
                # Only the Flink sink's keys matter to the decision; the statistics are left behind.
                summary={
                    k: str(v)
                    for k, v in (summary.additional_properties if summary else {}).items()
                    if k.startswith("flink.")
                },
            )
        )
    return TableSnapshots(
        table=name,
        current_snapshot_id=meta.current_snapshot_id,
        snapshots=tuple(snaps),
        properties=dict(meta.properties),
        first_snapshot_retained=first_snapshot_retained(
            [s.sequence_number for s in meta.snapshots] if meta.format_version >= 2 else []
        ),
    )


def _load_table(catalog: Any, identifier: str) -> Any:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(identifier)
    except NoSuchTableError as exc:
        raise IcebergError(f"Iceberg table {identifier!r} does not exist: {exc}") from exc


def _sql_metadata_location(catalog: Any, identifier: str) -> str:
    """What ``SqlCatalog.load_table`` looks up first: the table row's current metadata location."""
    from pyiceberg.catalog import Catalog
    from pyiceberg.catalog.sql import IcebergTables
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    if identifier.count(".") < 1:
        raise InvalidInputError(f"table identifier must be 'namespace.table', got {identifier!r}")
    namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
    name = Catalog.table_name_from(identifier)
    stmt = select(IcebergTables.metadata_location).where(
        IcebergTables.catalog_name == catalog.name,
        IcebergTables.table_namespace == namespace,
        IcebergTables.table_name == name,
    )
    type_filter = catalog._iceberg_type_filter()  # views share the table; same filter as load_table
    if type_filter is not None:
        stmt = stmt.where(type_filter)
    with Session(catalog.engine) as session:
        location = session.scalar(stmt)
    if not location:
        raise IcebergError(f"Iceberg table {identifier!r} does not exist in catalog {catalog.name!r}")
    return str(location)


def _read(catalog: Any, location: str, identifier: str) -> bytes:
    from pyiceberg.io import load_file_io

    io = load_file_io(properties=catalog.properties, location=location)
    try:
        with io.new_input(location).open() as stream:
            data = stream.read()
        # pyiceberg's naming rule for compressed metadata
        return gzip.decompress(data) if location.endswith(".gz.metadata.json") else data
    except OSError as exc:
        raise IcebergError(f"table {identifier}: cannot read metadata file {location}: {exc}") from exc
