"""Heartbeat SQL and the frozen-metric decision, on plain data."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.cdc import (
    CdcMetricSample,
    HeartbeatSetup,
    MetricWatermarkStatus,
    metric_watermark,
    quote_identifier,
)

T0 = 1_764_000_000_000


def _s(
    at: int, fetch: int | None = 40, emit: int | None = 60, idle: int | None = 100, **kw
) -> CdcMetricSample:
    return CdcMetricSample(
        at_ms=T0 + at,
        job_id=kw.get("job_id", "j1"),
        job_state=kw.get("state", "RUNNING"),
        fetch_lag_ms=fetch,
        emit_lag_ms=emit,
        idle_ms=idle,
    )


@pytest.mark.parametrize(
    "name", ["a`b", "db.t", "x; DROP TABLE y", "", "a b", "t--", "123", "é", "a" * 65, "x'y", 'x"y']
)
def test_hostile_identifiers_are_rejected_by_name(name: str) -> None:
    with pytest.raises(ValueError, match="invalid heartbeat table name"):
        HeartbeatSetup("shop", table=name)


def test_identifiers_are_backquoted() -> None:
    assert quote_identifier("rtp_heartbeat$1") == "`rtp_heartbeat$1`"
    with pytest.raises(ValueError, match="invalid database name"):
        HeartbeatSetup("shop`; --")
    with pytest.raises(ValueError, match="invalid event name"):
        HeartbeatSetup("shop", event="e v")


@pytest.mark.parametrize("interval", [0, -1, 3601])
def test_interval_bounds(interval: int) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        HeartbeatSetup("shop", interval_s=interval)
    with pytest.raises(TypeError):
        HeartbeatSetup("shop", interval_s=1.5)  # type: ignore[arg-type]


def test_install_is_idempotent_sql() -> None:
    stmts = HeartbeatSetup("shop", "hb", interval_s=2).install_statements()
    assert stmts[0].startswith("CREATE TABLE IF NOT EXISTS `shop`.`hb`")
    assert stmts[1].startswith("INSERT IGNORE INTO `shop`.`hb`")
    assert "CREATE EVENT IF NOT EXISTS `shop`.`hb_tick` ON SCHEDULE EVERY 2 SECOND" in stmts[2]
    assert stmts[3] == "ALTER EVENT `shop`.`hb_tick` ON SCHEDULE EVERY 2 SECOND ENABLE"


def test_unchanged_gauges_while_running_are_frozen_not_zero_lag() -> None:
    wm = metric_watermark(_s(0, idle=5_000), _s(12_000, idle=17_000))
    assert wm.status is MetricWatermarkStatus.FROZEN
    assert wm.watermark_ms is None and not wm.known
    assert "heartbeat" in wm.reason


def test_zero_lag_that_does_not_move_is_frozen_too() -> None:
    assert metric_watermark(_s(0, 0, 0, 1), _s(20_000, 0, 0, 20_001)).status is MetricWatermarkStatus.FROZEN


def test_moving_gauges_give_a_conservative_watermark() -> None:
    wm = metric_watermark(_s(0, fetch=40), _s(12_000, fetch=35, emit=50, idle=200), refresh_ms=10_000)
    assert wm.status is MetricWatermarkStatus.OK
    assert wm.watermark_ms == T0 + 12_000 - 10_000 - 200 - 50


def test_idle_reset_counts_as_movement_even_with_equal_lags() -> None:
    wm = metric_watermark(_s(0, idle=9_000), _s(12_000, idle=300))
    assert wm.status is MetricWatermarkStatus.OK


@pytest.mark.parametrize(
    ("previous", "current", "reason"),
    [
        (None, _s(12_000), "one sample"),
        (_s(0), _s(5_000), "5000 ms apart"),
        (_s(0), _s(12_000, state="RESTARTING"), "is RESTARTING"),
        (_s(0, job_id="old"), _s(12_000), "changed"),
        (_s(0), _s(12_000, fetch=None), "no binlog change"),
        (_s(0, fetch=-1), _s(12_000, fetch=-1), "no binlog change"),
    ],
)
def test_unknown_cases(previous: CdcMetricSample | None, current: CdcMetricSample, reason: str) -> None:
    wm = metric_watermark(previous, current)
    assert wm.status is MetricWatermarkStatus.UNKNOWN and wm.watermark_ms is None
    assert reason in wm.reason
