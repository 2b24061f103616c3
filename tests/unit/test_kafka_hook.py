"""KafkaHook reads the official apache-kafka connection format and never shows credentials."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from airflow_provider_rtp.hooks.kafka import KafkaHook, _to_ms, redacted_config


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kafka", "extra": extra}))


def test_extra_is_the_librdkafka_config(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {
        "bootstrap.servers": "b1:9092,b2:9092",
        "group.id": "orders-sink",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "svc",
        "sasl.password": "s3cr3t-pw",
        "error_cb": "json.dumps",
    }
    _conn(monkeypatch, "kafka_ut", extra)
    hook = KafkaHook("kafka_ut")
    assert hook.default_group == "orders-sink"
    assert hook.config["sasl.password"] == "s3cr3t-pw" and hook.config["error_cb"] is json.dumps
    shown = redacted_config(hook.config)
    assert shown["sasl.password"] == "***" and shown["sasl.username"] == "svc"
    assert "s3cr3t-pw" not in repr(hook) and "s3cr3t-pw" not in json.dumps(shown, default=str)


def test_missing_bootstrap_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_nobs", {"group.id": "g"})
    with pytest.raises(ValueError, match=r"bootstrap\.servers"):
        _ = KafkaHook("kafka_nobs").config


def test_no_group_anywhere_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_nog", {"bootstrap.servers": "b:9092"})
    with pytest.raises(ValueError, match="no consumer group"):
        KafkaHook("kafka_nog")._group(None)


def test_secret_keys_are_redacted() -> None:
    cfg = {
        "ssl.key.password": "a",
        "sasl.oauthbearer.client.secret": "b",
        "sasl.jaas.config": "c",
        "ssl.key.pem": "d",
        "bootstrap.servers": "x",
    }
    assert redacted_config(cfg) == {
        **{k: "***" for k in cfg if k != "bootstrap.servers"},
        "bootstrap.servers": "x",
    }


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _to_ms(datetime(2026, 11, 24, 10))
    with pytest.raises(TypeError):
        _to_ms(1.5)  # type: ignore[arg-type]
    assert _to_ms(datetime.fromisoformat("2026-11-24T10:00:00+00:00")) == 1_795_514_400_000


def test_kafka_form_is_registered_only_without_the_official_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_rtp import get_provider_info as gpi

    def types() -> list[str]:
        return [c["connection-type"] for c in gpi.get_provider_info()["connection-types"]]

    monkeypatch.setattr(gpi, "_official_kafka_provider_installed", lambda: False)
    assert "kafka" in types()
    monkeypatch.setattr(gpi, "_official_kafka_provider_installed", lambda: True)
    assert "kafka" not in types()
