"""KafkaHook: the Kafka provider's hook with lag measurements; one config, credentials never shown."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.sdk import Connection
from airflow.sdk._shared.secrets_masker import redact

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.kafka import (
    KafkaClientConfig,
    KafkaHook,
    _to_ms,
    kafka_client_config,
    redacted_config,
)

SECRET = "s3cr3t-pw-7f1c"
JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required password='jaas-9e2d';"


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kafka", "extra": extra}))


EXTRA = {
    "bootstrap.servers": "b1:9092,b2:9092",
    "group.id": "orders-sink",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "svc",
    "sasl.password": SECRET,
    "sasl.jaas.config": JAAS,
}


def test_the_hook_is_the_official_kafka_hook() -> None:
    assert issubclass(KafkaHook, KafkaBaseHook)
    assert (KafkaHook.conn_type, KafkaHook.default_conn_name) == ("kafka", "kafka_default")


def test_extra_is_the_librdkafka_config_without_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_ut", EXTRA)
    hook = KafkaHook("kafka_ut")
    assert hook.default_group == "orders-sink"
    assert hook.config == {k: v for k, v in EXTRA.items() if k != "group.id"}


def test_one_config_for_the_hook_and_a_fetched_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_same", EXTRA)
    fetched = Connection(conn_id="kafka_held", conn_type="kafka", extra=json.dumps(EXTRA))
    # A connection handed over (a trigger fetched it) is not looked up: kafka_held is defined nowhere.
    assert kafka_client_config(fetched) == KafkaHook("kafka_same").config
    assert KafkaHook("kafka_held", connection=fetched).default_group == "orders-sink"


def test_credentials_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_sec", EXTRA)
    hook = KafkaHook("kafka_sec")
    config = hook.config
    assert isinstance(config, KafkaClientConfig) and config["sasl.password"] == SECRET
    for shown in (repr(config), str(config), f"{config}", repr(hook), str(hook)):
        assert SECRET not in shown and "jaas-9e2d" not in shown, shown
    assert "'sasl.password': '***'" in repr(config) and "'sasl.username': 'svc'" in repr(config)


def test_credentials_are_masked_in_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"bootstrap.servers": "b:9092", "sasl.jaas.config": JAAS, "ssl.key.pem": "PEM-body-4b7a"}
    fetched = Connection(conn_id="kafka_logs", conn_type="kafka", extra=json.dumps(extra))
    kafka_client_config(fetched)
    # sasl.jaas.config and ssl.key.pem are not in Airflow's own list of sensitive names.
    line = redact(f"client config {dict(kafka_client_config(fetched))}")
    assert "jaas-9e2d" not in line and "PEM-body-4b7a" not in line and "b:9092" in line


def test_missing_bootstrap_names_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_nobs", {"group.id": "g"})
    with pytest.raises(InvalidInputError, match=r"Kafka connection 'kafka_nobs': .*bootstrap\.servers"):
        _ = KafkaHook("kafka_nobs").config


def test_string_callbacks_follow_the_providers_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_cb", {"bootstrap.servers": "b:9092", "error_cb": "json.dumps"})
    monkeypatch.delenv("AIRFLOW__APACHE_KAFKA__CALLBACK_ALLOWLIST", raising=False)
    with pytest.raises(InvalidInputError, match=r"'kafka_cb'.*callback_allowlist"):
        _ = KafkaHook("kafka_cb").config
    monkeypatch.setenv("AIRFLOW__APACHE_KAFKA__CALLBACK_ALLOWLIST", "json.dumps")
    assert KafkaHook("kafka_cb").config["error_cb"] is json.dumps


def test_no_group_anywhere_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "kafka_nog", {"bootstrap.servers": "b:9092"})
    with pytest.raises(InvalidInputError, match="no consumer group"):
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
    with pytest.raises(InvalidInputError, match="naive datetime"):
        _to_ms(datetime(2026, 11, 24, 10))
    with pytest.raises(TypeError):
        _to_ms(1.5)  # type: ignore[arg-type]
    assert _to_ms(datetime.fromisoformat("2026-11-24T10:00:00+00:00")) == 1_795_514_400_000


def test_the_kafka_connection_type_is_left_to_the_official_provider() -> None:
    from airflow_provider_rtp.get_provider_info import get_provider_info

    assert "kafka" not in [c["connection-type"] for c in get_provider_info()["connection-types"]]
