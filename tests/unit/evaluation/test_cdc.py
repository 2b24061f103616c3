"""Heartbeat SQL, the metric watermark model and the reading of the source gauges, on plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_rtp.cdc import HeartbeatSetup, quote_identifier
from airflow_provider_rtp.completeness import JobObservation, LagSample, metric_watermark
from airflow_provider_rtp.evaluation.cdc import read_lag_sample
from airflow_provider_rtp.exceptions import FlinkJobNotFound, InvalidInputError
from airflow_provider_rtp.flink.models import JobState, JobSummary

T0 = datetime(2026, 11, 24, 11, tzinfo=UTC)
IDLE_TIMEOUT = timedelta(minutes=5)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    "name", ["a`b", "db.t", "x; DROP TABLE y", "", "a b", "t--", "123", "é", "a" * 65, "x'y", 'x"y']
)
def test_hostile_identifiers_are_rejected_by_name(name: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid heartbeat table name"):
        HeartbeatSetup("shop", table=name)


def test_identifiers_are_backquoted() -> None:
    assert quote_identifier("rtp_heartbeat$1") == "`rtp_heartbeat$1`"
    with pytest.raises(InvalidInputError, match="invalid database name"):
        HeartbeatSetup("shop`; --")
    with pytest.raises(InvalidInputError, match="invalid event name"):
        HeartbeatSetup("shop", event="e v")


@pytest.mark.parametrize("interval", [0, -1, 3601])
def test_interval_bounds(interval: int) -> None:
    with pytest.raises(InvalidInputError, match="interval_s"):
        HeartbeatSetup("shop", interval_s=interval)
    with pytest.raises(TypeError):
        HeartbeatSetup("shop", interval_s=1.5)  # type: ignore[arg-type]


def test_install_is_idempotent_sql() -> None:
    stmts = HeartbeatSetup("shop", "hb", interval_s=2).install_statements()
    assert stmts[0].startswith("CREATE TABLE IF NOT EXISTS `shop`.`hb`")
    assert stmts[1].startswith("INSERT IGNORE INTO `shop`.`hb`")
    assert "CREATE EVENT IF NOT EXISTS `shop`.`hb_tick` ON SCHEDULE EVERY 2 SECOND" in stmts[2]
    assert stmts[3] == "ALTER EVENT `shop`.`hb_tick` ON SCHEDULE EVERY 2 SECOND ENABLE"


def _job(
    state: str = "RUNNING", trigger: datetime | None = T0, latest: datetime | None = None
) -> JobObservation:
    """``trigger``: the committed checkpoint's (the one before the latest); ``latest``: the latest's."""
    return JobObservation(
        "c1",
        "shop-cdc",
        state,  # type: ignore[arg-type]
        7,
        latest or trigger,
        committed_checkpoint_trigger=trigger,
    )


def _sample(emit: timedelta | None = 2 * S, idle: timedelta = 0 * S, age: timedelta = 10 * S) -> LagSample:
    return LagSample("c1", T0, age, emit, idle, fetch_lag=S)


def test_live_watermark_is_read_at_minus_age_idle_and_the_larger_lag() -> None:
    wm = metric_watermark(_sample(emit=2 * S, idle=3 * S), _job(), IDLE_TIMEOUT)
    assert wm.proven == T0 - 15 * S and wm.durable
    assert wm.watermark == T0 - 15 * S  # the assumed bound (T0 - 5m) is lower
    assert (
        metric_watermark(LagSample("c1", T0, 0 * S, S, 0 * S, 4 * S), _job(), IDLE_TIMEOUT).proven
        == T0 - 4 * S
    )


def test_quiet_source_holds_at_the_last_change_until_the_assumed_bound_passes_it() -> None:
    # Last change 20 min before T0; the assumed bound follows C's checkpoints minus the idle timeout.
    quiet = _sample(idle=20 * 60 * S - 12 * S)
    wm = metric_watermark(quiet, _job(trigger=T0), IDLE_TIMEOUT)
    assert wm.proven == T0 - 20 * 60 * S
    assert wm.assumed == T0 - IDLE_TIMEOUT and wm.watermark == wm.assumed
    assert wm.assumes(T0 - IDLE_TIMEOUT) and not wm.assumes(T0 - IDLE_TIMEOUT + S)
    assert not wm.proves(T0 - IDLE_TIMEOUT)
    assert "assumed through checkpoint" in wm.reason


def test_no_assumed_bound_without_a_running_job_with_a_checkpoint() -> None:
    for job in (_job("RESTARTING"), _job("FAILED"), _job(trigger=None), None):
        assert metric_watermark(_sample(idle=3600 * S), job, IDLE_TIMEOUT).assumed is None


def test_durable_only_with_a_checkpoint_triggered_after_the_last_emission() -> None:
    quiet = _sample(idle=60 * S)  # last record left the source at T0 - 60 s
    assert metric_watermark(quiet, _job(trigger=T0 - 60 * S), IDLE_TIMEOUT).durable
    late = metric_watermark(quiet, _job(trigger=T0 - 61 * S), IDLE_TIMEOUT)
    assert not late.durable and late.proven is not None and "not yet in a checkpoint" in late.reason


def test_a_completed_checkpoint_alone_is_not_durable_its_kafka_commit_comes_after() -> None:
    # The latest checkpoint covers the emission, but its transaction commits only when its
    # completion is announced: durable once a later checkpoint has completed too.
    quiet = _sample(idle=60 * S)
    only_latest = metric_watermark(quiet, _job(trigger=T0 - 70 * S, latest=T0 - 50 * S), IDLE_TIMEOUT)
    assert not only_latest.durable
    assert metric_watermark(quiet, _job(trigger=T0 - 50 * S, latest=T0 - 40 * S), IDLE_TIMEOUT).durable
    # No checkpoint before the latest in the history: nothing is known committed.
    assert not metric_watermark(quiet, _job(trigger=None, latest=T0), IDLE_TIMEOUT).durable


@pytest.mark.parametrize(
    ("sample", "job", "reason"),
    [
        (None, _job(), "no source lag gauges"),
        (None, _job("CANCELED"), "job CANCELED"),
        (_sample(emit=None), _job(), "emitted no change"),
        (LagSample("old", T0, 0 * S, S, 0 * S), _job(), "restarted"),
    ],
)
def test_unknown_cases(sample: LagSample | None, job: JobObservation, reason: str) -> None:
    wm = metric_watermark(sample, job, IDLE_TIMEOUT)
    assert wm.proven is None and wm.watermark is None and reason in wm.reason


class _Rest:
    """The REST calls the gauge reader makes, answered from plain data."""

    def __init__(
        self, answers: list[dict[str, float]], state: JobState = JobState.RUNNING, listed_after: int = 0
    ) -> None:
        self.answers, self.state, self.reads = answers, state, 0
        self.listed_after = listed_after  # lookups of the metric ids before the gauges are listed

    def list_jobs(self) -> list[JobSummary]:
        return [JobSummary("c1", "shop-cdc", self.state, 0, None)]

    def find_job(self, name: str) -> JobSummary | None:
        return next((j for j in self.list_jobs() if j.name == name), None)

    def job_details(self, job_id: str) -> dict[str, Any]:
        return {"vertices": [{"id": "v1", "name": "Source: binlog shop -> kafka shop: Writer"}]}

    def vertex_metric_ids(self, job_id: str, vertex: str) -> list[str]:
        self.listed_after -= 1
        if self.listed_after >= 0:
            return ["busy"]
        return ["Source__binlog_shop.currentEmitEventTimeLag", "Source__binlog_shop.sourceIdleTime", "busy"]

    def vertex_metrics(self, job_id: str, vertex: str, names: list[str]) -> dict[str, dict[str, float]]:
        answer = self.answers[min(self.reads, len(self.answers) - 1)]
        self.reads += 1
        return {f"Source__binlog_shop.{k}": {"max": v, "min": 0.0} for k, v in answer.items()}


class _Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _read(rest: _Rest, clock: _Clock) -> LagSample | None:
    return read_lag_sample(rest, "shop-cdc", clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def test_reader_waits_for_fresh_values_and_keeps_their_age() -> None:
    stale = {"currentEmitEventTimeLag": 40.0, "sourceIdleTime": 5_000.0}
    fresh = {"currentEmitEventTimeLag": 40.0, "sourceIdleTime": 65_000.0}
    rest, clock = _Rest([stale, stale, stale, fresh]), _Clock()
    sample = _read(rest, clock)
    assert sample is not None and rest.reads == 4
    assert sample.idle == 65 * S and sample.emit_lag == timedelta(milliseconds=40)
    assert sample.read_at == T0 + timedelta(seconds=0.75)
    assert sample.max_age == timedelta(seconds=10.75)  # one refresh plus the time spent reading
    assert sample.fetch_lag is None


def test_reader_refuses_values_that_never_refresh() -> None:
    rest, clock = _Rest([{"currentEmitEventTimeLag": 40.0, "sourceIdleTime": 5_000.0}]), _Clock()
    assert _read(rest, clock) is None
    assert clock.now - T0.timestamp() > 20  # two refreshes


def test_reader_maps_never_emitted_and_absent_jobs() -> None:
    never = [
        {"currentEmitEventTimeLag": -1.0, "sourceIdleTime": 1.0},
        {"currentEmitEventTimeLag": -1.0, "sourceIdleTime": 2.0},
    ]
    sample = _read(_Rest(never), _Clock())
    assert sample is not None and sample.emit_lag is None and sample.watermark is None
    assert _read(_Rest(never, state=JobState.CANCELED), _Clock()) is None
    with pytest.raises(FlinkJobNotFound, match="no-such"):
        read_lag_sample(_Rest(never), "no-such")  # type: ignore[arg-type]


def test_reader_waits_for_a_new_job_s_gauges_to_be_listed() -> None:
    answers = [{"currentEmitEventTimeLag": 40.0, "sourceIdleTime": v} for v in (1.0, 2.0)]
    sample = _read(_Rest(answers, listed_after=8), _Clock())
    assert sample is not None and sample.idle == timedelta(milliseconds=2)
    assert _read(_Rest(answers, listed_after=10_000), _Clock()) is None
