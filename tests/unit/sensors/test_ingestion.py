"""The completeness sensor's arguments, the check's serialisation and the evaluator's error triage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import KafkaError as CKafkaError
from confluent_kafka import KafkaException

from airflow_provider_rtp.assets import DecisionStore, partition_key, table_asset
from airflow_provider_rtp.completeness import InvalidPolicyError, InvalidWindowError, Pipeline, Policy, Window
from airflow_provider_rtp.evaluation import CompletenessCheck, is_transient
from airflow_provider_rtp.evaluation.check import check_window
from airflow_provider_rtp.exceptions import (
    FlinkConnectionError,
    FlinkJobNotFound,
    InvalidInputError,
    KafkaError,
)
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor, resolve_pipeline
from airflow_provider_rtp.triggers.ingestion import IngestionCompleteEventTrigger, IngestionCompleteTrigger
from tests.unit.assets.test_tables import _Store

PIPELINE = Pipeline(
    "ods.orders", ("shop.orders",), "rtp-ods-orders", "ods-orders-ingest", "shop-cdc", "shop.hb"
)


def test_negative_lateness_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(InvalidPolicyError, match="allowed_lateness must not be negative"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, allowed_lateness=-60)


def test_unknown_job_down_behaviour_is_named() -> None:
    with pytest.raises(InvalidPolicyError, match="on_job_down"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, on_job_down="retry")


def test_sensor_emits_the_table_asset_and_accepts_seconds() -> None:
    sensor = IngestionCompleteSensor(
        task_id="t", table="ods.orders", pipeline=PIPELINE, allowed_lateness=120, deferrable=False
    )
    assert sensor.policy.allowed_lateness == timedelta(minutes=2)
    assert [o.name for o in sensor.outlets] == ["lake.ods.orders"]
    assert "window_start" in sensor.template_fields and "table" in sensor.template_fields


def test_tag_pattern_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(InvalidInputError, match="tag pattern"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, tag_pattern="{window}")
    with pytest.raises(InvalidInputError, match="tag_max_age"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, tag_max_age="1d")  # type: ignore[arg-type]
    sensor = IngestionCompleteSensor(
        task_id="t",
        table="ods.orders",
        pipeline=PIPELINE,
        tag_pattern="complete-{start:%Y%m%d%H}",
        tag_max_age=3600,
    )
    assert sensor.tag_max_age == timedelta(hours=1)
    assert "tag_pattern" in sensor.template_fields


def test_pipeline_resolution_names_what_is_missing(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="also give group, ingestion_job"):
        resolve_pipeline("ods.orders", topics=["shop.orders"])
    yaml = tmp_path / "p.yaml"
    yaml.write_text("pipelines:\n  ods.other:\n    topics: [t]\n    group: g\n    ingestion_job: j\n")
    with pytest.raises(InvalidInputError, match=r"'ods\.orders' is not declared .*ods\.other"):
        resolve_pipeline("ods.orders", pipelines_file=str(yaml))
    with pytest.raises(InvalidInputError, match="declared for table"):
        resolve_pipeline("ods.x", pipeline=PIPELINE)


def test_check_round_trips_through_trigger_kwargs() -> None:
    check = CompletenessCheck(PIPELINE, Policy(allowed_lateness=timedelta(seconds=90)), kafka_conn_id="k")
    assert CompletenessCheck.from_dict(check.to_dict()) == check
    window = Window(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC))
    trigger = IngestionCompleteTrigger(check=check.to_dict(), window=window.to_dict(), poke_interval=5)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_rtp.triggers.ingestion.IngestionCompleteTrigger"
    assert IngestionCompleteTrigger(**kwargs).serialize() == (path, kwargs)
    watcher = IngestionCompleteEventTrigger(check=check.to_dict(), start="2026-11-24T00:00:00Z", every=3600)
    assert IngestionCompleteEventTrigger(**watcher.serialize()[1]).serialize() == watcher.serialize()


def test_event_trigger_refuses_a_bad_start_or_length() -> None:
    check = CompletenessCheck(PIPELINE).to_dict()
    with pytest.raises(InvalidInputError, match="every > 0"):
        IngestionCompleteEventTrigger(check=check, start="2026-11-24T00:00:00Z", every=0)


def test_partition_key_is_the_window_start_in_the_mappers_format() -> None:
    window = Window(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC))
    assert partition_key(window) == "2026-11-24T10:00:00"
    assert table_asset("ods.orders").uri == "iceberg://lake/ods/orders"
    with pytest.raises(InvalidInputError):
        table_asset("orders")


def test_window_far_ahead_is_refused_before_any_io() -> None:
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    with pytest.raises(InvalidWindowError, match="after now"):
        check_window(Window(now + timedelta(days=2), now + timedelta(days=2, hours=1)), Policy(), now)
    check_window(Window(now, now + timedelta(hours=1)), Policy(), now)


def test_restarting_systems_are_transient_bad_names_are_not() -> None:
    assert is_transient(FlinkConnectionError("refused"))
    down = KafkaError("list_offsets failed")
    down.__cause__ = KafkaException(CKafkaError(CKafkaError._ALL_BROKERS_DOWN))
    assert is_transient(down)
    moved = KafkaError("list_offsets failed")  # a restarted broker's leadership is not settled yet
    moved.__cause__ = KafkaException(CKafkaError(CKafkaError.UNKNOWN_LEADER_EPOCH))
    assert is_transient(moved)
    flagged = KafkaError("fetch failed")
    flagged.__cause__ = KafkaException(CKafkaError(CKafkaError.INVALID_RECORD, retriable=True))
    assert is_transient(flagged)
    missing = KafkaError("topic 'x' does not exist")
    missing.__cause__ = KafkaException(CKafkaError(CKafkaError.UNKNOWN_TOPIC_OR_PART))
    assert not is_transient(missing)
    missing.__cause__ = KafkaException(CKafkaError(CKafkaError.UNKNOWN_TOPIC_OR_PART, retriable=True))
    assert not is_transient(missing)
    assert not is_transient(FlinkJobNotFound("no job"))


def test_deadline_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(InvalidInputError, match="deadline"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, deadline="1h")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="on_deadline_missed"):
        IngestionCompleteSensor(task_id="t", table="ods.orders", pipeline=PIPELINE, on_deadline_missed=["x"])  # type: ignore[list-item]
    sensor = IngestionCompleteSensor(
        task_id="t", table="ods.orders", pipeline=PIPELINE, deadline=600, on_deadline_missed=print
    )
    assert sensor.policy.deadline == timedelta(minutes=10) and sensor.on_deadline_missed == (print,)


def test_a_missed_deadline_calls_each_callback_once_per_window(monkeypatch) -> None:
    calls: list[dict] = []
    sensor = IngestionCompleteSensor(
        task_id="t",
        table="ods.orders",
        pipeline=PIPELINE,
        deadline=60,
        on_deadline_missed=[lambda ctx: calls.append(ctx["rtp_deadline"]), lambda ctx: 1 / 0],
    )
    store = DecisionStore(accessor=_Store())
    monkeypatch.setattr(sensor, "_store", lambda: store)
    now = datetime.now(tz=UTC)
    overdue = Window(now - timedelta(minutes=10), now - timedelta(minutes=5))
    on_time = Window(now - timedelta(seconds=30), now)
    report = "window … → WAITING (kafka)"
    assert sensor._watch_deadline({}, on_time, report) is False  # type: ignore[arg-type]
    for _ in range(3):  # every poke sees it missed; the callbacks run once (a failing one is logged)
        assert sensor._watch_deadline({}, overdue, report) is True  # type: ignore[arg-type]
    assert len(calls) == 1
    assert calls[0]["window"] == overdue.to_dict() and calls[0]["missed"] is True
    assert calls[0]["missed_by_seconds"] >= 240
    assert calls[0]["report"].startswith(report) and "missed by 4m" in calls[0]["report"]


def test_trigger_carries_whether_the_deadline_was_alerted() -> None:
    check = CompletenessCheck(PIPELINE, Policy(deadline=timedelta(minutes=5)))
    window = Window(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC))
    trigger = IngestionCompleteTrigger(
        check=check.to_dict(), window=window.to_dict(), poke_interval=5, deadline_alerted=True
    )
    _, kwargs = trigger.serialize()
    assert IngestionCompleteTrigger(**kwargs).deadline_alerted is True
    assert CompletenessCheck.from_dict(kwargs["check"]).policy.deadline == timedelta(minutes=5)
