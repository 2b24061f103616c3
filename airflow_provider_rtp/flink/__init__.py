"""Clients of Flink's REST APIs (JobManager and SQL Gateway), free of Airflow imports."""

from airflow_provider_rtp.flink._http import HttpSettings
from airflow_provider_rtp.flink.models import CheckpointStats, JobState, JobSummary, SavepointResult
from airflow_provider_rtp.flink.rest import FlinkRestClient, jar_checksum
from airflow_provider_rtp.flink.sql_gateway import SqlGatewayClient, SqlResult, statement_set

__all__ = [
    "CheckpointStats",
    "FlinkRestClient",
    "HttpSettings",
    "JobState",
    "JobSummary",
    "SavepointResult",
    "SqlGatewayClient",
    "SqlResult",
    "jar_checksum",
    "statement_set",
]
