"""OpenLineage datasets of the systems the provider's tasks read and write: the one place they are named.

Names follow the OpenLineage naming spec (``namespace`` = the data source, ``name`` = the
dataset in it):

========== ================================ ==================
system     namespace                        name
========== ================================ ==================
Kafka      ``kafka://{host}:{port}``        the topic
Iceberg    ``iceberg://{catalog}``          ``namespace.table``
ClickHouse ``clickhouse://{host}:{port}``   ``database.table``
========== ================================ ==================

Kafka's host and port are the first of the connection's ``bootstrap.servers``; the Iceberg
catalog is the connection's ``catalog_name`` (as in the table's Airflow asset,
``iceberg://{catalog}/{namespace}/{table}``); ClickHouse's are the connection's host and
native port. Only hosts, ports and names go into a dataset: never a login, password or token.

The ``apache-airflow-providers-openlineage`` provider is optional: it calls the operators'
``get_openlineage_facets_on_complete``, which build :func:`operator_lineage` from these; without
it nothing here is imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.exceptions import InvalidInputError

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = [
    "LineageDataset",
    "clickhouse_dataset",
    "declared_pipeline",
    "iceberg_dataset",
    "kafka_datasets",
    "operator_lineage",
    "pipeline_lineage",
    "table_lineage",
]


@dataclass(frozen=True)
class LineageDataset:
    """One dataset as OpenLineage names it."""

    namespace: str
    name: str


def kafka_namespace(bootstrap_servers: str) -> str:
    """``kafka://host:port`` of the first bootstrap server (a listener prefix, ``SSL://``, dropped)."""
    first = bootstrap_servers.split(",")[0].strip()
    first = first.split("://", 1)[-1]
    if not first:
        raise InvalidInputError(f"no bootstrap server in {bootstrap_servers!r}")
    return f"kafka://{first}"


def clickhouse_namespace(host: str, port: int) -> str:
    return f"clickhouse://{host}:{int(port)}"


def iceberg_namespace(catalog: str) -> str:
    return f"iceberg://{catalog}"


def kafka_datasets(topics: Iterable[str], kafka_conn_id: str = "kafka_default") -> list[LineageDataset]:
    """The topics on the cluster of ``kafka_conn_id``."""
    servers = BaseHook.get_connection(kafka_conn_id).extra_dejson.get("bootstrap.servers")
    if not servers:
        raise InvalidInputError(f"connection {kafka_conn_id!r} has no bootstrap.servers in its extra")
    namespace = kafka_namespace(str(servers))
    return [LineageDataset(namespace, topic) for topic in topics]


def iceberg_dataset(table: str, iceberg_conn_id: str = "iceberg_default") -> LineageDataset:
    """``namespace.table`` in the catalog of ``iceberg_conn_id``."""
    from airflow_provider_rtp.hooks.iceberg import IcebergHook

    return LineageDataset(iceberg_namespace(IcebergHook(iceberg_conn_id).flink_catalog_name()), table)


def clickhouse_dataset(table: str, clickhouse_conn_id: str = "clickhouse_default") -> LineageDataset:
    """``database.table`` on the server of ``clickhouse_conn_id``."""
    from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook

    settings = ClickHouseHook(clickhouse_conn_id).settings()
    return LineageDataset(clickhouse_namespace(settings.host, settings.port), table)


def pipeline_lineage(
    pipeline: Pipeline,
    *,
    kafka_conn_id: str = "kafka_default",
    iceberg_conn_id: str = "iceberg_default",
    clickhouse_conn_id: str = "clickhouse_default",
) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """What a declared pipeline's ingestion job reads (its topics) and writes (its table)."""
    inputs = kafka_datasets(pipeline.topics, kafka_conn_id)
    if pipeline.sink == "clickhouse" and pipeline.clickhouse_table:
        return inputs, [clickhouse_dataset(pipeline.clickhouse_table, clickhouse_conn_id)]
    return inputs, [iceberg_dataset(pipeline.table, iceberg_conn_id)]


def operator_lineage(inputs: Sequence[LineageDataset], outputs: Sequence[LineageDataset]) -> OperatorLineage:
    """The OpenLineage provider's ``OperatorLineage`` of these datasets (imported only when asked for)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    def to_datasets(items: Sequence[LineageDataset]) -> list[Any]:
        return [Dataset(namespace=d.namespace, name=d.name) for d in items]

    return OperatorLineage(inputs=to_datasets(inputs), outputs=to_datasets(outputs))


def declared_pipeline(job_name: str, pipelines_file: str | None = None) -> Pipeline | None:
    """The pipeline whose ingestion job is ``job_name`` in the pipelines YAML (``pipelines_file`` or
    ``[rtp] pipelines_file``); ``None`` when none is configured or none declares that job."""
    from airflow.sdk import conf

    from airflow_provider_rtp.completeness import load_pipelines

    path = pipelines_file or conf.get("rtp", "pipelines_file", fallback=None)
    if not path:
        return None
    return next((p for p in load_pipelines(path).values() if p.ingestion_job == job_name), None)


def table_lineage(table: str, iceberg_conn_id: str = "iceberg_default") -> OperatorLineage:
    """A task that reads and rewrites one Iceberg table (maintenance): the table in and out."""
    dataset = iceberg_dataset(table, iceberg_conn_id)
    return operator_lineage([dataset], [dataset])
