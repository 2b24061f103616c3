"""Committing table changes beside a Flink writer that commits every checkpoint.

pyiceberg's SQL catalog swaps the metadata location only if it is still the one the change
was based on; a writer committing every 10 s makes that fail now and then. Each attempt
therefore starts from a freshly loaded table and recomputes its change: a plan made on
metadata that has moved on is never applied blindly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.expiry import Ref, RefType

__all__ = ["DEFAULT_COMMIT_RETRIES", "commit_with_retries", "load_table", "table_refs"]

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_COMMIT_RETRIES = 5


def load_table(catalog: Any, identifier: str) -> Any:
    """``namespace.table`` from a pyiceberg catalog, or an :class:`IcebergError` naming it."""
    from pyiceberg.exceptions import NoSuchTableError

    if not isinstance(identifier, str) or identifier.count(".") < 1:
        raise InvalidInputError(f"table identifier must be 'namespace.table', got {identifier!r}")
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError as exc:
        raise IcebergError(
            f"Iceberg table {identifier!r} does not exist in catalog {catalog.name!r}"
        ) from exc


def commit_with_retries(
    catalog: Any,
    identifier: str,
    attempt: Callable[[Any], T],
    *,
    retries: int = DEFAULT_COMMIT_RETRIES,
    backoff_s: float = 0.5,
) -> T:
    """``attempt(table)`` on a freshly loaded table, again on ``CommitFailedException``.

    :param attempt: computes its change from the table it is given and commits it.
    :raises IcebergError: still conflicting after ``retries`` attempts.
    """
    from pyiceberg.exceptions import CommitFailedException

    if retries < 1:
        raise InvalidInputError(f"retries must be >= 1, got {retries!r}")
    for n in range(1, retries + 1):
        table = load_table(catalog, identifier)
        try:
            return attempt(table)
        except CommitFailedException as exc:
            if n == retries:
                raise IcebergError(
                    f"table {identifier}: commit still conflicts after {retries} attempts ({exc}); "
                    "another writer commits too often for this change, retry later"
                ) from exc
            log.info(
                "table %s: concurrent commit (%s), attempt %d of %d again", identifier, exc, n + 1, retries
            )
            time.sleep(backoff_s * n)
    raise AssertionError("unreachable")


def table_refs(metadata: Any) -> list[Ref]:
    """The refs of pyiceberg ``TableMetadata`` as plain data."""
    return [
        Ref(
            name,
            ref.snapshot_id,
            RefType(str(ref.snapshot_ref_type)),
            ref.max_ref_age_ms,
        )
        for name, ref in metadata.refs.items()
    ]
