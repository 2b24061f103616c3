"""Reading a table's health from a real pyiceberg table (a SQLite catalog in a temporary directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform, IdentityTransform
from pyiceberg.typedef import Record
from pyiceberg.types import LongType, NestedField, StringType

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.health_read import check_table_identifier, partition_path, read_table_health
from airflow_provider_rtp.iceberg.useless_deletes import UselessDeleteBudget

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "change_hour", StringType(), required=True),
)
ARROW = pa.schema(
    [pa.field("id", pa.int64(), nullable=False), pa.field("change_hour", pa.string(), nullable=False)]
)


def _catalog(tmp_path: Path) -> SqlCatalog:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("ods")
    return catalog


def _rows(ids: list[int], hour: str) -> pa.Table:
    return pa.Table.from_pylist([{"id": i, "change_hour": hour} for i in ids], schema=ARROW)


@pytest.fixture
def table(tmp_path: Path) -> Any:
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "change_hour"))
    t = _catalog(tmp_path).create_table("ods.orders", SCHEMA, partition_spec=spec)
    t.append(_rows([1, 2, 3], "2026-12-05-10"))
    t.append(_rows([4], "2026-12-05-10"))
    t.append(_rows([5, 6], "2026-12-05-11"))
    return t


def test_partitions_counts_and_snapshots(table: Any) -> None:
    h = read_table_health(table, "ods.orders", useless_budget=UselessDeleteBudget())
    assert [p.partition for p in h.partitions] == ["change_hour=2026-12-05-10", "change_hour=2026-12-05-11"]
    first, second = h.partitions
    assert (first.data_files, first.data_records, first.small_data_files) == (2, 4, 2)
    assert (second.data_files, second.data_records, second.delete_files) == (1, 2, 0)
    sizes = [(t.file.partition[0], t.file.file_size_in_bytes) for t in table.scan().plan_files()]
    assert first.data_bytes == sum(n for hour, n in sizes if hour == "2026-12-05-10")
    assert h.snapshots == 3 and h.snapshot_id == table.current_snapshot().snapshot_id
    assert h.oldest_snapshot_ms == min(s.timestamp_ms for s in table.metadata.snapshots)
    assert [(r.name, r.type) for r in h.refs] == [("main", "branch")]
    assert h.metadata_file_bytes and h.metadata_file_bytes > 0
    assert h.metadata_log_files == len(table.metadata.metadata_log) and h.metadata_log_missing == 0
    assert h.useless_equality_deletes == 0 and h.useless_note == "exact (no equality deletes)"
    assert second.last_updated_ms == table.current_snapshot().timestamp_ms


def test_an_older_snapshot_and_an_unknown_one(table: Any) -> None:
    first = table.metadata.snapshots[0].snapshot_id
    h = read_table_health(table, "ods.orders", snapshot_id=first)
    assert [(p.partition, p.data_records) for p in h.partitions] == [("change_hour=2026-12-05-10", 3)]
    assert h.useless_equality_deletes is None and "not asked" in h.useless_note
    with pytest.raises(InvalidInputError, match="has no snapshot 12345"):
        read_table_health(table, "ods.orders", snapshot_id=12345)


def test_small_files_follow_the_threshold(table: Any) -> None:
    h = read_table_health(table, "ods.orders", small_file_bytes=1)
    assert h.small_file_bytes == 1 and h.total("small_data_files") == 0


def test_partition_paths_of_other_transforms_and_none(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    bucketed = catalog.create_table(
        "ods.b",
        SCHEMA,
        partition_spec=PartitionSpec(PartitionField(1, 1000, BucketTransform(4), "id_bucket")),
    )
    assert partition_path(bucketed, bucketed.spec().spec_id, Record(3)) == "id_bucket=3"
    hourly = catalog.create_table(
        "ods.s",
        SCHEMA,
        partition_spec=PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "hour / key")),
    )
    assert partition_path(hourly, hourly.spec().spec_id, Record("a b/c")) == "hour+%2F+key=a+b%2Fc"
    plain = catalog.create_table("ods.p", SCHEMA)
    plain.append(_rows([1], "x"))
    (f,) = [t.file for t in plain.scan().plan_files()]
    assert partition_path(plain, f.spec_id, f.partition) == ""
    assert [p.partition for p in read_table_health(plain, "ods.p").partitions] == [""]


def test_an_empty_table_has_no_partitions(tmp_path: Path) -> None:
    h = read_table_health(_catalog(tmp_path).create_table("ods.e", SCHEMA), "ods.e")
    assert h.snapshot_id is None and h.partitions == () and h.snapshots == 0


@pytest.mark.parametrize("bad", ["orders", "ods..orders", ".orders", "ods.", "ods. orders", ""])
def test_malformed_identifiers_are_named(bad: str) -> None:
    with pytest.raises(InvalidInputError, match=r"namespace\.table"):
        check_table_identifier(bad)


@pytest.mark.parametrize(
    "good", ["ods.orders", "lake.ods.orders", "/data/wh/ods/orders", "s3://b/ods/orders"]
)
def test_good_identifiers_pass(good: str) -> None:
    assert check_table_identifier(good) == good
