"""Provider metadata for Airflow's providers manager. Plain data, no imports of the provider."""

from __future__ import annotations

from importlib import metadata
from typing import Any

PACKAGE_NAME = "airflow-provider-rtp"

_RTP_CONN_FIELDS: dict[str, Any] = {
    "sql_gateway_url": {
        "label": "SQL Gateway URL",
        "description": "REST endpoint of the Flink SQL Gateway, e.g. http://sql-gateway:8083",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "web_ui_url": {
        "label": "Flink web UI URL",
        "description": "Base URL for links to jobs; defaults to the JobManager REST URL",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "grafana_url": {
        "label": "Grafana URL",
        "description": "Optional; links to the lag dashboards",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "auth_type": {
        "label": "Auth type",
        "description": "none, basic (login/password) or bearer (token in the password field)",
        "schema": {"type": ["string", "null"], "enum": ["none", "basic", "bearer"], "default": "none"},
    },
    "verify_tls": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "ca_file": {
        "label": "CA bundle file",
        "description": "Path of a CA bundle to verify the endpoints with",
        "schema": {"type": ["string", "null"]},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["number", "null"], "default": 5, "minimum": 0},
    },
    "read_timeout": {
        "label": "Read timeout (s)",
        "schema": {"type": ["number", "null"], "default": 60, "minimum": 0},
    },
    "retries": {
        "label": "Retries on connection errors and 5xx",
        "schema": {"type": ["integer", "null"], "default": 3, "minimum": 0, "maximum": 10},
    },
}

_ICEBERG_CONN_FIELDS: dict[str, Any] = {
    "catalog_type": {
        "label": "Catalog type",
        "schema": {"type": ["string", "null"], "enum": ["sql", "rest", "hive", "glue"], "default": "sql"},
    },
    "catalog_name": {
        "label": "Catalog name",
        "description": "For sql: the catalog name the writer (Flink) used; it is part of each table row",
        "schema": {"type": ["string", "null"]},
    },
    "warehouse": {
        "label": "Warehouse location",
        "schema": {"type": ["string", "null"]},
    },
}


_INFLUXDB_CONN_FIELDS: dict[str, Any] = {
    "shards": {
        "label": "Shards",
        "description": (
            "name=url entries separated by commas, e.g. influxdb1=http://influx1:8086, "
            "influxdb2=http://influx2:8086; or a JSON list of {name, url, weight}. "
            "Empty: host and port are the one shard"
        ),
        "schema": {"type": ["string", "array", "null"]},
    },
    "auth_type": {
        "label": "Auth type",
        "description": "basic (InfluxDB 1.x login/password) or token (2.x/3.x API token as password)",
        "schema": {"type": ["string", "null"], "enum": ["basic", "token"], "default": "basic"},
    },
    "retention_policy": {
        "label": "Retention policy",
        "description": "Optional; the database's default when empty",
        "schema": {"type": ["string", "null"]},
    },
    "precision": {
        "label": "Write precision",
        "schema": {"type": ["string", "null"], "enum": ["ns", "u", "ms", "s"], "default": "ms"},
    },
    "batch_size": {
        "label": "Lines per write request",
        "schema": {"type": ["integer", "null"], "default": 5000, "minimum": 1},
    },
    "retries": {
        "label": "Retries on connection errors and 5xx",
        "schema": {"type": ["integer", "null"], "default": 3, "minimum": 0, "maximum": 10},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["number", "null"], "default": 5, "minimum": 0},
    },
    "read_timeout": {
        "label": "Read timeout (s)",
        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0},
    },
    "verify_tls": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Real-time Platform (Flink, Kafka, Iceberg, ClickHouse)",
        "description": (
            "Lake-ingestion dependency scheduling: submit and maintain Flink jobs, measure Kafka time "
            "lag, and start batch work only once an hour is provably committed in Iceberg."
        ),
        # The installed version; pyproject.toml reads it off the package (__version__).
        "versions": [metadata.version(PACKAGE_NAME)],
        "integrations": [
            {
                "integration-name": "Apache Flink (real-time platform)",
                "external-doc-url": "https://nightlies.apache.org/flink/flink-docs-release-1.20/",
                "tags": ["software"],
            },
            {
                "integration-name": "Apache Iceberg",
                "external-doc-url": "https://py.iceberg.apache.org/",
                "tags": ["software"],
            },
            {
                "integration-name": "Apache Kafka (consumer-group lag)",
                "external-doc-url": "https://kafka.apache.org/documentation/",
                "tags": ["software"],
            },
            {
                "integration-name": "InfluxDB (sharded metrics)",
                "external-doc-url": "https://docs.influxdata.com/influxdb/v1/tools/api/",
                "tags": ["software"],
            },
            {
                "integration-name": "Change data capture (MySQL/MariaDB, Flink CDC)",
                "external-doc-url": "https://nightlies.apache.org/flink/flink-cdc-docs-stable/",
                "tags": ["software"],
            },
            {
                "integration-name": "ClickHouse (window loads)",
                "external-doc-url": "https://clickhouse.com/docs/en/engines/table-engines/special/distributed",
                "tags": ["software"],
            },
        ],
        "hooks": [
            {
                "integration-name": "Apache Flink (real-time platform)",
                "python-modules": ["airflow_provider_rtp.hooks.platform"],
            },
            {
                "integration-name": "Apache Iceberg",
                "python-modules": ["airflow_provider_rtp.hooks.iceberg"],
            },
            {
                "integration-name": "Apache Kafka (consumer-group lag)",
                "python-modules": ["airflow_provider_rtp.hooks.kafka"],
            },
            {
                "integration-name": "InfluxDB (sharded metrics)",
                "python-modules": ["airflow_provider_rtp.hooks.influxdb"],
            },
            {
                "integration-name": "Change data capture (MySQL/MariaDB, Flink CDC)",
                "python-modules": ["airflow_provider_rtp.hooks.cdc"],
            },
            {
                # Connections: the "clickhouse" type of Airflow's ClickHouse provider, not registered
                # again here (two providers must not claim one connection type).
                "integration-name": "ClickHouse (window loads)",
                "python-modules": ["airflow_provider_rtp.hooks.clickhouse"],
            },
        ],
        "operators": [
            {
                "integration-name": "Apache Kafka (consumer-group lag)",
                "python-modules": ["airflow_provider_rtp.operators.lag_exporter"],
            },
            {
                "integration-name": "Apache Flink (real-time platform)",
                "python-modules": [
                    "airflow_provider_rtp.operators.flink",
                    "airflow_provider_rtp.operators.flink_lifecycle",
                    "airflow_provider_rtp.operators.flink_resume",
                    "airflow_provider_rtp.operators.flink_scaling",
                ],
            },
            {
                "integration-name": "Apache Iceberg",
                "python-modules": [
                    "airflow_provider_rtp.operators.iceberg_compaction",
                    "airflow_provider_rtp.operators.iceberg_health",
                    "airflow_provider_rtp.operators.iceberg_maintenance",
                ],
            },
            {
                "integration-name": "ClickHouse (window loads)",
                "python-modules": ["airflow_provider_rtp.operators.clickhouse_load"],
            },
        ],
        "sensors": [
            {
                "integration-name": "Apache Flink (real-time platform)",
                "python-modules": ["airflow_provider_rtp.sensors.flink"],
            },
            {
                "integration-name": "Apache Iceberg",
                "python-modules": ["airflow_provider_rtp.sensors.ingestion"],
            },
        ],
        "triggers": [
            {
                "integration-name": "Apache Flink (real-time platform)",
                "python-modules": ["airflow_provider_rtp.triggers.flink"],
            },
            {
                "integration-name": "Apache Iceberg",
                "python-modules": ["airflow_provider_rtp.triggers.ingestion"],
            },
        ],
        "extra-links": ["airflow_provider_rtp.links.flink.FlinkJobLink"],
        # The "Lake freshness" page; Airflow loads provider plugins with [core] lazy_discover_providers False.
        "plugins": [
            {
                "name": "rtp_freshness",
                "plugin-class": "airflow_provider_rtp.plugins.freshness.RtpFreshnessPlugin",
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_rtp.hooks.platform.RealtimePlatformHook",
                "hook-name": "Real-time Platform (Flink)",
                "connection-type": "rtp",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "JobManager REST URL", "password": "Password or bearer token"},
                    "placeholders": {
                        "host": "http://jobmanager:8081",
                        "login": "only for basic auth",
                    },
                },
                "conn-fields": _RTP_CONN_FIELDS,
            },
            {
                "hook-class-name": "airflow_provider_rtp.hooks.iceberg.IcebergHook",
                "hook-name": "Iceberg catalog (pyiceberg)",
                "connection-type": "iceberg",
                "ui-field-behaviour": {
                    "relabeling": {
                        "host": "Catalog host (sql) or URI (rest, hive, glue)",
                        "schema": "Database of the JDBC catalog (sql)",
                        "password": "Password or token",
                    },
                    "placeholders": {"host": "postgres", "port": "5432", "schema": "iceberg_catalog"},
                },
                "conn-fields": _ICEBERG_CONN_FIELDS,
            },
            {
                "hook-class-name": "airflow_provider_rtp.hooks.influxdb.ShardedInfluxDBHook",
                "hook-name": "InfluxDB shards (RTP)",
                "connection-type": "rtp_influxdb",
                "ui-field-behaviour": {
                    "relabeling": {
                        "host": "Host (only without Shards)",
                        "schema": "Database",
                        "password": "Password or API token",
                    },
                    "placeholders": {"schema": "rtp_metrics", "host": "influx1", "port": "8086"},
                },
                "conn-fields": _INFLUXDB_CONN_FIELDS,
            },
        ],
        "config": {
            "rtp": {
                "description": "Defaults of the real-time platform provider.",
                "options": {
                    "pipelines_file": {
                        "description": (
                            "YAML declaring each lake table's pipeline (topics, group, jobs), used by "
                            "IngestionCompleteSensor and rtp-completeness when a DAG names only the table."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/config/pipelines.yaml",
                        "default": None,
                    },
                    "rest_retries": {
                        "description": "Retries of a Flink REST call on connection errors and HTTP 5xx.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "3",
                        "default": "3",
                    },
                    "freshness_window": {
                        "description": (
                            "Window length of the Lake freshness page, an ISO-8601 duration that divides "
                            "a day (PT1H hourly, PT1M for minute windows); windows are aligned on the epoch."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "PT1M",
                        "default": "PT1H",
                    },
                    "freshness_live_budget": {
                        "description": (
                            "Seconds a Lake freshness request waits for the live evaluations (all "
                            "pipelines together); a pipeline not done by then is shown with its previous "
                            "live result and its age, or as 'live evaluation running'."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "0.6",
                        "default": "0.6",
                    },
                    "maintenance_jar": {
                        "description": (
                            "Path, on the Airflow workers, of the provider's lake maintenance job jar "
                            "(built from stack/jobs/maintenance), which IcebergCompactOperator submits."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/jobs/rtp-maintenance.jar",
                        "default": None,
                    },
                },
            }
        },
    }
