"""The fast snapshot-log reader gives what pyiceberg's full parse gives, on plain metadata files."""

from __future__ import annotations

import gc
import io
import json
import uuid
from typing import Any

import pytest
from pyiceberg.serializers import FromByteStream

from airflow_provider_rtp.completeness.snapshots import Operation, main_ancestry, main_commits
from airflow_provider_rtp.exceptions import IcebergError
from airflow_provider_rtp.iceberg import observe_table
from airflow_provider_rtp.iceberg.snapshot_log import table_snapshots_from_metadata

JOB = "f8dde93aa790d7f4d2f5b29fc92205f7"


def _metadata(n: int, *, version: int = 2, empty: bool = False) -> dict[str, Any]:
    snapshots, log, parent = [], [], None
    for i in range(n):
        sid = 1000 + i
        summary: dict[str, str] = {"operation": "append", "added-records": "3", "total-records": str(i)}
        if i % 5 == 4:
            summary["operation"] = "replace"  # compaction: no Flink keys
        else:
            summary |= {
                "flink.job-id": JOB,
                "flink.max-committed-checkpoint-id": str(i + 1),
                "flink.operator-id": "op",
            }
        snap: dict[str, Any] = {"snapshot-id": sid, "timestamp-ms": 1_700_000_000_000 + i, "summary": summary}
        if version == 2:
            snap |= {"sequence-number": i + 1, "manifest-list": f"file:/tmp/snap-{sid}.avro", "schema-id": 0}
        else:
            snap |= {"manifest-list": f"file:/tmp/snap-{sid}.avro"}
        if parent is not None:
            snap["parent-snapshot-id"] = parent
        snapshots.append(snap)
        log.append({"snapshot-id": sid, "timestamp-ms": snap["timestamp-ms"]})
        parent = sid
    schema = {
        "type": "struct",
        "schema-id": 0,
        "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}],
    }
    meta: dict[str, Any] = {
        "format-version": version,
        "table-uuid": str(uuid.uuid4()),
        "location": "file:/tmp/t",
        "last-updated-ms": 1_700_000_000_000,
        "last-column-id": 1,
        "schemas": [schema],
        "current-schema-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}],
        "default-spec-id": 0,
        "last-partition-id": 999,
        "properties": {"flink.max-continuous-empty-commits": "1"},
        "current-snapshot-id": -1 if empty else parent,
        "snapshots": snapshots,
        "snapshot-log": log,
        "metadata-log": [],
        "sort-orders": [{"order-id": 0, "fields": []}],
        "default-sort-order-id": 0,
    }
    if version == 2:
        meta["last-sequence-number"] = n
        if not empty:
            meta["refs"] = {"main": {"snapshot-id": parent, "type": "branch"}}
    else:
        meta["schema"] = schema
        meta["partition-spec"] = []
    return meta


class _Table:
    def __init__(self, raw: bytes) -> None:
        self.metadata = FromByteStream.table_metadata(io.BytesIO(raw))


@pytest.mark.parametrize(("version", "n", "empty"), [(2, 12, False), (1, 7, False), (2, 0, True)])
def test_same_log_as_pyiceberg(version: int, n: int, empty: bool) -> None:
    raw = json.dumps(_metadata(n, version=version, empty=empty)).encode()
    uuid_, fast = table_snapshots_from_metadata(raw, "ods.t")
    assert fast == observe_table(_Table(raw), "ods.t")
    assert uuid_ == json.loads(raw)["table-uuid"]
    assert fast.current_snapshot_id == (None if empty else 1000 + n - 1)
    assert all(
        set(s.summary) <= {"flink.job-id", "flink.max-committed-checkpoint-id", "flink.operator-id"}
        for s in fast.snapshots
    )
    if n:
        assert fast.by_id()[1004].operation is Operation.REPLACE
        assert len(main_ancestry(fast)) == n


def test_a_large_log_leaves_little_for_the_cycle_collector() -> None:
    """20,000 snapshots become columns of ints and strings, not an object per snapshot: nothing
    for the collector to walk on every full collection of a triggerer's heap (nor a reason to pause it)."""
    raw = json.dumps(_metadata(2000)).encode()
    gc.collect()
    before = len(gc.get_objects())
    _, table = table_snapshots_from_metadata(raw, "ods.t")
    assert main_commits(table).of_job(JOB).covering(1000) is not None
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert gc.isenabled()


def test_a_v1_snapshot_without_summary_is_an_append() -> None:
    meta = _metadata(2, version=1)
    del meta["snapshots"][0]["summary"]
    _, table = table_snapshots_from_metadata(json.dumps(meta).encode(), "ods.t")
    assert table.snapshots[0].operation is Operation.APPEND and table.snapshots[0].summary == {}


def test_a_summary_value_that_is_not_a_string_is_named() -> None:
    meta = _metadata(2)
    meta["snapshots"][1]["summary"]["flink.max-committed-checkpoint-id"] = 2
    with pytest.raises(IcebergError, match=r"ods\.t.*flink\.max-committed-checkpoint-id"):
        table_snapshots_from_metadata(json.dumps(meta).encode(), "ods.t")


def test_not_an_object_is_named() -> None:
    with pytest.raises(IcebergError, match=r"ods\.t"):
        table_snapshots_from_metadata(b"[1, 2]", "ods.t")


def test_an_expiry_that_cleared_the_oldest_parent_still_reads_as_truncated() -> None:
    meta = _metadata(6)
    meta["snapshots"] = meta["snapshots"][3:]
    meta["snapshots"][0].pop("parent-snapshot-id")  # what pyiceberg's snapshot removal writes
    raw = json.dumps(meta).encode()
    _, fast = table_snapshots_from_metadata(raw, "ods.t")
    assert fast == observe_table(_Table(raw), "ods.t")
    assert fast.first_snapshot_retained is False and fast.history_truncated
    _, whole = table_snapshots_from_metadata(json.dumps(_metadata(6)).encode(), "ods.t")
    assert whole.first_snapshot_retained is True and not whole.history_truncated
