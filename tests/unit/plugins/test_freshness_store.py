"""How a sensor task's window and tag are read from its rendered fields, run and XCom."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.plugins.freshness_store import _tag, _window

TEN = datetime(2026, 11, 24, 10, tzinfo=UTC)
ELEVEN = datetime(2026, 11, 24, 11, tzinfo=UTC)


def test_rendered_window_arguments_win_over_the_runs_interval() -> None:
    rendered = {"window_start": "2026-11-24T10:00:00Z", "window_end": "2026-11-24T10:01:00+00:00"}
    assert _window(rendered, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)) == Window(
        TEN, datetime(2026, 11, 24, 10, 1, tzinfo=UTC)
    )
    assert _window({"window_start": None, "table": "ods.orders"}, TEN, ELEVEN) == Window(TEN, ELEVEN)
    assert _window(None, TEN, ELEVEN) == Window(TEN, ELEVEN)


def test_no_window_when_nothing_names_one() -> None:
    assert _window(None, None, None) is None
    assert _window(None, TEN, TEN) is None  # a manual run's empty interval
    assert _window({"window_start": "None", "window_end": "None"}, None, None) is None
    assert _window({"window_start": "2026-11-24T10:00:00"}, None, ELEVEN) is None  # naive


def test_tag_from_the_sensors_xcom() -> None:
    assert _tag({"snapshot_id": 1, "tag": "complete-2026-11-24T10"}) == "complete-2026-11-24T10"
    assert _tag('{"tag": "complete-2026-11-24T10"}') == "complete-2026-11-24T10"
    assert _tag({"snapshot_id": 1}) is None
    assert _tag(None) is None and _tag("not json") is None and _tag([1]) is None
