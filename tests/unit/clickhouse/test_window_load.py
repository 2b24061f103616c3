"""What a load decides before it touches ClickHouse: the window in the target's terms, the staging name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_rtp.clickhouse.target import Target, window_condition
from airflow_provider_rtp.clickhouse.window_load import staging_name
from airflow_provider_rtp.exceptions import InvalidInputError

START = datetime(2026, 12, 5, 10, tzinfo=UTC)
END = START + timedelta(hours=1)


def test_an_int64_window_is_epoch_microseconds() -> None:
    assert (
        window_condition("t", "Int64", START, END) == "(`t` >= 1796464800000000 AND `t` < 1796468400000000)"
    )
    # The same instants in another zone are the same window.
    plus2 = timezone(timedelta(hours=2))
    assert window_condition("t", "Nullable(Int64)", START.astimezone(plus2), END) == window_condition(
        "t", "Int64", START, END
    )


def test_a_datetime64_window_is_utc_literals() -> None:
    assert window_condition("t", "DateTime64(3, 'UTC')", START, END) == (
        "(`t` >= toDateTime64('2026-12-05 10:00:00.000000', 6, 'UTC') "
        "AND `t` < toDateTime64('2026-12-05 11:00:00.000000', 6, 'UTC'))"
    )


@pytest.mark.parametrize(
    ("ch_type", "start", "end", "words"),
    [
        ("String", START, END, "window column t is String"),
        ("Int64", START, START, "is not before its end"),
        ("Int64", datetime(2026, 12, 5, 10), END, "must be a timezone-aware datetime"),
    ],
)
def test_bad_windows_are_named(ch_type: str, start: datetime, end: datetime, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        window_condition("t", ch_type, start, end)


def test_the_staging_name_is_the_same_for_every_attempt_at_one_window() -> None:
    target = Target("db.orders", "db", "orders", (("id", "Int64"),), "db", "orders_local", "p", ((None,),))
    first = staging_name("orders_local", target, START, END)
    assert first.startswith("orders_local__rtp_stage_") and len(first) == len("orders_local__rtp_stage_") + 10
    assert staging_name("orders_local", target, START, END) == first
    assert staging_name("orders_local", target, START, END + timedelta(hours=1)) != first
