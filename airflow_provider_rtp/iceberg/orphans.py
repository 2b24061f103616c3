"""Orphan files: under the table's location, reached by no snapshot or metadata file, and old.

An orphan is left by a failed or concurrent commit, a killed writer or a crashed cleanup.
A file is one when (:func:`find_orphans`, pure):

- no snapshot and no metadata file reaches it (:mod:`~airflow_provider_rtp.iceberg.files`), and
- it is older than ``min_age`` (default 3 days). A writer's new files are unreachable until its
  commit, so ``min_age`` must exceed the time a writer takes from writing to committing: at
  least an hour (:data:`HARD_FLOOR`) and at least the floor the caller derives from the running
  writers' checkpoint intervals; a smaller value is refused.

The Flink sink also writes temporary manifests under ``metadata/`` named
``<flinkJobId>-<operatorId>-<subtask>-<attempt>-<checkpoint>-<n>.avro`` (Iceberg's
``ManifestOutputFileFactory``); its checkpointed state names the ones of checkpoints not yet
committed, and a restored committer reads them. So they are never deleted for a job that is
running or whose state may still be restored (``retained_jobs``), whatever their age; and
when the running jobs are unknown, none is deleted.

A directory below the location with a table of its own (``<dir>/metadata/*.metadata.json``)
is another table's and is left alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.commits import load_table
from airflow_provider_rtp.iceberg.files import normalize, reachable_files

__all__ = [
    "DEFAULT_MIN_AGE",
    "HARD_FLOOR",
    "ListedFile",
    "OrphanPlan",
    "OrphanPolicy",
    "delete_orphan_files",
    "find_orphans",
    "flink_manifest_job",
    "list_files",
]

log = logging.getLogger(__name__)

DEFAULT_MIN_AGE = timedelta(days=3)
HARD_FLOOR = timedelta(hours=1)
_FLINK_MANIFEST = re.compile(r"^(?P<job>[0-9a-f]{32})-[^/]+\.avro$")


@dataclass(frozen=True)
class ListedFile:
    """A file under the table location: normalized path, size in bytes, modification time (UTC)."""

    path: str
    size: int
    mtime: datetime


@dataclass(frozen=True)
class OrphanPolicy:
    """:param min_age: only files older than this are orphans.
    :param writer_floor: the least ``min_age`` the running writers allow (a few checkpoint intervals).
    """

    min_age: timedelta = DEFAULT_MIN_AGE
    writer_floor: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        for name in ("min_age", "writer_floor"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(0):
                raise InvalidInputError(f"{name} must be a non-negative timedelta, got {value!r}")
        floor = max(HARD_FLOOR, self.writer_floor)
        if self.min_age < floor:
            raise InvalidInputError(
                f"min_age {self.min_age} is below the floor {floor} (at least {HARD_FLOOR}, and a few "
                "checkpoint intervals of the running writers): files a writer is about to commit would "
                "be deleted"
            )


@dataclass(frozen=True)
class OrphanPlan:
    orphans: tuple[ListedFile, ...]
    listed: int
    too_young: int
    flink_state: tuple[str, ...]  # unreachable temporary manifests kept for a Flink job's state

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.orphans)


def flink_manifest_job(path: str) -> str | None:
    """The Flink job id of a sink's temporary manifest under ``metadata/``, else ``None``."""
    parent, _, name = path.rpartition("/")
    if not parent.endswith("/metadata") and parent != "metadata":
        return None
    m = _FLINK_MANIFEST.match(name)
    return m.group("job") if m else None


def _nested_tables(root: str, paths: Sequence[str]) -> list[str]:
    roots = set()
    for path in paths:
        parent, _, name = path.rpartition("/")
        if name.endswith(".metadata.json") and parent.endswith("/metadata"):
            table_root = parent.removesuffix("/metadata")
            if table_root != root:
                roots.add(table_root + "/")
    return sorted(roots)


def find_orphans(
    root: str,
    listing: Sequence[ListedFile],
    reachable: Collection[str],
    now: datetime,
    policy: OrphanPolicy,
    *,
    running_jobs: Collection[str] | None,
    retained_jobs: Collection[str] = (),
) -> OrphanPlan:
    """The orphans among ``listing`` (normalized paths under ``root``), see the module docstring.

    :param running_jobs: ids of every Flink job not ended; ``None`` when unknown.
    :param retained_jobs: ids of ended jobs whose checkpoints or savepoints may still be restored.
    """
    if now.tzinfo is None:
        raise InvalidInputError(f"now must be timezone-aware, got {now!r}")
    root = normalize(root).rstrip("/")
    cutoff = now - policy.min_age
    nested = _nested_tables(root, [f.path for f in listing])
    protected_jobs = None if running_jobs is None else {*running_jobs, *retained_jobs}
    orphans, flink_state, too_young = [], [], 0
    for f in listing:
        if f.path in reachable or any(f.path.startswith(n) for n in nested):
            continue
        job = flink_manifest_job(f.path)
        if job is not None and (protected_jobs is None or job in protected_jobs):
            flink_state.append(f.path)
            continue
        if f.mtime >= cutoff:
            too_young += 1
            continue
        orphans.append(f)
    return OrphanPlan(tuple(orphans), len(listing), too_young, tuple(flink_state))


def _filesystem(io: Any, location: str) -> tuple[Any, str]:
    """The pyarrow filesystem the table's FileIO uses (local, S3 with its properties) and the root."""
    from pyarrow import fs as pafs
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if isinstance(io, PyArrowFileIO):
        scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
        return io.fs_by_scheme(scheme, netloc), path
    filesystem, path = pafs.FileSystem.from_uri(
        location if "://" in location else f"file://{normalize(location)}"
    )
    return filesystem, path


def list_files(io: Any, location: str) -> tuple[Any, list[ListedFile]]:
    """Every file under ``location`` with size and mtime, and the filesystem to delete them with."""
    from pyarrow import fs as pafs

    filesystem, root = _filesystem(io, location)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise IcebergError(f"cannot list the table location {location}: {exc}") from exc
    listed = [
        ListedFile(normalize(i.path), int(i.size or 0), datetime.fromtimestamp(i.mtime_ns / 1e9, tz=UTC))
        for i in infos
        if i.type == pafs.FileType.File
    ]
    return filesystem, listed


@dataclass(frozen=True)
class OrphanResult:
    table: str
    dry_run: bool
    plan: OrphanPlan
    deleted: tuple[str, ...]
    failed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "dry_run": self.dry_run,
            "orphans": [f.path for f in self.plan.orphans],
            "orphan_count": len(self.plan.orphans),
            "total_bytes": self.plan.total_bytes,
            "listed": self.plan.listed,
            "too_young": self.plan.too_young,
            "kept_flink_state": list(self.plan.flink_state),
            "deleted": list(self.deleted),
            "failed": list(self.failed),
        }


def delete_orphan_files(
    catalog: Any,
    identifier: str,
    policy: OrphanPolicy,
    *,
    running_jobs: Collection[str] | None,
    retained_jobs: Collection[str] = (),
    dry_run: bool = True,
    now: datetime | None = None,
) -> OrphanResult:
    """List, classify and (unless ``dry_run``) delete the orphans of ``identifier``.

    The table is listed first and its reachable files read after, so a file committed while
    listing is reachable, never an orphan.
    """
    table = load_table(catalog, identifier)
    filesystem, listing = list_files(table.io, table.metadata.location)
    now = now or datetime.now(tz=UTC)
    reachable = reachable_files(load_table(catalog, identifier)).all()
    plan = find_orphans(
        table.metadata.location,
        listing,
        reachable,
        now,
        policy,
        running_jobs=running_jobs,
        retained_jobs=retained_jobs,
    )
    deleted, failed = [], []
    if not dry_run:
        for f in plan.orphans:
            try:
                filesystem.delete_file(f.path)
                deleted.append(f.path)
            except OSError as exc:
                log.warning("could not delete orphan %s: %s", f.path, exc)
                failed.append(f.path)
    log.info(
        "table %s: %d orphans (%d bytes) among %d files%s",
        identifier,
        len(plan.orphans),
        plan.total_bytes,
        plan.listed,
        " (dry run)" if dry_run else f", {len(deleted)} deleted",
    )
    return OrphanResult(identifier, dry_run, plan, tuple(deleted), tuple(failed))
