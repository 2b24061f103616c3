"""What one completeness check reads, from Airflow: its pipeline and its clients.

The sensor, its triggers and the ``rtp-completeness`` command resolve the
pipeline with :func:`resolve_pipeline` and build their clients with
:class:`CheckClients`, so they ask the same question of the same systems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.evaluation import CompletenessCheck
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.flink import FlinkRestClient
from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.hooks.kafka import kafka_client_config
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.kafka import KafkaLagReader

__all__ = ["CheckClients", "lookup_connection", "resolve_pipeline"]


def resolve_pipeline(
    table: str,
    *,
    pipeline: Pipeline | None = None,
    pipelines_file: str | None = None,
    topics: Sequence[str] | str | None = None,
    group: str | None = None,
    ingestion_job: str | None = None,
    cdc_job: str | None = None,
    heartbeat_topic: str | None = None,
) -> Pipeline:
    """The pipeline feeding ``table``: given, spelled out, or declared in the pipelines YAML.

    The YAML is ``pipelines_file``, else the ``[rtp] pipelines_file`` Airflow option.
    """
    if pipeline is not None:
        if pipeline.table != table:
            raise InvalidInputError(f"pipeline is declared for table {pipeline.table!r}, not {table!r}")
        return pipeline
    if topics or group or ingestion_job:
        missing = [
            n for n, v in (("topics", topics), ("group", group), ("ingestion_job", ingestion_job)) if not v
        ]
        if missing:
            raise InvalidInputError(f"table {table!r}: also give {', '.join(missing)} (or a pipelines file)")
        assert topics and group and ingestion_job
        return Pipeline(
            table=table,
            topics=tuple([topics] if isinstance(topics, str) else topics),
            group=group,
            ingestion_job=ingestion_job,
            cdc_job=cdc_job or None,
            heartbeat_topic=heartbeat_topic or None,
        )
    from airflow.sdk import conf

    path = pipelines_file or conf.get("rtp", "pipelines_file", fallback=None)
    if not path:
        raise InvalidInputError(
            f"no pipeline for table {table!r}: pass pipeline=, or topics/group/ingestion_job, "
            "or a pipelines YAML (pipelines_file= or [rtp] pipelines_file)"
        )
    from airflow_provider_rtp.completeness import load_pipelines

    pipelines = load_pipelines(path)
    if table not in pipelines:
        raise InvalidInputError(
            f"table {table!r} is not declared in {path} (declared: {', '.join(sorted(pipelines))})"
        )
    return pipelines[table]


def lookup_connection(conn_id: str) -> Any:
    """A connection as any Airflow process finds it: AIRFLOW_CONN_* variables, a secrets backend, the DB.

    Outside a task and the API server the task SDK searches only the first two, so
    a connection defined in the metadata database is read from it here, directly.
    Its secrets are registered with the secret masker either way.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    try:
        from airflow.secrets.metastore import MetastoreBackend

        conn = MetastoreBackend().get_connection(conn_id)
    except Exception as exc:  # no reachable metadata DB: the connection is simply not defined
        conn = None
        reason = f"; the metadata database was not readable ({type(exc).__name__})"
    else:
        reason = ""
    if conn is None:
        raise InvalidInputError(
            f"Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_{conn_id.upper()}, "
            f"add it to the secrets backend or to Airflow's connections{reason}"
        )
    from airflow.sdk.log import mask_secret

    if conn.password:
        mask_secret(conn.password)
    conn.extra_dejson  # noqa: B018  # masks the extra's sensitive values
    return conn


class _FetchedClickHouseHook(ClickHouseHook):
    """A ClickHouseHook on a connection already fetched (a trigger fetches them asynchronously)."""

    def __init__(self, clickhouse_conn_id: str, connection: Any) -> None:
        super().__init__(clickhouse_conn_id)
        self._connection = connection

    def get_connection(self, conn_id: str) -> Any:  # type: ignore[override]
        if conn_id == self.clickhouse_conn_id:
            return self._connection
        return super().get_connection(conn_id)


class CheckClients:
    """Kafka, Flink and the Iceberg catalog (or, for a ClickHouse sink, ClickHouse) of one check,
    reused across evaluations.

    :param connections: connections already fetched (a trigger fetches them asynchronously),
        by id; the others are looked up when first needed.
    """

    def __init__(self, check: CompletenessCheck, connections: Mapping[str, Any] | None = None) -> None:
        connections = connections or {}
        self.check = check
        self.platform = RealtimePlatformHook(check.rtp_conn_id, connection=connections.get(check.rtp_conn_id))
        self.iceberg = IcebergHook(check.iceberg_conn_id, connection=connections.get(check.iceberg_conn_id))
        self._kafka_conn = connections.get(check.kafka_conn_id)
        self._clickhouse_conn = connections.get(check.clickhouse_conn_id)

    @classmethod
    def looked_up(cls, check: CompletenessCheck) -> CheckClients:
        """Clients on the check's connections as any Airflow process finds them
        (:func:`lookup_connection`): outside a task, e.g. the CLI and the API server."""
        return cls(check, {conn_id: lookup_connection(conn_id) for conn_id in dict.fromkeys(check.conn_ids)})

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

    @cached_property
    def clickhouse(self) -> ClickHouseHook | None:
        """Where a ClickHouse-sink pipeline's table is looked up; ``None`` for an Iceberg sink."""
        if self.check.pipeline.sink != "clickhouse":
            return None
        conn_id = self.check.clickhouse_conn_id
        if self._clickhouse_conn is not None:
            return _FetchedClickHouseHook(conn_id, self._clickhouse_conn)
        return ClickHouseHook(conn_id)

    def close(self) -> None:
        self.platform.close()
        kafka = self.__dict__.pop("kafka", None)
        if kafka is not None:
            kafka.close()
        clickhouse = self.__dict__.pop("clickhouse", None)
        if clickhouse is not None:
            clickhouse.close()
