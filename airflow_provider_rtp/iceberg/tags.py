"""Tags naming the snapshot that covers a completed window, e.g. ``complete-2026-12-01T10``.

A tag is a readable, lasting name for "the data of that hour" (Flink SQL reads it with
``/*+ OPTIONS('tag'='complete-2026-12-01T10') */``). Tagging is idempotent: the same name on
the same snapshot changes nothing; the same name on another snapshot is refused and leaves
the table as it was. A tag with ``max-ref-age`` is removed by snapshot expiry once its
snapshot is older than that; until then the tag keeps the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.commits import DEFAULT_COMMIT_RETRIES, commit_with_retries

__all__ = ["DEFAULT_TAG_PATTERN", "TagResult", "tag_name", "tag_snapshot"]

DEFAULT_TAG_PATTERN = "complete-{start:%Y-%m-%dT%H}"


@dataclass(frozen=True)
class TagResult:
    name: str
    snapshot_id: int
    created: bool  # False: the tag already named this snapshot

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.name, "snapshot_id": self.snapshot_id, "created": self.created}


def tag_name(pattern: str, start: datetime, end: datetime) -> str:
    """The tag of window ``[start, end)``: ``pattern`` formatted with ``start`` and ``end``."""
    try:
        name = pattern.format(start=start, end=end)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInputError(
            f"tag pattern {pattern!r} cannot be formatted ({exc!r}); use {{start:...}} and {{end:...}}"
        ) from None
    if not name.strip() or name == "main" or "/" in name or "'" in name:
        raise InvalidInputError(f"tag pattern {pattern!r} gives an unusable tag name {name!r}")
    return name


def _max_age_ms(max_age: timedelta | None) -> int | None:
    if max_age is None:
        return None
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        raise InvalidInputError(f"tag max age must be a positive timedelta or None, got {max_age!r}")
    return int(max_age.total_seconds() * 1000)


def tag_snapshot(
    catalog: Any,
    identifier: str,
    snapshot_id: int,
    name: str,
    *,
    max_age: timedelta | None = None,
    retries: int = DEFAULT_COMMIT_RETRIES,
) -> TagResult:
    """Tag ``snapshot_id`` of ``identifier`` as ``name`` (idempotent, see the module docstring).

    :param max_age: the tag's ``max-ref-age-ms``; ``None`` keeps it until removed.
    :raises IcebergError: the name is taken by another snapshot or a branch, or the snapshot is gone.
    """
    age_ms = _max_age_ms(max_age)

    def attempt(table: Any) -> TagResult:
        meta = table.metadata
        ref = meta.refs.get(name)
        if ref is not None:
            if str(ref.snapshot_ref_type) != "tag":
                raise IcebergError(
                    f"table {identifier}: {name!r} is a branch, not a tag; choose another pattern"
                )
            if ref.snapshot_id == snapshot_id:
                return TagResult(name, snapshot_id, created=False)
            raise IcebergError(
                f"table {identifier}: tag {name!r} already names snapshot {ref.snapshot_id}, not "
                f"{snapshot_id}; nothing changed (remove the tag first to move it)"
            )
        if meta.snapshot_by_id(snapshot_id) is None:
            raise IcebergError(f"table {identifier}: snapshot {snapshot_id} does not exist (expired?)")
        table.manage_snapshots().create_tag(snapshot_id, name, max_ref_age_ms=age_ms).commit()
        return TagResult(name, snapshot_id, created=True)

    return commit_with_retries(catalog, identifier, attempt, retries=retries)
