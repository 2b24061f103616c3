"""Exact Kafka consumer-group lag, free of Airflow imports."""

from airflow_provider_rtp.kafka.errors import is_transient_kafka_error
from airflow_provider_rtp.kafka.lag import KafkaLagReader
from airflow_provider_rtp.kafka.models import GroupLag, PartitionLag, PartitionStatus

__all__ = ["GroupLag", "KafkaLagReader", "PartitionLag", "PartitionStatus", "is_transient_kafka_error"]
