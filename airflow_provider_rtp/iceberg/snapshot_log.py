"""A table's snapshot log, read straight from its metadata file.

A Flink-fed table commits every checkpoint, so its metadata file grows by a
snapshot each time and, after weeks, holds tens of thousands of them. pyiceberg
validates the whole file into models before anything can be read (seconds at
20,000 snapshots); the decision needs five fields per snapshot. So:

- the current metadata location is asked of the catalog (one SQL query for the
  SQL/JDBC catalog; other catalogs load the table as usual);
- the file is read through the catalog's FileIO and parsed (pydantic-core, in Rust) into
  the few fields the decision reads, skipping the rest, then into :class:`TableSnapshots`;
- metadata files are immutable, so a location already read is answered from
  memory, and snapshots already seen in the table (same table uuid and snapshot
  id: immutable too) are reused instead of being rebuilt.

The catalog is asked every time, so the log is never older than a fresh
``load_table`` would give.
"""

from __future__ import annotations

import gc
import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from airflow_provider_rtp.completeness._frozen import FrozenMap
from airflow_provider_rtp.completeness.snapshots import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    Operation,
    SnapshotObservation,
    TableSnapshots,
)
from airflow_provider_rtp.exceptions import IcebergError
from airflow_provider_rtp.iceberg.locations import is_metadata_location

__all__ = ["observe_table", "read_snapshot_log", "table_snapshots_from_metadata"]

_OPERATIONS = {op.value: op for op in Operation}
# One parsed version per table: enough to reuse unchanged snapshots, bounded by the number of tables.
_CACHE_LOCK = threading.Lock()
_LATEST: dict[tuple[str, str], tuple[str, str | None, TableSnapshots]] = {}


def _field(schema: Any, *, required: bool = False) -> Any:
    return cs.typed_dict_field(schema, required=required)


_FLINK_KEYS = (FLINK_JOB_ID, FLINK_MAX_COMMITTED_CHECKPOINT_ID, FLINK_OPERATOR_ID)
# Only what the decision reads is materialised; every other key (manifest lists, statistics, the
# schema, the snapshot and metadata logs) is skipped while parsing, without building objects.
_METADATA = SchemaValidator(
    cs.typed_dict_schema(
        {
            "table-uuid": _field(cs.nullable_schema(cs.str_schema())),
            "current-snapshot-id": _field(cs.nullable_schema(cs.int_schema())),
            "properties": _field(cs.dict_schema(cs.str_schema(), cs.any_schema())),
            "snapshots": _field(
                cs.list_schema(
                    cs.typed_dict_schema(
                        {
                            "snapshot-id": _field(cs.int_schema(), required=True),
                            "parent-snapshot-id": _field(cs.nullable_schema(cs.int_schema())),
                            "timestamp-ms": _field(cs.int_schema(), required=True),
                            "summary": _field(
                                cs.typed_dict_schema(
                                    {k: _field(cs.any_schema()) for k in ("operation", *_FLINK_KEYS)},
                                    extra_behavior="ignore",
                                )
                            ),
                        },
                        extra_behavior="ignore",
                    )
                )
            ),
        },
        extra_behavior="ignore",
    )
)


def table_snapshots_from_metadata(
    raw: bytes | str, name: str, previous: TableSnapshots | None = None
) -> tuple[str | None, TableSnapshots]:
    """``(table uuid, snapshot log)`` of a metadata file's text.

    :param previous: an earlier log of the same table (same uuid), whose snapshots are reused by id.
    :raises IcebergError: the text is not table metadata.
    """
    with _no_cycle_collection():
        return _build(raw, name, previous)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing a large log allocates a burst of objects without reference cycles: the cyclic
    collector would only traverse the whole heap several times over them (most of the cost in a
    process as large as a triggerer's). Pause it for the burst, if no one else paused it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(raw: bytes | str, name: str, previous: TableSnapshots | None) -> tuple[str | None, TableSnapshots]:
    try:
        meta = _METADATA.validate_json(raw)
    except ValidationError as exc:
        raise IcebergError(f"table {name}: unreadable metadata: {exc}") from exc
    known = previous.by_id() if previous is not None else {}
    snapshots = []
    for s in meta.get("snapshots") or ():
        reused = known.get(s["snapshot-id"])
        if reused is not None:
            snapshots.append(reused)
            continue
        summary = s.get("summary") or {}
        op = str(summary.get("operation", "append"))
        snapshots.append(
            SnapshotObservation(
                snapshot_id=s["snapshot-id"],
                parent_id=s.get("parent-snapshot-id"),
                timestamp_ms=s["timestamp-ms"],
                operation=_OPERATIONS.get(op, op),  # type: ignore[arg-type]  # unknown ones are named
                summary=FrozenMap({k: str(summary[k]) for k in _FLINK_KEYS if k in summary}),
            )
        )
        _ = snapshots[-1].flink  # parsed once per snapshot, within this burst
    current = meta.get("current-snapshot-id")
    table = TableSnapshots(
        table=name,
        current_snapshot_id=None if current == -1 else current,
        snapshots=tuple(snapshots),
        properties=meta.get("properties") or {},
    )
    return meta.get("table-uuid"), table


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
        return cached[2]
    raw = _read(pyiceberg_catalog, location, identifier)
    uuid, previous = (cached[1], cached[2]) if cached is not None else (None, None)
    parsed_uuid, table = table_snapshots_from_metadata(raw, identifier, previous)
    if previous is not None and parsed_uuid != uuid:  # re-created table: nothing carries over
        parsed_uuid, table = table_snapshots_from_metadata(raw, identifier)
    with _CACHE_LOCK:
        _LATEST[key] = (location, parsed_uuid, table)
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
        raise ValueError(f"table identifier must be 'namespace.table', got {identifier!r}")
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
