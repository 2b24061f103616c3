from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
from tests.stack import flink_rest_url, host, port, stack_env


@pytest.fixture(autouse=True)
def _needs_stack(stack: None) -> None:
    """Every integration test needs the local stack (see tests/conftest.py)."""


@pytest.fixture
def mariadb() -> Iterator[pymysql.connections.Connection]:
    """The reference pipeline's source database, shop, as root."""
    env = stack_env()
    conn = pymysql.connect(
        host=host(),
        port=port("MARIADB_PORT"),
        user="root",
        password=env["MARIADB_ROOT_PASSWORD"],
        database="shop",
        autocommit=True,
    )
    yield conn
    conn.close()


@pytest.fixture
def rest() -> Iterator[FlinkRestClient]:
    """A client of the stack's JobManager REST API."""
    client = FlinkRestClient(HttpSettings(flink_rest_url()))
    yield client
    client.close()
