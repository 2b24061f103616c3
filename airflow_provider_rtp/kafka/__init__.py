"""Exact Kafka consumer-group lag, free of Airflow imports."""

from airflow_provider_rtp.kafka.errors import is_transient_kafka_error
from airflow_provider_rtp.kafka.lag import KafkaLagReader
from airflow_provider_rtp.kafka.models import (
    GroupLag,
    GroupReading,
    PartitionLag,
    PartitionReading,
    PartitionStatus,
)

__all__ = [
    "GroupLag",
    "GroupReading",
    "KafkaLagReader",
    "PartitionLag",
    "PartitionReading",
    "PartitionStatus",
    "is_transient_kafka_error",
]
