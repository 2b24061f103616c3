"""A table's health as plain data, and the pure verdict on what maintenance it needs.

A Flink sink commits every checkpoint (every 10 s here): each commit adds a few
small data files, equality-delete files, a snapshot and a metadata file. The
report counts what that leaves behind, per partition and per table; the verdict
says, per action, whether it is due and why, with the figures:

- ``compact``: partitions with delete files or too many small files, worst first;
- ``expire``: too many or too old snapshots, or too many metadata bytes;
- ``clean``: orphan files, from a summary the caller supplies (``unknown`` without one).

Reading the table is :mod:`.health_read`; the text table is :mod:`.health_format`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from airflow_provider_rtp.completeness._time import fmt_duration
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "DEFAULT_SMALL_FILE_BYTES",
    "DEFAULT_TARGET_FILE_SIZE_BYTES",
    "PROPERTIES_SHOWN",
    "TARGET_FILE_SIZE",
    "Action",
    "ActionVerdict",
    "HealthReport",
    "HealthThresholds",
    "OrphanSummary",
    "PartitionHealth",
    "RefInfo",
    "TableHealth",
    "fmt_bytes",
    "judge_health",
    "small_file_threshold",
]

MiB = 1024 * 1024
TARGET_FILE_SIZE = "write.target-file-size-bytes"
DEFAULT_TARGET_FILE_SIZE_BYTES = 512 * MiB  # Iceberg's default for the property above
# A file under 32 MiB costs more to open, plan and read the footer of than it holds; a
# 10-s-checkpoint writer makes files of kilobytes, so any threshold from 8 to 128 MiB sorts
# them alike, and one fixed figure keeps counts comparable between tables.
DEFAULT_SMALL_FILE_BYTES = 32 * MiB
# Properties that decide how files and metadata grow, shown in the report when set.
PROPERTIES_SHOWN = (
    TARGET_FILE_SIZE,
    "write.upsert.enabled",
    "write.metadata.delete-after-commit.enabled",
    "write.metadata.previous-versions-max",
    "history.expire.max-snapshot-age-ms",
    "history.expire.min-snapshots-to-keep",
    "history.expire.max-ref-age-ms",
    "commit.manifest.min-count-to-merge",
    "commit.manifest-merge.enabled",
)


def small_file_threshold(properties: Mapping[str, str]) -> int:
    """32 MiB, or a quarter of the table's target file size when the table aims lower."""
    raw = properties.get(TARGET_FILE_SIZE)
    try:
        target = int(raw) if raw is not None else DEFAULT_TARGET_FILE_SIZE_BYTES
    except ValueError:
        raise InvalidInputError(f"table property {TARGET_FILE_SIZE}={raw!r} is not a byte count") from None
    return max(1, min(DEFAULT_SMALL_FILE_BYTES, target // 4))


def fmt_bytes(n: int | None) -> str:
    """``512 B``, ``3.4 KiB``, ``120 MiB``, ``1.2 GiB``; ``?`` when unknown."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PartitionHealth:
    """The live files of one partition at the snapshot read.

    ``partition`` is the partition's path as Iceberg writes it (``change_hour=2026-12-05-10``;
    ``""`` unpartitioned): the compaction job selects partitions by this exact string.
    ``useless_equality_deletes`` is None when not computed (see :mod:`.useless_deletes`).
    """

    partition: str
    spec_id: int = 0
    data_files: int = 0
    data_records: int = 0
    data_bytes: int = 0
    small_data_files: int = 0
    equality_delete_files: int = 0
    equality_delete_records: int = 0
    position_delete_files: int = 0
    position_delete_records: int = 0
    delete_bytes: int = 0
    last_updated_ms: int | None = None
    useless_equality_deletes: int | None = None

    @property
    def delete_files(self) -> int:
        return self.equality_delete_files + self.position_delete_files

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "spec_id": self.spec_id,
            "data_files": self.data_files,
            "data_records": self.data_records,
            "data_bytes": self.data_bytes,
            "small_data_files": self.small_data_files,
            "equality_delete_files": self.equality_delete_files,
            "equality_delete_records": self.equality_delete_records,
            "position_delete_files": self.position_delete_files,
            "position_delete_records": self.position_delete_records,
            "delete_bytes": self.delete_bytes,
            "last_updated_ms": self.last_updated_ms,
            "useless_equality_deletes": self.useless_equality_deletes,
        }


@dataclass(frozen=True)
class RefInfo:
    """A branch or tag; ``max_ref_age_ms`` as set on the ref (None: the table's default)."""

    name: str
    type: str
    snapshot_id: int
    max_ref_age_ms: int | None = None


_TOTALS = (
    "data_files",
    "data_records",
    "data_bytes",
    "small_data_files",
    "equality_delete_files",
    "equality_delete_records",
    "position_delete_files",
    "position_delete_records",
    "delete_bytes",
)


@dataclass(frozen=True)
class TableHealth:
    """One table at one snapshot: its partitions, snapshots, refs and metadata files.

    ``metadata_log_bytes`` sums the metadata files the current metadata's log still lists
    (the current file not included); ``metadata_log_missing`` counts listed files already
    gone. ``useless_equality_deletes`` is None when not computed, ``useless_note`` says why.
    """

    table: str
    snapshot_id: int | None
    snapshot_ms: int | None
    read_at_ms: int
    small_file_bytes: int
    partitions: tuple[PartitionHealth, ...] = ()
    snapshots: int = 0
    oldest_snapshot_ms: int | None = None
    refs: tuple[RefInfo, ...] = ()
    metadata_location: str | None = None
    metadata_file_bytes: int | None = None
    metadata_log_files: int = 0
    metadata_log_bytes: int = 0
    metadata_log_missing: int = 0
    properties: Mapping[str, str] = field(default_factory=dict)
    useless_equality_deletes: int | None = None
    useless_note: str = "not computed"

    def total(self, name: str) -> int:
        """The sum of a per-partition count (``data_files``, ``delete_bytes``, …) over partitions."""
        if name not in _TOTALS:
            raise InvalidInputError(f"no per-partition count {name!r}; counts: {', '.join(_TOTALS)}")
        return sum(int(getattr(p, name)) for p in self.partitions)

    @property
    def metadata_bytes(self) -> int:
        """The current metadata file and those its log still lists."""
        return (self.metadata_file_bytes or 0) + self.metadata_log_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "snapshot_id": self.snapshot_id,
            "snapshot_ms": self.snapshot_ms,
            "read_at_ms": self.read_at_ms,
            "small_file_bytes": self.small_file_bytes,
            "totals": {name: self.total(name) for name in _TOTALS} | {"partitions": len(self.partitions)},
            "snapshots": self.snapshots,
            "oldest_snapshot_ms": self.oldest_snapshot_ms,
            "refs": [
                {
                    "name": r.name,
                    "type": r.type,
                    "snapshot_id": r.snapshot_id,
                    "max_ref_age_ms": r.max_ref_age_ms,
                }
                for r in self.refs
            ],
            "metadata": {
                "location": self.metadata_location,
                "file_bytes": self.metadata_file_bytes,
                "log_files": self.metadata_log_files,
                "log_bytes": self.metadata_log_bytes,
                "log_missing": self.metadata_log_missing,
                "total_bytes": self.metadata_bytes,
            },
            "properties": dict(self.properties),
            "useless_equality_deletes": self.useless_equality_deletes,
            "useless_note": self.useless_note,
            "partitions": [p.to_dict() for p in self.partitions],
        }


@dataclass(frozen=True)
class OrphanSummary:
    """Files under the table's location that no metadata references (found by the caller)."""

    files: int
    bytes: int

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> OrphanSummary:
        """``{"files", "bytes"}``, or an orphan-file result (``orphan_count``, ``total_bytes``)."""
        if "orphan_count" in values:
            return cls(int(values["orphan_count"]), int(values.get("total_bytes") or 0))
        if not values or set(values) - {"files", "bytes"}:
            raise InvalidInputError(
                f"orphans must be {{'files': n, 'bytes': n}} or an orphan-file result, got {dict(values)!r}"
            )
        return cls(int(values.get("files", 0)), int(values.get("bytes", 0)))

    def __post_init__(self) -> None:
        if self.files < 0 or self.bytes < 0:
            raise InvalidInputError(
                f"orphan counts cannot be negative, got {self.files} files, {self.bytes} B"
            )


@dataclass(frozen=True)
class HealthThresholds:
    """When an action is due. Every limit is "more than": at the limit nothing is due.

    :param max_small_files: small data files a partition may hold before it needs compacting.
    :param max_delete_files: delete files (equality + position) a partition may hold; 0: any
        delete file asks for compaction, since every read applies it to the older data files.
    :param min_quiet: partitions written within this long are left to the writer (compacting
        the hour a Flink job still writes races its commits); 0: all partitions are judged.
    :param max_snapshot_age: the oldest snapshot may be this old (a 10-s committer makes
        8,640 snapshots a day, each one kept in every metadata file written after it).
    :param max_snapshots: snapshots the table may hold (10,000: about 28 h of 10-s commits).
    :param max_metadata_bytes: the current metadata file plus those its log lists.
    :param max_orphan_files: orphan files tolerated before ``clean`` is due.
    """

    max_small_files: int = 10
    max_delete_files: int = 0
    min_quiet: timedelta = timedelta(0)
    max_snapshot_age: timedelta = timedelta(days=1)
    max_snapshots: int = 10_000
    max_metadata_bytes: int = 256 * MiB
    max_orphan_files: int = 0

    def __post_init__(self) -> None:
        counts = (
            "max_small_files",
            "max_delete_files",
            "max_snapshots",
            "max_metadata_bytes",
            "max_orphan_files",
        )
        bad = [n for n in counts if not isinstance(getattr(self, n), int) or getattr(self, n) < 0]
        if bad:
            raise InvalidInputError(f"thresholds must be non-negative integers: {', '.join(bad)}")
        if self.min_quiet < timedelta(0) or self.max_snapshot_age <= timedelta(0):
            raise InvalidInputError("min_quiet must be >= 0 and max_snapshot_age > 0")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HealthThresholds:
        """From plain values (an operator's argument, a CLI's text): durations in seconds."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise InvalidInputError(
                f"unknown thresholds {sorted(unknown)}; known: {', '.join(sorted(known))}"
            )
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            try:
                if name in ("min_quiet", "max_snapshot_age"):
                    kwargs[name] = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
                elif isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                else:
                    kwargs[name] = int(float(value))
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"threshold {name}: not a number of the right kind: {value!r}"
                ) from None
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            name: value.total_seconds() if isinstance(value, timedelta) else value
            for name, value in self.__dict__.items()
        }


class Action(enum.StrEnum):
    COMPACT = "compact"
    EXPIRE = "expire"
    CLEAN = "clean"


@dataclass(frozen=True)
class ActionVerdict:
    """``due``: True (do it), False (nothing to do) or None (unknown: an input is missing)."""

    action: Action
    due: bool | None
    reason: str
    partitions: tuple[str, ...] = ()  # compact: the partitions to rewrite, worst first

    @property
    def verdict(self) -> str:
        """``compact``/``expire``/``clean``, ``nothing to do`` or ``unknown``."""
        if self.due is None:
            return "unknown"
        return self.action.value if self.due else "nothing to do"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "verdict": self.verdict,
            "due": self.due,
            "reason": self.reason,
            "partitions": list(self.partitions),
        }


def _compact(health: TableHealth, t: HealthThresholds, now_ms: int) -> ActionVerdict:
    quiet_ms = int(t.min_quiet.total_seconds() * 1000)
    wanting, hot = [], 0
    for p in health.partitions:
        if p.delete_files <= t.max_delete_files and p.small_data_files <= t.max_small_files:
            continue
        if quiet_ms and p.last_updated_ms is not None and now_ms - p.last_updated_ms < quiet_ms:
            hot += 1
            continue
        wanting.append(p)
    # Worst first: the most files a rewrite folds away, then the most delete rows reads apply.
    wanting.sort(
        key=lambda p: (
            -(p.delete_files + p.small_data_files),
            -(p.equality_delete_records + p.position_delete_records),
            p.partition,
        )
    )
    rule = f"more than {t.max_delete_files} delete files or {t.max_small_files} small files"
    left = f"; {hot} written within {fmt_duration(t.min_quiet)} left to the writer" if hot else ""
    if not wanting:
        return ActionVerdict(
            Action.COMPACT,
            False,
            f"no partition of {len(health.partitions)} has {rule}{left}.",
        )
    worst = wanting[0]
    return ActionVerdict(
        Action.COMPACT,
        True,
        f"{len(wanting)} of {len(health.partitions)} partitions have {rule}, worst "
        f"{worst.partition or '(unpartitioned)'} with {worst.delete_files} delete files and "
        f"{worst.small_data_files} small files{left}.",
        tuple(p.partition for p in wanting),
    )


def _expire(health: TableHealth, t: HealthThresholds, now_ms: int) -> ActionVerdict:
    age = (
        None
        if health.oldest_snapshot_ms is None
        else timedelta(milliseconds=now_ms - health.oldest_snapshot_ms)
    )
    over = []
    if health.snapshots > t.max_snapshots:
        over.append("snapshots")
    if age is not None and age > t.max_snapshot_age:
        over.append("age")
    if health.metadata_bytes > t.max_metadata_bytes:
        over.append("metadata")
    oldest = (
        ""
        if age is None
        else f", oldest {fmt_duration(timedelta(seconds=int(age.total_seconds())))} old "
        f"(limit {fmt_duration(t.max_snapshot_age)})"
    )
    figures = (
        f"{health.snapshots:,} snapshots (limit {t.max_snapshots:,}){oldest}, "
        f"metadata {fmt_bytes(health.metadata_bytes)} (limit {fmt_bytes(t.max_metadata_bytes)})"
    )
    if not over:
        return ActionVerdict(Action.EXPIRE, False, f"{figures}.")
    return ActionVerdict(Action.EXPIRE, True, f"{figures}: above the limit on {', '.join(over)}.")


def _clean(orphans: OrphanSummary | None, t: HealthThresholds) -> ActionVerdict:
    if orphans is None:
        return ActionVerdict(Action.CLEAN, None, "no orphan-file summary was given, so orphans are unknown.")
    figures = (
        f"{orphans.files:,} orphan files, {fmt_bytes(orphans.bytes)} (limit {t.max_orphan_files:,} files)"
    )
    return ActionVerdict(Action.CLEAN, orphans.files > t.max_orphan_files, f"{figures}.")


def judge_health(
    health: TableHealth,
    thresholds: HealthThresholds | None = None,
    *,
    now_ms: int,
    orphans: OrphanSummary | None = None,
) -> tuple[ActionVerdict, ...]:
    """The verdict per action (compact, expire, clean), in that order; no I/O."""
    t = thresholds or HealthThresholds()
    return (_compact(health, t, now_ms), _expire(health, t, now_ms), _clean(orphans, t))


@dataclass(frozen=True)
class HealthReport:
    """A table's health, the thresholds it was judged by and the verdicts (what XCom carries)."""

    health: TableHealth
    thresholds: HealthThresholds
    verdicts: tuple[ActionVerdict, ...]
    orphans: OrphanSummary | None = None

    @classmethod
    def judge(
        cls,
        health: TableHealth,
        thresholds: HealthThresholds | None = None,
        *,
        now_ms: int | None = None,
        orphans: OrphanSummary | None = None,
    ) -> HealthReport:
        """Judged at ``now_ms`` (default: when the table was read)."""
        t = thresholds or HealthThresholds()
        now = health.read_at_ms if now_ms is None else now_ms
        return cls(health, t, judge_health(health, t, now_ms=now, orphans=orphans), orphans)

    def verdict(self, action: Action) -> ActionVerdict:
        return next(v for v in self.verdicts if v.action is action)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ints, strings, bools, None, lists and dicts only."""
        return {
            **self.health.to_dict(),
            "thresholds": self.thresholds.to_dict(),
            "orphans": None
            if self.orphans is None
            else {"files": self.orphans.files, "bytes": self.orphans.bytes},
            "verdicts": [v.to_dict() for v in self.verdicts],
        }
