"""The row hash: a term per column that ClickHouse 18.16 and chdb hash alike (equality across the
two engines is tested on the stack: tests/integration/test_clickhouse_load.py)."""

from __future__ import annotations

from airflow_provider_rtp.clickhouse.checksum import row_hash


def test_plain_columns_hash_as_they_are() -> None:
    assert row_hash([("id", "Int64"), ("s", "String"), ("d", "Date")]).sql == "cityHash64(`id`, `s`, `d`)"


def test_a_decimal_is_its_integer_part_and_its_scaled_fraction() -> None:
    hashed = row_hash([("amount", "Decimal(12, 2)"), ("n", "Decimal64(0)")])
    assert (
        hashed.sql
        == "cityHash64(toInt64(`amount`), toInt64((`amount` - toInt64(`amount`)) * 100), toInt64(`n`))"
    )
    assert hashed.left_out == ()


def test_a_nullable_column_hashes_its_value_or_one() -> None:
    hashed = row_hash([("c", "Nullable(Int64)"), ("a", "Nullable(Decimal(18, 4))")])
    assert hashed.sql == (
        "cityHash64(ifNull(cityHash64(`c`), 1), "
        "ifNull(cityHash64(toInt64(`a`), toInt64((`a` - toInt64(`a`)) * 10000)), 1))"
    )


def test_newer_types_hash_through_integers_or_text() -> None:
    hashed = row_hash([("t", "DateTime64(3, 'UTC')"), ("u", "DateTime64(6)"), ("d", "Date32"), ("g", "UUID")])
    assert hashed.sql == (
        "cityHash64(toUnixTimestamp64Milli(`t`), toUnixTimestamp64Micro(`u`), toInt32(`d`), toString(`g`))"
    )


def test_a_wide_decimal_is_left_out_and_named() -> None:
    hashed = row_hash([("id", "Int64"), ("big", "Decimal(38, 10)")])
    assert hashed.sql == "cityHash64(`id`)"
    assert hashed.left_out == ("big (Decimal(38, 10): no hash agrees across ClickHouse versions)",)
    assert row_hash([("big", "Decimal128(4)")]).sql == "toUInt64(0)"
