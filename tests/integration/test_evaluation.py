"""One completeness evaluation against the running reference pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.completeness import (
    InvalidWindowError,
    NaiveDatetimeError,
    Pipeline,
    Policy,
    Verdict,
    Window,
)
from airflow_provider_rtp.evaluation import evaluate
from airflow_provider_rtp.exceptions import FlinkJobNotFound, KafkaError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
from airflow_provider_rtp.kafka import KafkaLagReader
from tests.integration.test_reference_pipeline import catalog
from tests.stack import flink_rest_url, kafka_bootstrap

ORDERS = Pipeline(
    table="ods.orders",
    topics=("shop.orders",),
    group="rtp-ods-orders",
    ingestion_job="ods-orders-ingest",
    cdc_job="shop-cdc",
    heartbeat_topic="shop.rtp_heartbeat",
)


@pytest.fixture
def clients() -> Iterator[dict]:
    flink = FlinkRestClient(HttpSettings(flink_rest_url()))
    yield {
        "kafka": KafkaLagReader({"bootstrap.servers": kafka_bootstrap()}),
        "flink": flink,
        "catalog": catalog(),
    }
    flink.close()


def _minute_window(minutes_ago: int) -> Window:
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return Window(end - timedelta(minutes=1), end)


def test_past_minute_completes_with_a_covering_snapshot(clients: dict) -> None:
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=2))
    window = _minute_window(1)
    deadline = time.monotonic() + 90
    decision = evaluate(ORDERS, window, policy, **clients)
    while decision.verdict is not Verdict.COMPLETE and time.monotonic() < deadline:
        time.sleep(5)
        decision = evaluate(ORDERS, window, policy, **clients)
    assert decision.verdict is Verdict.COMPLETE, decision.report()
    snapshot = decision.snapshot_id
    table = catalog().load_table("ods.orders")
    summary = table.snapshot_by_id(snapshot).summary.additional_properties
    assert summary["flink.job-id"] == clients["flink"].get_running_job("ods-orders-ingest").job_id
    assert "ods.orders" in decision.report()


def test_current_minute_is_not_complete(clients: dict) -> None:
    now = datetime.now(tz=UTC)
    window = Window(now - timedelta(seconds=30), now + timedelta(seconds=30))
    decision = evaluate(ORDERS, window, Policy(), **clients)
    assert decision.verdict is not Verdict.COMPLETE, decision.report()


def test_window_far_in_the_future_is_refused(clients: dict) -> None:
    end = datetime.now(tz=UTC) + timedelta(days=30)
    with pytest.raises(InvalidWindowError, match="after now"):
        evaluate(ORDERS, Window(end - timedelta(hours=1), end), Policy(), **clients)


def test_unknown_topic_and_job_are_named(clients: dict) -> None:
    window = _minute_window(5)
    bad_topic = Pipeline("ods.orders", ("no.such.topic",), "rtp-ods-orders", "ods-orders-ingest")
    with pytest.raises(KafkaError, match=r"no\.such\.topic"):
        evaluate(bad_topic, window, Policy(), **clients)
    bad_job = Pipeline("ods.orders", ("shop.orders",), "rtp-ods-orders", "no-such-ingest-job")
    with pytest.raises(FlinkJobNotFound, match="no-such-ingest-job"):
        evaluate(bad_job, window, Policy(), **clients)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match=r"(?i)naive|timezone|UTC"):
        Window(datetime(2026, 11, 24, 10), datetime(2026, 11, 24, 11))
