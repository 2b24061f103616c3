"""Table properties a managed lake table carries: metadata retention and Parquet bloom filters.

A Flink writer commits every checkpoint and so writes a metadata file every 10 s; with
``write.metadata.delete-after-commit.enabled`` each commit deletes the files beyond the newest
``write.metadata.previous-versions-max`` (Java and pyiceberg commits both honour it at once).
Bloom filters (``write.parquet.bloom-filter-enabled.column.<col>``) are read by a writer when
it opens its files: a running Flink job uses them after its next restart.

Applying is idempotent: properties that already hold the wanted value are not committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.commits import DEFAULT_COMMIT_RETRIES, commit_with_retries

__all__ = [
    "BLOOM_FILTER_ENABLED",
    "BLOOM_FILTER_FPP",
    "BLOOM_FILTER_MAX_BYTES",
    "METADATA_DELETE_AFTER_COMMIT",
    "METADATA_PREVIOUS_VERSIONS_MAX",
    "PropertiesResult",
    "apply_table_properties",
    "bloom_filter_columns",
    "managed_properties",
    "property_changes",
]

METADATA_DELETE_AFTER_COMMIT = "write.metadata.delete-after-commit.enabled"
METADATA_PREVIOUS_VERSIONS_MAX = "write.metadata.previous-versions-max"
BLOOM_FILTER_ENABLED = "write.parquet.bloom-filter-enabled.column."
BLOOM_FILTER_FPP = "write.parquet.bloom-filter-fpp.column."
BLOOM_FILTER_MAX_BYTES = "write.parquet.bloom-filter-max-bytes"


def managed_properties(
    *,
    previous_versions_max: int | None = 100,
    bloom_filters: Mapping[str, float | None] | Iterable[str] = (),
    bloom_filter_max_bytes: int | None = None,
) -> dict[str, str]:
    """The wanted properties (pure).

    :param previous_versions_max: metadata files kept besides the current one; ``None`` leaves
        metadata retention alone.
    :param bloom_filters: column names, or column name -> false-positive probability (``None``: the
        writer's default 0.01).
    :param bloom_filter_max_bytes: the largest bloom filter per column and row group.
    """
    props: dict[str, str] = {}
    if previous_versions_max is not None:
        if type(previous_versions_max) is not int or previous_versions_max < 1:
            raise InvalidInputError(
                f"previous_versions_max must be an int >= 1, got {previous_versions_max!r}"
            )
        props[METADATA_DELETE_AFTER_COMMIT] = "true"
        props[METADATA_PREVIOUS_VERSIONS_MAX] = str(previous_versions_max)
    columns = dict(bloom_filters) if isinstance(bloom_filters, Mapping) else dict.fromkeys(bloom_filters)
    for column, fpp in columns.items():
        if not isinstance(column, str) or not column.strip():
            raise InvalidInputError(f"bloom filter column must be a column name, got {column!r}")
        props[BLOOM_FILTER_ENABLED + column] = "true"
        if fpp is not None:
            if isinstance(fpp, bool) or not isinstance(fpp, int | float) or not 0 < fpp < 1:
                raise InvalidInputError(f"bloom filter fpp of {column!r} must be in (0, 1), got {fpp!r}")
            props[BLOOM_FILTER_FPP + column] = str(fpp)
    if bloom_filter_max_bytes is not None:
        if type(bloom_filter_max_bytes) is not int or bloom_filter_max_bytes < 1:
            raise InvalidInputError(
                f"bloom_filter_max_bytes must be a positive int, got {bloom_filter_max_bytes!r}"
            )
        props[BLOOM_FILTER_MAX_BYTES] = str(bloom_filter_max_bytes)
    return props


def bloom_filter_columns(props: Mapping[str, str]) -> list[str]:
    """The columns ``props`` name in bloom filter keys."""
    found = set()
    for key in props:
        for prefix in (BLOOM_FILTER_ENABLED, BLOOM_FILTER_FPP):
            if key.startswith(prefix):
                found.add(key.removeprefix(prefix))
    return sorted(found)


def property_changes(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The wanted properties whose value differs from the current one (pure)."""
    return {k: v for k, v in wanted.items() if current.get(k) != v}


@dataclass(frozen=True)
class PropertiesResult:
    table: str
    changed: Mapping[str, str]
    unchanged: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "changed": dict(self.changed), "unchanged": list(self.unchanged)}


def apply_table_properties(
    catalog: Any, identifier: str, wanted: Mapping[str, str], *, retries: int = DEFAULT_COMMIT_RETRIES
) -> PropertiesResult:
    """Set ``wanted`` on ``identifier`` where it differs, after checking bloom filter columns exist.

    :raises InvalidInputError: a bloom filter names a column the table's schema lacks.
    :raises IcebergError: unknown table, or commits kept conflicting.
    """

    def attempt(table: Any) -> PropertiesResult:
        schema = table.schema()
        missing = []
        for column in bloom_filter_columns(wanted):
            try:
                schema.find_field(column)
            except ValueError:
                missing.append(column)
        if missing:
            known = ", ".join(f.name for f in schema.fields)
            raise InvalidInputError(
                f"table {identifier} has no column {', '.join(map(repr, missing))} for a bloom filter; "
                f"its columns: {known}"
            )
        changes = property_changes(table.metadata.properties, wanted)
        if changes:
            with table.transaction() as tx:
                tx.set_properties(changes)
        return PropertiesResult(identifier, changes, tuple(sorted(set(wanted) - set(changes))))

    return commit_with_retries(catalog, identifier, attempt, retries=retries)
