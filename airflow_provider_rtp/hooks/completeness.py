"""The clients of one completeness check, built from its Airflow connections."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow_provider_rtp.evaluation import CompletenessCheck
from airflow_provider_rtp.flink import FlinkRestClient
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.hooks.kafka import kafka_client_config
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.kafka import KafkaLagReader

__all__ = ["CheckClients"]


class CheckClients:
    """Kafka, Flink and the Iceberg catalog of one check, reused across evaluations.

    :param connections: connections already fetched (a trigger fetches them asynchronously),
        by id; the others are looked up when first needed.
    """

    def __init__(self, check: CompletenessCheck, connections: Mapping[str, Any] | None = None) -> None:
        connections = connections or {}
        self.check = check
        self.platform = RealtimePlatformHook(check.rtp_conn_id, connection=connections.get(check.rtp_conn_id))
        self.iceberg = IcebergHook(check.iceberg_conn_id, connection=connections.get(check.iceberg_conn_id))
        self._kafka_conn = connections.get(check.kafka_conn_id)

    @cached_property
    def kafka(self) -> KafkaLagReader:
        from airflow.sdk import BaseHook

        conn = self._kafka_conn or BaseHook.get_connection(self.check.kafka_conn_id)
        return KafkaLagReader(kafka_client_config(conn))

    @property
    def flink(self) -> FlinkRestClient:
        return self.platform.rest

    @property
    def catalog(self) -> Any:
        return self.iceberg.catalog

    def close(self) -> None:
        self.platform.close()
        kafka = self.__dict__.pop("kafka", None)
        if kafka is not None:
            kafka.close()
