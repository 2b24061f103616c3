"""Exact consumer-group lag through the Apache Kafka provider's ``kafka`` connection.

:func:`kafka_client_config` is the one way a ``kafka`` connection becomes a
librdkafka configuration here: the hook, the completeness check's clients and
the ``rtp-completeness`` command all build their clients through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.kafka import GroupLag, KafkaLagReader, PartitionLag

__all__ = ["KafkaClientConfig", "KafkaHook", "kafka_client_config", "redacted_config"]

# librdkafka properties whose values are credentials (sasl.password, ssl.key.password,
# sasl.oauthbearer.client.secret, sasl.jaas.config, ssl.key.pem, ...).
_SECRET_WORDS = ("password", "secret", "jaas", "key.pem", "token", "credentials")
_HIDDEN = "***"


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def redacted_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with credential values replaced, safe to log or show."""
    return {k: (_HIDDEN if _is_secret(k) else v) for k, v in config.items()}


class KafkaClientConfig(dict[str, Any]):
    """A librdkafka configuration whose ``repr`` and ``str`` hide credential values.

    It is a plain ``dict`` for confluent-kafka; only showing it is redacted.
    """

    def __repr__(self) -> str:
        return f"KafkaClientConfig({redacted_config(self)!r})"

    __str__ = __repr__


def kafka_client_config(conn: Any) -> KafkaClientConfig:
    """The librdkafka configuration of a ``kafka`` connection (one already fetched).

    The connection's extra is the configuration, as for the Apache Kafka provider:
    its rules apply (``bootstrap.servers`` required, string callbacks only from
    ``[apache_kafka] callback_allowlist``, managed-cloud OAuth callbacks). Credential
    values are registered with Airflow's secret masker. ``group.id`` is left out:
    every client built from it chooses its own group (see :attr:`KafkaHook.default_group`).
    """
    return KafkaHook(conn.conn_id, connection=conn).config


class KafkaHook(KafkaBaseHook):
    """Measures consumer-group lag exactly (see :class:`~airflow_provider_rtp.kafka.KafkaLagReader`).

    The connection is the official ``apache-airflow-providers-apache-kafka`` one
    (type ``kafka``), read by its base hook: the extra JSON is the librdkafka
    client configuration, e.g. ``{"bootstrap.servers": "broker:9092", "group.id":
    "orders-sink", "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
    "sasl.username": "...", "sasl.password": "..."}``. ``group.id`` is the default
    group to measure.

    The hook keeps one reader, so a reset (committed offsets going backwards)
    shows up between two measurements made through the same hook.

    :param kafka_config_id: the Airflow connection id.
    :param connection: one already fetched (a trigger gets it asynchronously), else looked up by id.
    """

    def __init__(self, kafka_config_id: str = KafkaBaseHook.default_conn_name, *, connection: Any = None):
        super().__init__(kafka_config_id)
        self._connection = connection
        # The base hook looks its connection up by id each time it builds a config;
        # this hook answers with the one it holds (given, or fetched once).
        self.get_connection = self._held_connection  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kafka_config_id={self.kafka_config_id!r})"

    __str__ = __repr__

    def _held_connection(self, conn_id: str) -> Any:
        if conn_id != self.kafka_config_id:
            return type(self).get_connection(conn_id)
        return self.connection

    @property
    def connection(self) -> Any:
        if self._connection is None:
            self._connection = type(self).get_connection(self.kafka_config_id)
        return self._connection

    def _build_config(self) -> KafkaClientConfig:
        try:
            config = super()._build_config()
        except ValueError as exc:
            raise InvalidInputError(
                f"Kafka connection {self.kafka_config_id!r}: {exc} (its extra is the librdkafka config, "
                'e.g. {"bootstrap.servers": "broker:9092"})'
            ) from None
        for key, value in config.items():
            if _is_secret(key) and isinstance(value, str) and value:
                # Without a name: Airflow would skip a name outside its own list (sasl.jaas.config).
                mask_secret(value)
        config.pop("group.id", None)
        return KafkaClientConfig(config)

    @cached_property
    def config(self) -> KafkaClientConfig:
        """The librdkafka configuration (see :func:`kafka_client_config`)."""
        return self._build_config()

    @property
    def default_group(self) -> str | None:
        group = self.connection.extra_dejson.get("group.id")
        return str(group) if group else None

    @cached_property
    def reader(self) -> KafkaLagReader:
        self.log.info(
            "Kafka lag reader for %s (connection %s)", self.config["bootstrap.servers"], self.kafka_config_id
        )
        return KafkaLagReader(self.config)

    def close(self) -> None:
        reader = self.__dict__.pop("reader", None)
        if reader is not None:
            reader.close()

    def _group(self, group: str | None) -> str:
        group = group or self.default_group
        if not group:
            raise InvalidInputError(
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
            raise InvalidInputError(f"naive datetime {when.isoformat()}: give a timezone (e.g. UTC)")
        return int(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, int):
        raise TypeError(f"expected an aware datetime or epoch milliseconds, got {type(when).__name__}")
    return when
