"""Exact consumer-group lag through an Airflow connection of type ``kafka``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_rtp.kafka import GroupLag, KafkaLagReader, PartitionLag

__all__ = ["KafkaHook", "kafka_client_config", "redacted_config"]

# librdkafka properties whose values are credentials (sasl.password, ssl.key.password,
# sasl.oauthbearer.client.secret, sasl.jaas.config, ssl.key.pem, ...).
_SECRET_WORDS = ("password", "secret", "jaas", "key.pem", "token", "credentials")


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def redacted_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with credential values replaced, safe to log or show."""
    return {k: ("***" if _is_secret(k) else v) for k, v in config.items()}


def kafka_client_config(conn: Any) -> dict[str, Any]:
    """A librdkafka config from a ``kafka`` connection: its extra, else ``host:port`` as bootstrap.

    Credentials in it are registered with Airflow's secret masker, so they never reach a log.
    """
    config = {str(k): v for k, v in (conn.extra_dejson or {}).items()}
    if "bootstrap.servers" not in config and conn.host:
        config["bootstrap.servers"] = f"{conn.host}:{conn.port}" if conn.port else conn.host
    if "bootstrap.servers" not in config:
        raise ValueError(f"connection {conn.conn_id!r} has no 'bootstrap.servers' in its extra and no host")
    for key, value in config.items():
        if _is_secret(key) and isinstance(value, str) and value:
            mask_secret(value, key)
    # The reader's probe consumers choose their own group ids.
    config.pop("group.id", None)
    return config


class KafkaHook(BaseHook):
    """Measures consumer-group lag exactly (see :class:`~airflow_provider_rtp.kafka.KafkaLagReader`).

    The connection is the one the official ``apache-airflow-providers-apache-kafka``
    package defines (type ``kafka``): its extra JSON is the librdkafka client
    configuration, e.g. ``{"bootstrap.servers": "broker:9092", "group.id": "orders-sink",
    "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "...",
    "sasl.password": "..."}``, so existing connections work unchanged. ``group.id``
    is the default group to measure; ``error_cb`` may name a function by its dotted path.

    The hook keeps one reader, so a reset (committed offsets going backwards)
    shows up between two measurements made through the same hook.

    :param kafka_config_id: the Airflow connection id.
    """

    conn_name_attr = "kafka_config_id"
    default_conn_name = "kafka_default"
    conn_type = "kafka"
    hook_name = "Apache Kafka"

    def __init__(self, kafka_config_id: str = default_conn_name) -> None:
        super().__init__()
        self.kafka_config_id = kafka_config_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login", "password", "port", "host"],
            "relabeling": {"extra": "Config Dict"},
            "placeholders": {"extra": '{"bootstrap.servers": "localhost:9092", "group.id": "my-group"}'},
        }

    @cached_property
    def config(self) -> dict[str, Any]:
        """The librdkafka configuration from the connection's extra; credentials are masked in logs."""
        extra = dict(self.get_connection(self.kafka_config_id).extra_dejson)
        if not extra.get("bootstrap.servers"):
            raise ValueError(
                f"connection {self.kafka_config_id!r} has no 'bootstrap.servers' in its extra "
                "(the extra is the librdkafka config, as for the apache-kafka provider)"
            )
        for key, value in extra.items():
            if _is_secret(key) and isinstance(value, str) and value:
                mask_secret(value, key)
        if isinstance(extra.get("error_cb"), str):
            module, _, name = extra["error_cb"].rpartition(".")
            extra["error_cb"] = getattr(importlib.import_module(module), name)
        return extra

    @property
    def default_group(self) -> str | None:
        group = self.config.get("group.id")
        return str(group) if group else None

    @cached_property
    def reader(self) -> KafkaLagReader:
        self.log.info(
            "Kafka lag reader for %s (connection %s)", self.config["bootstrap.servers"], self.kafka_config_id
        )
        return KafkaLagReader(self.config)

    def get_conn(self) -> KafkaLagReader:
        return self.reader

    def close(self) -> None:
        reader = self.__dict__.pop("reader", None)
        if reader is not None:
            reader.close()

    def _group(self, group: str | None) -> str:
        group = group or self.default_group
        if not group:
            raise ValueError(
                f"no consumer group given and connection {self.kafka_config_id!r} has no 'group.id'"
            )
        return group

    # -- measurements --------------------------------------------------------
    def group_lag(self, topics: Sequence[str], group: str | None = None) -> GroupLag:
        """Per-partition lag of ``group`` (default: the connection's ``group.id``) on ``topics``."""
        if isinstance(topics, str):
            topics = [topics]
        return self.reader.group_lag(self._group(group), list(topics))

    def partition_lags(self, topics: Sequence[str], group: str | None = None) -> list[PartitionLag]:
        return list(self.group_lag(topics, group).partitions)

    def slowest_partition(self, topics: Sequence[str], group: str | None = None) -> PartitionLag | None:
        """The partition consumed through the earliest time (missing commits and unknowns first)."""
        return self.group_lag(topics, group).slowest

    def group_summary(self, topics: Sequence[str], group: str | None = None) -> dict[str, Any]:
        """One JSON-able dict: state, totals, the slowest partition, retention gaps, resets."""
        return self.group_lag(topics, group).summary()

    def offsets_for_times(
        self, topics: Sequence[str], when: datetime | int
    ) -> dict[tuple[str, int], int | None]:
        """The first offset stamped at or after ``when`` per partition (None: no such record)."""
        if isinstance(topics, str):
            topics = [topics]
        return self.reader.offsets_for_times(list(topics), _to_ms(when))

    def newest_heartbeat(self, topic: str) -> datetime | None:
        """Time of the newest committed record of a heartbeat topic (None while it is empty)."""
        ms = self.reader.newest_committed_timestamp(topic)
        return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)

    def test_connection(self) -> tuple[bool, str]:
        try:
            topics = self.reader.topic_names()
            return True, f"Kafka at {self.config['bootstrap.servers']}: {len(topics)} topics"
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()


def _to_ms(when: datetime | int) -> int:
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"naive datetime {when.isoformat()}: give a timezone (e.g. UTC)")
        return int(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, int):
        raise TypeError(f"expected an aware datetime or epoch milliseconds, got {type(when).__name__}")
    return when
