"""Iceberg tables: where they are and their snapshot log, free of Airflow imports."""

from airflow_provider_rtp.iceberg.locations import is_metadata_location, local_location
from airflow_provider_rtp.iceberg.snapshot_log import observe_table, read_snapshot_log

__all__ = ["is_metadata_location", "local_location", "observe_table", "read_snapshot_log"]
