"""The reference pipeline moves a MariaDB change into the Iceberg table, with Flink commit metadata."""

from __future__ import annotations

import time
import uuid

from pyiceberg.catalog.sql import SqlCatalog

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from tests.stack import flink_rest_url, host, port, sql_gateway_url, stack_env

CDC_JOB = "shop-cdc"
INGEST_JOB = "ods-orders-ingest"
MAX_COMMITTED = "flink.max-committed-checkpoint-id"


def catalog() -> SqlCatalog:
    env = stack_env()
    return SqlCatalog(
        "lake",
        uri=f"postgresql+psycopg2://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@{host()}:"
        f"{port('POSTGRES_PORT')}/{env['POSTGRES_CATALOG_DB']}",
    )


def lake_session_statements() -> list[str]:
    env = stack_env()
    return [
        "CREATE CATALOG lake WITH ("
        "'type' = 'iceberg', 'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog', "
        f"'uri' = 'jdbc:postgresql://{host()}:{port('POSTGRES_PORT')}/{env['POSTGRES_CATALOG_DB']}', "
        f"'jdbc.user' = '{env['POSTGRES_USER']}', 'jdbc.password' = '{env['POSTGRES_PASSWORD']}', "
        f"'warehouse' = 'file://{env['RTP_STATE']}/data/warehouse')",
    ]


def test_pipeline_jobs_are_running() -> None:
    with FlinkRestClient(HttpSettings(flink_rest_url())) as rest:
        for name in (CDC_JOB, INGEST_JOB):
            job = rest.find_running_job(name)
            assert job is not None and job.state is JobState.RUNNING, name


def test_inserted_row_reaches_iceberg_within_60s_with_flink_commit_metadata(mariadb) -> None:
    table = catalog().load_table("ods.orders")
    before = table.current_snapshot()
    marker = f"it-{uuid.uuid4().hex[:8]}"
    with mariadb.cursor() as cur:
        cur.execute(
            "INSERT INTO orders (customer_id, amount, status) VALUES (%s, %s, %s)", (4242, 12.5, marker[:16])
        )
        row_id = cur.lastrowid

    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    deadline = time.monotonic() + 60
    rows: list = []
    try:
        while time.monotonic() < deadline:
            results = gateway.run_script(
                [*lake_session_statements(), f"SELECT id, status FROM lake.ods.orders WHERE id = {row_id}"],
                session_properties={"execution.runtime-mode": "batch"},
                timeout=60,
            )
            rows = results[-1].rows
            if rows:
                break
            time.sleep(3)
    finally:
        gateway.close()
    assert rows == [[row_id, marker[:16]]], f"row {row_id} not in lake.ods.orders within 60s"

    table.refresh()
    after = table.current_snapshot()
    assert after is not None and (before is None or after.snapshot_id != before.snapshot_id)
    summary = after.summary.additional_properties if after.summary else {}
    assert int(summary[MAX_COMMITTED]) >= 1
    assert len(summary["flink.job-id"]) == 32
