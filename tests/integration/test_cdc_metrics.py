"""A CDC job without heartbeats: the evaluation judges it by its source gauges.

A private copy of the reference pipeline (own database, topics, CDC job, ingestion job and
table) declared without its heartbeat topic, with the heartbeat EVENT dropped: the database is
quiet between the changes the tests make, so the CDC source's lag gauges freeze.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.completeness import Decision, Pipeline, Policy, Reason, Stage, Verdict, Window
from airflow_provider_rtp.evaluation import evaluate
from tests.integration import test_evaluation
from tests.integration.private_pipeline import PrivatePipeline

pytestmark = pytest.mark.usefixtures("stack")
clients = test_evaluation.clients  # the evaluation's Kafka reader, Flink client and catalog

EXACT = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(0), idle_timeout=timedelta(hours=1))


@pytest.fixture(scope="module")
def pp() -> Iterator[PrivatePipeline]:
    pipeline = PrivatePipeline(checkpoint_interval_s=2)
    try:
        pipeline.up()
        pipeline.heartbeats(False)  # quiet between our changes
        yield pipeline
    finally:
        pipeline.down()


def metrics_only(pp: PrivatePipeline) -> Pipeline:
    pipeline = Pipeline(pp.table, (pp.topic,), pp.group, pp.ingest_job, cdc_job=pp.cdc_job)
    assert pipeline.cdc_mode == "metrics"
    return pipeline


def window_with_changes(pp: PrivatePipeline) -> Window:
    """A window holding committed changes, ending a second after the last of them."""
    start = datetime.now(tz=UTC)
    pp.change(3)
    time.sleep(1)  # binlog times are whole seconds: the window ends after the last one
    return Window(start - timedelta(seconds=1), datetime.now(tz=UTC))


def wait_until(moment: datetime) -> None:
    while (left := (moment - datetime.now(tz=UTC)).total_seconds()) > 0:
        time.sleep(min(left, 1))


class TestMetricWatermark:
    def test_past_window_completes_on_the_gauges_and_the_current_one_waits_on_cdc(
        self, pp: PrivatePipeline, clients: dict
    ) -> None:
        pipeline = metrics_only(pp)
        window = window_with_changes(pp)
        wait_until(window.end + timedelta(seconds=1))
        # A live database: later changes let the gauges prove that the window's changes left the
        # source (the idle-timeout assumption is an hour away).
        deadline = time.monotonic() + 120
        pp.change(1)
        decision = evaluate(pipeline, window, EXACT, **clients)
        while decision.verdict is not Verdict.COMPLETE and time.monotonic() < deadline:
            pp.change(1)
            decision = evaluate(pipeline, window, EXACT, **clients)
        assert decision.verdict is Verdict.COMPLETE, decision.report()
        cdc = decision.stage(Stage.CDC)
        assert cdc.reason is Reason.OK and cdc.name == pp.cdc_job, decision.report()  # proven, not assumed
        assert cdc.watermark is not None and cdc.watermark >= window.end

        now = datetime.now(tz=UTC)
        current = Window(now - timedelta(seconds=30), now + timedelta(seconds=30))
        waiting = evaluate(pipeline, current, Policy(), **clients)
        assert waiting.verdict is Verdict.WAITING and waiting.blocking is Stage.CDC, waiting.report()
        line = next(line for line in waiting.report().splitlines() if line.lstrip().startswith("cdc"))
        assert pp.cdc_job in line and "needs" in line, waiting.report()

    def test_frozen_gauges_on_a_quiet_database_release_a_window_only_after_the_idle_timeout(
        self, pp: PrivatePipeline, clients: dict
    ) -> None:
        idle_timeout = timedelta(seconds=30)
        policy = Policy(
            allowed_lateness=timedelta(0), clock_skew_margin=timedelta(0), idle_timeout=idle_timeout
        )
        pipeline = metrics_only(pp)
        window = window_with_changes(pp)  # then nothing more: the gauges freeze at the last change
        bound = window.target(policy) + idle_timeout  # C's checkpoint must be triggered at or after it
        seen: list[tuple[datetime, Decision]] = []
        deadline = bound + timedelta(seconds=90)
        while datetime.now(tz=UTC) < deadline:
            decision = evaluate(pipeline, window, policy, **clients)
            seen.append((datetime.now(tz=UTC), decision))  # C's checkpoint was read before this
            if decision.verdict is Verdict.COMPLETE:
                break
            time.sleep(1)
        reports = "\n---\n".join(d.report() for _, d in seen)
        before = [d for t, d in seen if t < bound]
        assert len(before) >= 2, reports  # the window was judged while the bound was ahead
        for decision in before:  # never early: the frozen gauge did not read as "caught up"
            cdc = decision.stage(Stage.CDC)
            assert decision.verdict is Verdict.WAITING, decision.report()
            assert cdc.reason in (Reason.CDC_BEHIND, Reason.CDC_UNKNOWN), decision.report()
            assert cdc.watermark is None or cdc.watermark < window.end, decision.report()
        assert any(d.stage(Stage.CDC).reason is Reason.CDC_BEHIND for d in before), reports
        answered_at, final = seen[-1]
        assert final.verdict is Verdict.COMPLETE, reports
        assert answered_at >= bound
        assert final.stage(Stage.CDC).reason is Reason.CDC_ASSUMED, final.report()
        report = final.report()
        assert "ok by assumption (quiet source, idle timeout 30s)" in report
        assert "Install heartbeats" in report
