"""The freshness page's rows, delays, hops and chart, from plain records and real decisions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.completeness import PersistedDecision, Verdict, Window
from airflow_provider_rtp.evaluation import CheckResult
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.plugins.freshness_grid import (
    DEFAULT_LIVE_BUDGET,
    LIVE_RUNNING,
    FailedWindow,
    Live,
    chart_points,
    delay_stats,
    grid_windows,
    hop_lags,
    live_view,
    live_window,
    parse_live_budget,
    parse_window_length,
    pipeline_view,
    window_rows,
)
from tests.unit.completeness.builders import WINDOW, at, heartbeat, run

HOUR = timedelta(hours=1)
NOW = datetime(2026, 11, 24, 12, 20, tzinfo=UTC)


def stored(window: Window, decided_at: datetime, snapshot_id: int = 7) -> dict:
    return {
        "version": 1,
        "target": "ods.orders",
        "window": window.to_dict(),
        "snapshot_id": snapshot_id,
        "checkpoint_id": 8812,
        "job_id": "j" * 32,
        "decided_at": decided_at.isoformat().replace("+00:00", "Z"),
        "watermarks": {},
        "target_time": window.end.isoformat(),
        "pipeline": "p",
    }


def test_window_length_is_an_iso_duration_dividing_a_day() -> None:
    assert parse_window_length(None) == HOUR
    assert parse_window_length("PT1M") == timedelta(minutes=1)
    assert parse_window_length("pt15m") == timedelta(minutes=15)
    assert parse_window_length("P1D") == timedelta(days=1)
    for bad in ("1h", "PT0M", "PT7M", "P2D", "PT", "hourly"):
        with pytest.raises(InvalidInputError, match="freshness_window"):
            parse_window_length(bad)


def test_grid_is_the_running_window_then_closed_ones_newest_first_epoch_aligned() -> None:
    windows = grid_windows(NOW, HOUR, 48)
    assert len(windows) == 49
    assert windows[0] == Window(at(12), at(13))
    assert windows[1] == Window(at(11), at(12))
    assert windows[-1].start == at(12) - 48 * HOUR
    assert all(a.start == b.end for a, b in itertools.pairwise(windows))
    minute = grid_windows(NOW.replace(second=31), timedelta(minutes=1), 2)
    assert [w.start for w in minute] == [at(12, 20), at(12, 19), at(12, 18)]


def test_live_check_asks_the_newest_closed_window_until_it_is_decided() -> None:
    windows = grid_windows(NOW, HOUR, 3)
    assert live_window(windows, {}) == windows[1]
    decided = {windows[1]: stored(windows[1], at(12, 3))}
    assert live_window(windows, decided) == windows[0]
    damaged = {windows[1]: {"version": 1, "window": "nonsense"}}
    assert live_window(windows, damaged) == windows[1]


def test_rows_take_stored_decisions_then_live_then_failed_tasks() -> None:
    windows = grid_windows(NOW, HOUR, 4)
    _running, w1, w2, w3, w4 = windows
    records = {
        w2: stored(w2, w2.end + timedelta(minutes=3), snapshot_id=11),
        w4: stored(w3, w3.end),  # stored under the wrong key: proves nothing about w4
    }
    failed = {
        w3: FailedWindow("orders_hourly", "in_lake", "scheduled__x", at(11)),
        w2: FailedWindow("orders_hourly", "in_lake", "scheduled__y", at(10)),
    }
    waiting = run(cdc=heartbeat(at(10, 59)))
    live = Live(
        w1,
        CheckResult(window=w1, verdict=waiting.verdict, report=waiting.report(), decision=waiting),
    )
    rows = window_rows(windows, records, failed=failed, tags={w2: "complete-2026-11-24T10"}, live=live)
    assert [r.status for r in rows] == [
        Verdict.WAITING,
        Verdict.WAITING,
        Verdict.COMPLETE,  # a stored decision wins over an earlier failed try
        Verdict.FAILED,
        Verdict.WAITING,
    ]
    assert rows[0].running and rows[0].source == "none" and rows[0].blocker is None
    assert rows[1].source == "live"
    assert rows[1].blocker == waiting.report().splitlines()[1].strip()
    assert rows[1].blocker.startswith("cdc ")
    assert rows[2].snapshot_id == 11 and rows[2].tag == "complete-2026-11-24T10"
    assert rows[2].delay_seconds == 180.0
    assert rows[3].failed_task is not None and rows[3].failed_task.run_id == "scheduled__x"
    assert rows[4].source == "none"


def test_a_complete_live_answer_completes_its_window_but_not_the_delay_figures() -> None:
    decision = run()
    record = PersistedDecision.from_decision(decision)
    result = CheckResult(
        window=WINDOW,
        verdict=Verdict.COMPLETE,
        report=decision.report(),
        decision=decision,
        record=record,
        snapshot_id=record.snapshot_id,
    )
    windows = [Window(at(11), at(12)), WINDOW]
    rows = window_rows(windows, {}, live=Live(WINDOW, result))
    assert rows[1].status is Verdict.COMPLETE and rows[1].source == "live"
    assert rows[1].snapshot_id == record.snapshot_id and rows[1].blocker is None
    assert delay_stats(rows)["count"] == 0 and chart_points(rows) == []


def test_a_live_error_is_shown_on_its_window() -> None:
    windows = grid_windows(NOW, HOUR, 1)
    rows = window_rows(windows, {}, live=Live(windows[1], error="KafkaError: unknown group"))
    assert rows[1].status is Verdict.WAITING and rows[1].blocker == "KafkaError: unknown group"


def test_live_budget_is_seconds_not_negative() -> None:
    assert parse_live_budget(None) == parse_live_budget(" ") == DEFAULT_LIVE_BUDGET
    assert parse_live_budget("0.8") == 0.8 and parse_live_budget("0") == 0.0 and parse_live_budget("2") == 2.0
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(InvalidInputError, match="freshness_live_budget"):
            parse_live_budget(bad)


def test_a_running_evaluation_without_an_answer_yet_says_so_on_its_window() -> None:
    windows = grid_windows(NOW, HOUR, 1)
    rows = window_rows(windows, {}, live=Live(windows[1], running=True))
    assert rows[1].status is Verdict.WAITING and rows[1].blocker == LIVE_RUNNING
    assert rows[0].blocker is None
    view = live_view(Live(windows[1], running=True), NOW)
    assert view is not None and view["running"] is True
    assert view["verdict"] is None and view["error"] is None and view["age_seconds"] is None


def test_a_previous_answer_shown_meanwhile_carries_its_age() -> None:
    windows = grid_windows(NOW, HOUR, 1)
    result = CheckResult(window=windows[1], verdict=Verdict.WAITING, report="window x → WAITING\n  cdc  y")
    stale = Live(windows[1], result, evaluated_at=NOW - timedelta(seconds=12), running=True)
    view = live_view(stale, NOW)
    assert view is not None and view["running"] is True and view["age_seconds"] == 12.0
    assert view["verdict"] == "waiting" and view["blocker"] == "cdc  y"
    assert window_rows(windows, {}, live=stale)[1].blocker == "cdc  y"
    fresh = live_view(Live(windows[1], result, evaluated_at=NOW + timedelta(seconds=1)), NOW)
    assert fresh is not None and fresh["running"] is False and fresh["age_seconds"] == 0.0


def test_delay_stats_and_chart_points_oldest_first() -> None:
    windows = grid_windows(NOW, HOUR, 5)
    delays = {windows[1]: 60, windows[2]: 120, windows[3]: 30, windows[5]: 600}
    records = {w: stored(w, w.end + timedelta(seconds=s)) for w, s in delays.items()}
    rows = window_rows(windows, records)
    stats = delay_stats(rows)
    assert stats["count"] == 4 and stats["min"] == 30 and stats["max"] == 600
    assert stats["p50"] == 90.0  # between 60 and 120
    assert stats["p95"] == pytest.approx(528.0)
    assert stats["mean"] == pytest.approx(202.5)
    points = chart_points(rows)
    assert [p["delay_seconds"] for p in points] == [600, 30, 120, 60]
    assert points[0]["end"] == windows[5].to_dict()["end"]
    assert delay_stats(window_rows(windows, {}))["p50"] is None


def test_hops_from_the_live_decision() -> None:
    behind = run(cdc=heartbeat(at(11, 1, 30)))  # evaluated at 11:05
    hops = {h["hop"]: h for h in hop_lags(behind)}
    assert hops["source -> cdc"]["lag_seconds"] == 210.0
    assert hops["cdc -> kafka"]["lag_seconds"] == 0.0  # the group is caught up
    assert hops["flink -> iceberg"]["lag_checkpoints"] == 0
    no_cdc = {h["hop"]: h for h in hop_lags(run(cdc=None))}
    assert no_cdc["source -> cdc"]["lag_seconds"] is None


def test_pipeline_view_is_json_with_stages_and_their_report_lines() -> None:
    import json

    windows = grid_windows(NOW, HOUR, 2)
    waiting = run(cdc=heartbeat(at(10, 59)))
    live = Live(
        windows[1],
        CheckResult(window=windows[1], verdict=waiting.verdict, report=waiting.report(), decision=waiting),
        evaluated_at=NOW,
    )
    view = pipeline_view("ods.orders", windows, {}, live=live, links={"grafana": None})
    json.dumps(view)
    assert view["current"]["running"] is True
    assert [s["stage"] for s in view["live"]["stages"]] == ["cdc", "kafka", "job", "iceberg"]
    assert view["live"]["stages"][0]["line"] == view["live"]["blocker"]
    assert view["live"]["verdict"] == "waiting"
    assert view["windows"][1]["status"] == "waiting"
