"""Reading a window as of a snapshot, on a real pyiceberg table (a SQLite catalog in a temporary
directory): both engines give the same rows, time travel holds, the filter renders safely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo, In, IsNull, Not, StartsWith
from pyiceberg.expressions.visitors import bind
from pyiceberg.schema import Schema
from pyiceberg.types import DecimalType, LongType, NestedField, StringType, TimestamptzType

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.window_read import (
    Engine,
    Window,
    chdb_query,
    clickhouse_filter,
    plan_read,
    read_plan,
)

T0 = datetime(2026, 12, 5, 10, tzinfo=UTC)
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "amount", DecimalType(12, 2), required=False),
    NestedField(3, "status", StringType(), required=False),
    NestedField(4, "updated_at", TimestamptzType(), required=True),
    NestedField(5, "odd `name'", StringType(), required=False),
)
ARROW = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("status", pa.string()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("odd `name'", pa.string()),
    ]
)


def _rows(ids: range, minutes: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "id": i,
                "amount": Decimal(i) / 4,
                "status": "paid" if i % 3 == 0 else None if i % 7 == 0 else "new",
                "updated_at": T0 + timedelta(minutes=minutes, seconds=i % 60),
                "odd `name'": f"x{i}",
            }
            for i in ids
        ],
        schema=ARROW,
    )


@pytest.fixture
def table(tmp_path: Path) -> Any:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("ods")
    t = catalog.create_table("ods.orders", SCHEMA)
    t.append(_rows(range(0, 500), 0))  # 10:00-10:01
    t.append(_rows(range(500, 900), 30))  # 10:30-10:31
    t.append(_rows(range(900, 1000), 70))  # 11:10-11:11, after the window
    return t


def _ids(reader: Any) -> list[int]:
    return sorted(reader.read_all().column("id").to_pylist())


def _snapshots(table: Any) -> list[int]:
    return [s.snapshot_id for s in table.metadata.snapshots]


WINDOW = Window(T0, T0 + timedelta(hours=1), "updated_at")


@pytest.mark.parametrize("engine", [Engine.PYICEBERG, Engine.CHDB])
def test_window_as_of_each_snapshot(table: Any, engine: Engine) -> None:
    if engine is Engine.CHDB:
        pytest.importorskip("chdb")
    first, second, third = _snapshots(table)
    for sid, expected in ((first, range(0, 500)), (second, range(0, 900)), (third, range(0, 900))):
        plan = plan_read(table, "ods.orders", snapshot_id=sid, window=WINDOW, engine=engine)
        assert plan.engine is engine and plan.snapshot_id == sid
        assert _ids(read_plan(plan, table, batch_rows=128)) == list(expected)


def test_engines_give_the_same_rows_and_values(table: Any) -> None:
    pytest.importorskip("chdb")
    sid = _snapshots(table)[-1]
    read = {}
    for engine in (Engine.PYICEBERG, Engine.CHDB):
        plan = plan_read(
            table,
            "ods.orders",
            snapshot_id=sid,
            window=WINDOW,
            row_filter="status = 'paid' or status is null",
            columns=["id", "amount", "status", "odd `name'"],
            engine=engine,
        )
        rows = read_plan(plan, table).read_all().to_pylist()
        read[engine] = sorted(rows, key=lambda r: r["id"])
    assert read[Engine.PYICEBERG] == read[Engine.CHDB]
    assert [r["id"] for r in read[Engine.CHDB]] == [i for i in range(900) if i % 3 == 0 or i % 7 == 0]
    assert read[Engine.CHDB][1] == {"id": 3, "amount": Decimal("0.75"), "status": "paid", "odd `name'": "x3"}


def test_streams_in_batches(table: Any) -> None:
    pytest.importorskip("chdb")
    plan = plan_read(table, "ods.orders", snapshot_id=_snapshots(table)[-1], engine=Engine.CHDB)
    reader = read_plan(plan, table, batch_rows=100)
    sizes = [b.num_rows for b in reader]
    assert sum(sizes) == 1000 and max(sizes) <= 100 < len(sizes) * 100


def test_auto_takes_pyiceberg_without_delete_files(table: Any) -> None:
    plan = plan_read(table, "ods.orders", snapshot_id=_snapshots(table)[0])
    assert (plan.engine, plan.data_files, plan.delete_files) == (Engine.PYICEBERG, 1, 0)


def test_tag_names_the_snapshot(table: Any) -> None:
    first = _snapshots(table)[0]
    table.manage_snapshots().create_tag(first, "complete-2026-12-05T10").commit()
    plan = plan_read(table, "ods.orders", tag="complete-2026-12-05T10", window=WINDOW)
    assert plan.snapshot_id == first


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, ["exactly one of snapshot_id", "never read by default"]),
        ({"snapshot_id": 1, "tag": "t"}, ["exactly one of snapshot_id"]),
        ({"snapshot_id": 12345}, ["no snapshot 12345", "expired"]),
        ({"tag": "complete-1999"}, ["no tag 'complete-1999'"]),
        ({"snapshot_id": "1"}, ["snapshot_id must be an integer"]),
        ({"snapshot_id": 0, "columns": ["id", "nope"]}, ["no column(s) 'nope'"]),
        ({"snapshot_id": 0, "row_filter": "status = = 1"}, ["cannot be parsed"]),
        ({"snapshot_id": 0, "row_filter": "nope = 1"}, ["does not fit its schema"]),
        ({"snapshot_id": 0, "window": Window(T0, T0 + timedelta(hours=1), "nope")}, ["'nope'"]),
        ({"snapshot_id": 0, "engine": "duck"}, ["unknown read engine 'duck'"]),
    ],
)
def test_bad_input_names_the_problem(table: Any, kwargs: dict[str, Any], words: list[str]) -> None:
    if kwargs.get("snapshot_id") == 0:
        kwargs["snapshot_id"] = _snapshots(table)[0]
    with pytest.raises((InvalidInputError, IcebergError)) as info:
        plan_read(table, "ods.orders", **kwargs)
    for word in words:
        assert word in str(info.value)


def test_window_needs_aware_ordered_times() -> None:
    with pytest.raises(InvalidInputError, match="has no timezone"):
        Window(datetime(2026, 12, 5, 10), T0, "updated_at")
    with pytest.raises(InvalidInputError, match="is not before"):
        Window(T0, T0, "updated_at")


def test_filter_renders_typed_literals_and_quoted_names() -> None:
    expr = bind(
        SCHEMA,
        (EqualTo("amount", Decimal("1.50")) & In("status", {"a'b", "c\\d"}))
        | Not(IsNull("odd `name'"))
        | StartsWith("status", "pa"),
        case_sensitive=True,
    )
    sql = clickhouse_filter(expr)
    assert "`amount` = CAST('1.50' AS Decimal(12, 2))" in sql
    assert "`status` IN ('a\\'b', 'c\\\\d')" in sql
    assert "isNull(`odd \\`name'`)" in sql
    assert "startsWith(`status`, 'pa')" in sql
    window = clickhouse_filter(bind(SCHEMA, WINDOW.expression(), case_sensitive=True))
    micros = int(T0.timestamp() * 1_000_000)
    assert f"`updated_at` >= fromUnixTimestamp64Micro(toInt64({micros}), 'UTC')" in window


def test_chdb_query_pins_snapshot_and_metadata_file(table: Any) -> None:
    sid = _snapshots(table)[1]
    plan = plan_read(table, "ods.orders", snapshot_id=sid, engine=Engine.CHDB)
    query = chdb_query(plan)
    assert f"iceberg_snapshot_id = {sid}" in query
    assert "iceberg_metadata_file_path = 'metadata/" in query and ".metadata.json'" in query
    assert "file://" not in query


@pytest.mark.parametrize("engine", [Engine.PYICEBERG, Engine.CHDB])
def test_a_delete_hides_rows_only_from_later_snapshots(table: Any, engine: Engine) -> None:
    if engine is Engine.CHDB:
        pytest.importorskip("chdb")
    before = table.current_snapshot().snapshot_id
    table.delete("id < 10")  # pyiceberg rewrites the file (copy on write)
    after = table.current_snapshot().snapshot_id
    for sid, expected in ((before, range(0, 900)), (after, range(10, 900))):
        plan = plan_read(table, "ods.orders", snapshot_id=sid, window=WINDOW, engine=engine)
        assert _ids(read_plan(plan, table)) == list(expected)
