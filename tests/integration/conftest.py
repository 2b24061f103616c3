from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
from tests.stack import flink_rest_url, host, port, stack_env


@pytest.fixture(autouse=True)
def _needs_stack(stack: None) -> None:
    """Every integration test needs the local stack (see tests/conftest.py)."""


def connect_mariadb(database: str | None = "shop") -> pymysql.connections.Connection:
    """The stack's MariaDB as root (the reference pipeline's source database by default; None:
    no database, for server-wide statements)."""
    return pymysql.connect(
        host=host(),
        port=port("MARIADB_PORT"),
        user="root",
        password=stack_env()["MARIADB_ROOT_PASSWORD"],
        database=database,
        autocommit=True,
    )


@pytest.fixture
def mariadb() -> Iterator[pymysql.connections.Connection]:
    """The reference pipeline's source database, shop, as root."""
    conn = connect_mariadb()
    yield conn
    conn.close()


@pytest.fixture
def rest() -> Iterator[FlinkRestClient]:
    """A client of the stack's JobManager REST API."""
    client = FlinkRestClient(HttpSettings(flink_rest_url()))
    yield client
    client.close()
