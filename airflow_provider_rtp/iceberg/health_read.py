"""Read a table's health from a pyiceberg table: its live manifest entries and metadata files.

The snapshot's manifests are read once, entry by entry (in parallel, by pyiceberg's
executor, as ``inspect.files()`` does), without building ``inspect``'s Arrow tables
and readable metrics: every figure comes from the entries' counts and sizes, exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.health import (
    PROPERTIES_SHOWN,
    PartitionHealth,
    RefInfo,
    TableHealth,
    small_file_threshold,
)
from airflow_provider_rtp.iceberg.locations import is_metadata_location
from airflow_provider_rtp.iceberg.useless_deletes import (
    KeyFile,
    KeyPlan,
    UselessDeleteBudget,
    count_useless_deletes,
)

__all__ = ["check_table_identifier", "partition_path", "read_table_health"]

_DATA, _POSITION_DELETES, _EQUALITY_DELETES = 0, 1, 2


def check_table_identifier(identifier: str) -> str:
    """``namespace.table`` (namespaces may nest) with no empty part or blank, or a metadata location.

    :raises InvalidInputError: naming the identifier, before any catalog is asked.
    """
    if not isinstance(identifier, str) or not identifier:
        raise InvalidInputError(f"table identifier must be 'namespace.table', got {identifier!r}")
    if is_metadata_location(identifier):
        return identifier
    parts = identifier.split(".")
    if len(parts) < 2 or any(not p or p != p.strip() or any(c.isspace() for c in p) for p in parts):
        raise InvalidInputError(
            f"table identifier must be 'namespace.table' without empty parts or blanks, got {identifier!r}"
        )
    return identifier


def partition_path(table: Any, spec_id: int, partition: Any) -> str:
    """The partition's path as Iceberg writes it: ``change_hour=2026-12-05-10``, ``id_bucket=3``;
    ``""`` for an unpartitioned spec. The compaction job selects partitions by this string.

    :param partition: the partition record of a data or delete file (``DataFile.partition``).
    """
    spec = table.metadata.specs().get(spec_id)
    if spec is None:
        raise IcebergError(f"table has no partition spec {spec_id}")
    return str(spec.partition_to_path(partition, table.metadata.schema())) if spec.fields else ""


@dataclass
class _Counts:
    spec_id: int
    data_files: int = 0
    data_records: int = 0
    data_bytes: int = 0
    small_data_files: int = 0
    eq_files: int = 0
    eq_records: int = 0
    pos_files: int = 0
    pos_records: int = 0
    delete_bytes: int = 0
    last_updated_ms: int | None = None
    data: list[tuple[int, Any]] = field(default_factory=list)  # (sequence number, DataFile)
    eq_deletes: list[tuple[int, Any]] = field(default_factory=list)


def live_entries(table: Any, snapshot: Any) -> list[Any]:
    """The live manifest entries (data and delete files) of ``snapshot``, manifests read in parallel."""
    from pyiceberg.utils.concurrent import ExecutorFactory

    io = table.io
    per_manifest = ExecutorFactory.get_or_create().map(
        lambda m: m.fetch_manifest_entry(io, discard_deleted=True), snapshot.manifests(io)
    )
    return [e for entries in per_manifest for e in entries]


def _count(table: Any, entries: Iterable[Any], small: int) -> dict[str, _Counts]:
    meta = table.metadata
    stamp = {s.snapshot_id: s.timestamp_ms for s in meta.snapshots}
    by_path: dict[str, _Counts] = {}
    for entry in entries:
        f = entry.data_file
        path = partition_path(table, f.spec_id, f.partition)
        c = by_path.setdefault(path, _Counts(f.spec_id))
        ts = stamp.get(entry.snapshot_id)
        if ts is not None and (c.last_updated_ms is None or ts > c.last_updated_ms):
            c.last_updated_ms = ts
        content = int(f.content)
        seq = int(entry.sequence_number or 0)
        if content == _DATA:
            c.data_files += 1
            c.data_records += f.record_count
            c.data_bytes += f.file_size_in_bytes
            c.small_data_files += f.file_size_in_bytes < small
            c.data.append((seq, f))
        elif content == _POSITION_DELETES:
            c.pos_files += 1
            c.pos_records += f.record_count
            c.delete_bytes += f.file_size_in_bytes
        elif content == _EQUALITY_DELETES:
            c.eq_files += 1
            c.eq_records += f.record_count
            c.delete_bytes += f.file_size_in_bytes
            c.eq_deletes.append((seq, f))
        else:
            raise IcebergError(f"{f.file_path}: unknown file content {content}")
    return by_path


def _key_file(seq: int, f: Any) -> KeyFile:
    return KeyFile(str(f.file_path), seq, int(f.record_count))


def _key_plans(by_path: Mapping[str, _Counts]) -> tuple[list[KeyPlan], str | None]:
    """Per partition and equality key, the delete files and the data files older than the newest."""
    plans = []
    for path, c in sorted(by_path.items()):
        by_ids: dict[tuple[int, ...], list[tuple[int, Any]]] = {}
        for seq, f in c.eq_deletes:
            by_ids.setdefault(tuple(f.equality_ids or ()), []).append((seq, f))
        for ids, deletes in by_ids.items():
            files = [f for _, f in deletes] + [f for _, f in c.data]
            if not ids or any(str(f.file_format).upper().rsplit(".", 1)[-1] != "PARQUET" for f in files):
                return [], f"not computed: partition {path!r} has a non-Parquet file or a delete without key"
            newest = max(seq for seq, _ in deletes)
            plans.append(
                KeyPlan(
                    path,
                    ids,
                    tuple(_key_file(s, f) for s, f in c.data if s < newest),
                    tuple(_key_file(s, f) for s, f in deletes),
                )
            )
    return plans, None


def _file_size(io: Any, location: str) -> int | None:
    try:
        return len(io.new_input(location))
    except FileNotFoundError:
        return None


def _refs(meta: Any) -> tuple[RefInfo, ...]:
    return tuple(
        RefInfo(name, str(ref.snapshot_ref_type.value), ref.snapshot_id, ref.max_ref_age_ms)
        for name, ref in sorted(meta.refs.items())
    )


def read_table_health(
    table: Any,
    name: str,
    *,
    snapshot_id: int | None = None,
    small_file_bytes: int | None = None,
    useless_budget: UselessDeleteBudget | None = None,
) -> TableHealth:
    """The health of ``table`` (a pyiceberg ``Table``) at its current snapshot or ``snapshot_id``.

    Snapshots, refs, properties and metadata files are the table's as loaded, whatever
    snapshot the files are read at.

    :param name: how the report names the table (its identifier).
    :param small_file_bytes: data files below this are small (default: :func:`small_file_threshold`).
    :param useless_budget: bounds the useless-equality-delete count; None: not counted.
    :raises InvalidInputError: no snapshot with that id.
    """
    meta = table.metadata
    props = {k: str(v) for k, v in meta.properties.items()}
    small = small_file_bytes if small_file_bytes is not None else small_file_threshold(props)
    if small < 1:
        raise InvalidInputError(f"small_file_bytes must be >= 1, got {small}")
    if snapshot_id is not None:
        snapshot = table.snapshot_by_id(snapshot_id)
        if snapshot is None:
            raise InvalidInputError(f"table {name} has no snapshot {snapshot_id}")
    else:
        snapshot = table.current_snapshot()
    by_path = _count(table, live_entries(table, snapshot), small) if snapshot is not None else {}

    useless: Mapping[str, int] | None = None
    note = "not computed (not asked)"
    if useless_budget is not None:
        plans, refused = _key_plans(by_path)
        if refused:
            note = refused
        else:
            useless, note = count_useless_deletes(
                plans, lambda p: table.io.new_input(p).open(), useless_budget
            )

    partitions = tuple(
        PartitionHealth(
            partition=path,
            spec_id=c.spec_id,
            data_files=c.data_files,
            data_records=c.data_records,
            data_bytes=c.data_bytes,
            small_data_files=c.small_data_files,
            equality_delete_files=c.eq_files,
            equality_delete_records=c.eq_records,
            position_delete_files=c.pos_files,
            position_delete_records=c.pos_records,
            delete_bytes=c.delete_bytes,
            last_updated_ms=c.last_updated_ms,
            useless_equality_deletes=None if useless is None else useless.get(path, 0),
        )
        for path, c in sorted(by_path.items())
    )
    log = [entry.metadata_file for entry in meta.metadata_log]
    log_sizes = [_file_size(table.io, location) for location in log]
    location = table.metadata_location
    return TableHealth(
        table=name,
        snapshot_id=None if snapshot is None else snapshot.snapshot_id,
        snapshot_ms=None if snapshot is None else snapshot.timestamp_ms,
        read_at_ms=int(time.time() * 1000),
        small_file_bytes=small,
        partitions=partitions,
        snapshots=len(meta.snapshots),
        oldest_snapshot_ms=min((s.timestamp_ms for s in meta.snapshots), default=None),
        refs=_refs(meta),
        metadata_location=location,
        metadata_file_bytes=_file_size(table.io, location) if location else None,
        metadata_log_files=len(log),
        metadata_log_bytes=sum(s for s in log_sizes if s is not None),
        metadata_log_missing=sum(s is None for s in log_sizes),
        properties={k: props[k] for k in PROPERTIES_SHOWN if k in props},
        useless_equality_deletes=None if useless is None else sum(useless.values()),
        useless_note=note,
    )
