"""The fast snapshot-log reader gives what pyiceberg's full parse gives, on plain metadata files."""

from __future__ import annotations

import gc
import io
import json
import uuid
from typing import Any

import pytest
from pyiceberg.serializers import FromByteStream

from airflow_provider_rtp.completeness.snapshots import Operation, main_ancestry
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


def test_known_snapshots_are_reused_and_new_ones_built() -> None:
    meta = _metadata(10)
    _, first = table_snapshots_from_metadata(json.dumps(meta).encode(), "ods.t")
    more = _metadata(11)
    more["table-uuid"] = meta["table-uuid"]
    _, second = table_snapshots_from_metadata(json.dumps(more).encode(), "ods.t", previous=first)
    assert second.by_id()[1003] is first.by_id()[1003]
    assert second.current_snapshot_id == 1010 and 1010 not in first.by_id()
    assert second == observe_table(_Table(json.dumps(more).encode()), "ods.t")


def test_cycle_collection_resumes_after_parsing() -> None:
    assert gc.isenabled()
    table_snapshots_from_metadata(json.dumps(_metadata(3)).encode(), "ods.t")
    assert gc.isenabled()
    with pytest.raises(IcebergError):
        table_snapshots_from_metadata(b"{", "ods.t")
    assert gc.isenabled()


def test_not_an_object_is_named() -> None:
    with pytest.raises(IcebergError, match=r"ods\.t"):
        table_snapshots_from_metadata(b"[1, 2]", "ods.t")
