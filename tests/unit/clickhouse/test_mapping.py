"""Column mapping: exact pairs pass, every missing, extra and lossy column is named at once."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.clickhouse.mapping import (
    ColumnMismatchError,
    SourceColumn,
    cast_sql,
    check_columns,
    unwrap_type,
)

ORDERS = [
    SourceColumn("id", "long", True),
    SourceColumn("customer_id", "long", False),
    SourceColumn("amount", "decimal(12, 2)", False),
    SourceColumn("status", "string", False),
    SourceColumn("updated_at", "timestamptz", True, timestamp_digits=3),
]


def test_exact_types_pass_in_the_targets_order() -> None:
    target = [
        ("updated_at", "DateTime64(3, 'UTC')"),
        ("id", "Int64"),
        ("customer_id", "Nullable(Int64)"),
        ("amount", "Nullable(Decimal(18, 2))"),
        ("status", "LowCardinality(Nullable(String))"),
    ]
    pairs = check_columns(ORDERS, target, "default.orders")
    assert [(s.name, t) for s, t in pairs] == target


@pytest.mark.parametrize(
    ("source", "ch_type", "words"),
    [
        (SourceColumn("c", "long", False), "Int64", "not Nullable"),
        (SourceColumn("c", "long", True), "Int32", "needs one of Int64"),
        (SourceColumn("c", "int", True), "UInt32", "needs one of Int32, Int64"),
        (SourceColumn("c", "decimal(12, 2)", True), "Decimal(10, 2)", "P >= 12"),
        (SourceColumn("c", "decimal(12, 2)", True), "Decimal(18, 4)", "Decimal(P, 2)"),
        (SourceColumn("c", "decimal(12, 2)", True), "Float64", "Decimal(P, 2)"),
        (SourceColumn("c", "timestamptz", True, 3), "DateTime", "whole seconds"),
        (SourceColumn("c", "timestamp", True), "UInt64", "or Int64 (epoch microseconds)"),
        (SourceColumn("c", "timestamptz", True, 6), "DateTime64(3)", "carries 6 fractional digits"),
        (SourceColumn("c", "date", True), "Date", "Date32"),
        (SourceColumn("c", "struct<a: int>", True), "String", "not loaded"),
    ],
)
def test_a_lossy_pair_is_named_with_its_reason(source: SourceColumn, ch_type: str, words: str) -> None:
    with pytest.raises(ColumnMismatchError, match=r"default\.t cannot take") as info:
        check_columns([source], [("c", ch_type)], "default.t")
    assert "c: " in str(info.value) and words in str(info.value)


def test_every_problem_at_once() -> None:
    target = [("id", "Int64"), ("status", "Int64"), ("shard", "UInt8")]
    source = [
        SourceColumn("id", "long", True),
        SourceColumn("status", "string", True),
        SourceColumn("x", "int", True),
    ]
    with pytest.raises(ColumnMismatchError) as info:
        check_columns(source, target, "default.t")
    text = str(info.value)
    assert "no source column for shard" in text
    assert "no column in default.t for x" in text
    assert "status: string needs one of String, not Int64" in text
    assert "id:" not in text


def test_a_timestamp_goes_into_int64_as_epoch_microseconds() -> None:
    ts = SourceColumn("updated_at", "timestamptz", True)
    assert check_columns([ts], [("updated_at", "Int64")], "default.t") == [(ts, "Int64")]
    assert cast_sql(ts, "Int64", "`updated_at`") == "CAST(toUnixTimestamp64Micro(`updated_at`) AS Int64)"
    optional = SourceColumn("updated_at", "timestamp", False)
    assert (
        cast_sql(optional, "Nullable(Int64)", "`u`") == "CAST(toUnixTimestamp64Micro(`u`) AS Nullable(Int64))"
    )


def test_other_pairs_cast_to_the_declared_type() -> None:
    amount = SourceColumn("amount", "decimal(12, 2)", False)
    assert (
        cast_sql(amount, " Nullable(Decimal(18, 2)) ", "`amount`")
        == "CAST(`amount` AS Nullable(Decimal(18, 2)))"
    )
    assert cast_sql(SourceColumn("n", "long", True), "Int64", "`n`") == "CAST(`n` AS Int64)"


@pytest.mark.parametrize(
    ("ch_type", "unwrapped"),
    [
        ("Int64", ("Int64", False)),
        ("Nullable(String)", ("String", True)),
        ("LowCardinality(Nullable(String))", ("String", True)),
        ("LowCardinality(String)", ("String", False)),
    ],
)
def test_unwrap_type(ch_type: str, unwrapped: tuple[str, bool]) -> None:
    assert unwrap_type(ch_type) == unwrapped
