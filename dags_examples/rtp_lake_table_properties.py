"""Table properties the lake's tables should carry, applied idempotently once a day.

``IcebergTablePropertiesOperator`` keeps each Iceberg table of the pipelines YAML at a
bounded number of metadata files (a writer committing every checkpoint writes one per
commit) and, where given, Parquet bloom filters for point lookups. A property already at
its value is left alone, so a run that changes nothing commits nothing.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, conf

from airflow_provider_rtp.completeness import load_pipelines
from airflow_provider_rtp.operators.iceberg_maintenance import IcebergTablePropertiesOperator

PIPELINES = (
    conf.get("rtp", "pipelines_file", fallback=None)
    or Path(__file__).resolve().parents[1] / "stack" / "pipelines.yaml"
)
ICEBERG_TABLES = sorted(name for name, p in load_pipelines(PIPELINES).items() if p.sink == "iceberg")
# Per table, columns worth a bloom filter (column -> false-positive probability), e.g.
# {"ods.orders": {"customer_id": 0.01}}; files written from then on carry them.
BLOOM_FILTERS: dict[str, dict[str, float | None]] = {}

with DAG(
    "rtp_lake_table_properties",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["rtp", "example", "maintenance"],
):
    for table in ICEBERG_TABLES:
        IcebergTablePropertiesOperator(
            task_id=f"properties_{table.replace('.', '_')}",
            table=table,
            previous_versions_max=100,
            bloom_filters=BLOOM_FILTERS.get(table, {}),
        )
