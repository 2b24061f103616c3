"""Snapshot expiry, committed beside a running Flink writer, and the files it frees.

The plan (:mod:`~airflow_provider_rtp.iceberg.expiry`) is computed on a freshly loaded
table and committed with two requirements: the table is the same (uuid) and main's head
has not moved. A Flink commit in between fails the commit; the table is loaded again and
the plan recomputed (bounded retries, :func:`~.commits.commit_with_retries`).

pyiceberg removes snapshots from the metadata but deletes no file. After the commit, the
files reachable only from the expired snapshots are deleted: their manifest lists, and the
manifests and data/delete files no snapshot of the freshly reloaded table reaches
(:mod:`~airflow_provider_rtp.iceberg.files`). A file that cannot be deleted is reported and
left for the orphan cleanup.

pyiceberg writes each expired snapshot's children without a parent id (Java keeps the
dangling id), so after expiry main's oldest retained snapshot has no parent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtp.completeness.snapshots import FLINK_JOB_ID
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.commits import (
    DEFAULT_COMMIT_RETRIES,
    commit_with_retries,
    load_table,
    table_refs,
)
from airflow_provider_rtp.iceberg.expiry import DecisionRef, ExpiryPlan, ExpiryPolicy, plan_expiry
from airflow_provider_rtp.iceberg.files import ReachableFiles, manifest_cache, reachable_files, snapshot_files
from airflow_provider_rtp.iceberg.snapshot_log import observe_table

__all__ = ["ExpiryResult", "delete_paths", "expire_snapshots"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiryResult:
    """What an expiry did; ``to_dict`` is its XCom."""

    plan: ExpiryPlan
    committed: bool
    attempts: int
    deleted: tuple[str, ...] = ()
    failed: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.plan.to_dict(),
            "committed": self.committed,
            "attempts": self.attempts,
            "expired_count": len(self.plan.to_expire) if self.committed else 0,
            "deleted_files": len(self.deleted),
            "failed_deletes": list(self.failed),
        }


def _require_flink(table: Any, identifier: str) -> None:
    snaps = table.metadata.snapshots
    if snaps and not any(
        s.summary is not None and FLINK_JOB_ID in s.summary.additional_properties for s in snaps
    ):
        raise InvalidInputError(
            f"table {identifier} was not written by the Flink Iceberg sink: no snapshot carries "
            f"{FLINK_JOB_ID}; pass flink_table=False to expire it without Flink restore points"
        )


def expire_snapshots(
    catalog: Any,
    identifier: str,
    policy: ExpiryPolicy,
    *,
    decisions: Sequence[DecisionRef] = (),
    now: datetime | None = None,
    flink_table: bool = True,
    dry_run: bool = False,
    retries: int = DEFAULT_COMMIT_RETRIES,
) -> ExpiryResult:
    """Plan, commit and clean up one expiry of ``identifier`` in ``catalog`` (pyiceberg).

    :param decisions: persisted decisions of the table (see ``DecisionStore.decisions_since``).
    :param flink_table: refuse a table no Flink sink has written (a likely wrong name).
    :param dry_run: plan only; nothing is committed or deleted.
    :raises InvalidInputError: bad arguments, or not a Flink table while ``flink_table``.
    :raises IcebergError: unknown table, or commits kept conflicting.
    """
    from pyiceberg.table.update import (
        AssertRefSnapshotId,
        AssertTableUUID,
        RemoveSnapshotRefUpdate,
        RemoveSnapshotsUpdate,
    )

    attempts = 0

    def attempt(table: Any) -> tuple[ExpiryPlan, Any, bool]:
        nonlocal attempts
        attempts += 1
        if flink_table:
            _require_flink(table, identifier)
        meta = table.metadata
        plan = plan_expiry(
            observe_table(table, identifier),
            table_refs(meta),
            policy,
            now or datetime.now(tz=UTC),
            decisions,
        )
        if dry_run or not (plan.to_expire or plan.refs_to_remove):
            return plan, table, False
        # pydantic models built by field name (pyiceberg's own calls do the same; mypy sees only aliases)
        updates: tuple[Any, ...] = tuple(
            RemoveSnapshotRefUpdate(ref_name=n)  # type: ignore[call-arg]
            for n in plan.refs_to_remove
        )
        if plan.to_expire:
            updates += (RemoveSnapshotsUpdate(snapshot_ids=list(plan.to_expire)),)  # type: ignore[call-arg]
        requirements = (
            AssertTableUUID(uuid=meta.table_uuid),
            AssertRefSnapshotId(ref="main", snapshot_id=meta.current_snapshot_id),  # type: ignore[call-arg]
            *(
                AssertRefSnapshotId(ref=n, snapshot_id=meta.refs[n].snapshot_id)  # type: ignore[call-arg]
                for n in plan.refs_to_remove
            ),
        )
        catalog.commit_table(table, requirements, updates)
        return plan, table, True

    plan, before, committed = commit_with_retries(catalog, identifier, attempt, retries=retries)
    if not committed or not plan.to_expire:
        return ExpiryResult(plan, committed, attempts)
    # What only the expired snapshots reached, against everything the table reaches now.
    cache = manifest_cache(before.io)
    expired_ids = set(plan.to_expire)
    gone = snapshot_files(
        before.io, [s for s in before.metadata.snapshots if s.snapshot_id in expired_ids], cache
    )
    after = load_table(catalog, identifier)
    freed = gone - reachable_files(after, cache)
    deleted, failed = delete_paths(after.io, freed, before.metadata.location)
    log.info(
        "table %s: expired %d snapshots, deleted %d files (%d failed)",
        identifier,
        len(plan.to_expire),
        len(deleted),
        len(failed),
    )
    return ExpiryResult(plan, committed, attempts, deleted, failed)


def delete_paths(
    io: Any, files: ReachableFiles | Sequence[str], location: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Delete normalized paths through the table's FileIO; ``(deleted, failed)``.

    Content files go first and manifest lists last, so an interrupted run leaves manifests
    that still name missing files only in lists no snapshot reads.
    """
    if isinstance(files, ReachableFiles):
        ordered = [*sorted(files.content_files), *sorted(files.manifests), *sorted(files.manifest_lists)]
    else:
        ordered = list(files)
    deleted, failed = [], []
    for path in ordered:
        try:
            io.delete(_with_scheme(path, location))
            deleted.append(path)
        except OSError as exc:
            log.warning("could not delete %s: %s", path, exc)
            failed.append(path)
    return tuple(deleted), tuple(failed)


def _with_scheme(path: str, location: str) -> str:
    """Back from :func:`~.files.normalize`'s form to a location the table's FileIO opens."""
    scheme, sep, _ = location.partition("://")
    if sep and scheme not in ("file",):
        return f"{scheme}://{path}"
    return path
