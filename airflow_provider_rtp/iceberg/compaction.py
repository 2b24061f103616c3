"""Compaction of a Flink-written table, run as the provider's maintenance job on Flink.

The job (``rtp.jobs.maintenance.LakeCompactionJob``, built from ``stack/jobs/maintenance``)
plans on the table's current snapshot S, rewrites every data file of the chosen partitions
with its deletes applied, and commits once: the new files carry S's data sequence number, so
equality deletes the live writer commits meanwhile still apply to them, and every delete file
those partitions held at S is dropped. See the job's javadoc for the full argument.

This module is what the Python side needs around it: the job's arguments, the name that makes
a run idempotent, how to tell a commit conflict from any other failure, and the result, read
back from the commit's snapshot summary (the job tags it with the run id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "COMPACTION_ENTRY_CLASS",
    "FLINK_JOB_KEY",
    "RUN_ID_KEY",
    "CompactionRequest",
    "CompactionResult",
    "compaction_job_name",
    "find_compaction",
    "is_commit_conflict",
    "partition_selection",
]

COMPACTION_ENTRY_CLASS = "rtp.jobs.maintenance.LakeCompactionJob"
RUN_ID_KEY = "rtp.maintenance.run-id"
PARTITIONS_KEY = "rtp.maintenance.partitions"
FLINK_JOB_KEY = "rtp.maintenance.flink-job-id"
START_SNAPSHOT_KEY = "rtp.maintenance.start-snapshot-id"
START_SEQUENCE_KEY = "rtp.maintenance.start-sequence-number"

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
# Iceberg's messages when a concurrent commit invalidated the rewrite: run it again on a new
# starting snapshot. Anything else (bad input, a broken file) is not retried.
_CONFLICTS = (
    "ValidationException",
    "CommitFailedException",
    "found new delete for replaced data file",
    "found new position delete for replaced data file",
    "Missing required files to delete",
    "Cannot commit",
)


@dataclass(frozen=True)
class CompactionRequest:
    """What to compact.

    :param table: ``namespace.table`` in the catalog of the Iceberg connection.
    :param partitions: partition paths as Iceberg writes them (``change_hour=2026-12-05-10``,
        ``""`` for an unpartitioned table), or ``None`` for every partition.
    :param target_file_size_bytes: size of the files written; ``None``: the table's
        ``write.target-file-size-bytes``.
    """

    table: str
    partitions: tuple[str, ...] | None
    target_file_size_bytes: int | None = None
    parallelism: int = 1

    def __post_init__(self) -> None:
        if not _TABLE.match(self.table):
            raise InvalidInputError(
                f"table must be 'namespace.table' of plain identifiers, got {self.table!r}"
            )
        if self.partitions is not None:
            if not self.partitions:
                raise InvalidInputError(f"no partition of {self.table} chosen: nothing to compact")
            for path in self.partitions:
                if "\n" in path or "\0" in path:
                    raise InvalidInputError(f"partition path {path!r} contains a control character")
        if self.target_file_size_bytes is not None and self.target_file_size_bytes < 1024 * 1024:
            raise InvalidInputError(
                f"target_file_size_bytes must be at least 1 MiB, got {self.target_file_size_bytes}"
            )
        if self.parallelism < 1:
            raise InvalidInputError(f"parallelism must be >= 1, got {self.parallelism}")

    def job_arguments(
        self, run_id: str, catalog_name: str, catalog_properties: Mapping[str, str]
    ) -> list[str]:
        """The program arguments. They hold the catalog's credentials: never log or store them."""
        args = ["--table", self.table, "--run-id", run_id, "--catalog-name", catalog_name]
        for key, value in sorted(catalog_properties.items()):
            args += ["--catalog-property", f"{key}={value}"]
        if self.partitions is None:
            args += ["--all-partitions", "true"]
        else:
            for path in self.partitions:
                args += ["--partition", path]
        if self.target_file_size_bytes is not None:
            args += ["--target-file-size-bytes", str(self.target_file_size_bytes)]
        args += ["--parallelism", str(self.parallelism)]
        return args


def compaction_job_name(catalog_name: str, table: str) -> str:
    """One compaction per table at a time: a live job of this name is waited for, not doubled."""
    return f"rtp-compact {catalog_name}.{table}"


def is_commit_conflict(message: str) -> bool:
    """Whether a failed run lost a race with another commit (worth running again)."""
    return any(marker in message for marker in _CONFLICTS)


@dataclass(frozen=True)
class CompactionResult:
    """The compaction commit, as its snapshot summary tells it."""

    run_id: str
    flink_job_id: str
    snapshot_id: int
    sequence_number: int | None
    # The snapshot the rewrite read (S) and the data sequence number its files carry.
    start_snapshot_id: int
    start_sequence_number: int
    timestamp_ms: int
    partitions: tuple[str, ...]
    replaced_data_files: int
    replaced_delete_files: int
    added_data_files: int
    rewritten_records: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "flink_job_id": self.flink_job_id,
            "snapshot_id": self.snapshot_id,
            "sequence_number": self.sequence_number,
            "start_snapshot_id": self.start_snapshot_id,
            "start_sequence_number": self.start_sequence_number,
            "timestamp_ms": self.timestamp_ms,
            "partitions": list(self.partitions),
            "replaced_data_files": self.replaced_data_files,
            "replaced_delete_files": self.replaced_delete_files,
            "added_data_files": self.added_data_files,
            "rewritten_records": self.rewritten_records,
        }


def find_compaction(
    snapshots: Iterable[Any], value: str, *, key: str = RUN_ID_KEY
) -> CompactionResult | None:
    """The compaction commit whose summary has ``key`` = ``value`` (the run id, or the Flink job id
    with ``key=FLINK_JOB_KEY``) among pyiceberg snapshots, or None if it never committed.

    A run whose chosen partitions held no file commits nothing; the caller tells that apart
    from a lost commit by the job's state (FINISHED).
    """
    for snap in snapshots:
        summary = _summary(snap)
        if summary.get(key) != value:
            continue
        partitions = summary.get(PARTITIONS_KEY, "")
        return CompactionResult(
            run_id=summary.get(RUN_ID_KEY, ""),
            flink_job_id=summary.get(FLINK_JOB_KEY, ""),
            snapshot_id=int(snap.snapshot_id),
            sequence_number=getattr(snap, "sequence_number", None),
            start_snapshot_id=_int(summary, START_SNAPSHOT_KEY),
            start_sequence_number=_int(summary, START_SEQUENCE_KEY),
            timestamp_ms=int(snap.timestamp_ms),
            partitions=tuple(p for p in partitions.split(",") if p) if partitions else ("",),
            replaced_data_files=_int(summary, "deleted-data-files"),
            replaced_delete_files=_int(summary, "removed-delete-files"),
            added_data_files=_int(summary, "added-data-files"),
            rewritten_records=_int(summary, "added-records"),
        )
    return None


def _summary(snap: Any) -> Mapping[str, str]:
    summary = getattr(snap, "summary", None)
    if summary is None:
        return {}
    extra = getattr(summary, "additional_properties", None)
    return dict(extra) if extra is not None else dict(summary)


def _int(summary: Mapping[str, str], key: str) -> int:
    try:
        return int(summary.get(key, 0))
    except ValueError:
        return 0


def partition_selection(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"all"``/``None`` -> every partition; a path or a list of paths -> those."""
    if value is None or value == "all":
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)
