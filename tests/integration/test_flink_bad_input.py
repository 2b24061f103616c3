"""Bad input fails fast with Flink's own message and a summary naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_rtp.exceptions import FlinkConnectionError, FlinkError, FlinkJobNotFound, FlinkSqlError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, SqlGatewayClient
from tests.integration.test_stack_flink import smoke_jar
from tests.stack import flink_rest_url, sql_gateway_url


@pytest.fixture
def rest() -> Iterator[FlinkRestClient]:
    client = FlinkRestClient(HttpSettings(flink_rest_url()))
    yield client
    client.close()


def test_missing_jar_file_is_named(rest: FlinkRestClient) -> None:
    with pytest.raises(FileNotFoundError, match=r"/no/such/job\.jar"):
        rest.upload_jar(Path("/no/such/job.jar"))


def test_unknown_entry_class_keeps_flinks_text(rest: FlinkRestClient) -> None:
    jar_id, _ = rest.upload_jar(smoke_jar())
    try:
        with pytest.raises(FlinkError, match=r"(?s)HTTP 400|HTTP 500.*com\.example\.NoSuchMain") as info:
            rest.run_jar(jar_id, entry_class="com.example.NoSuchMain")
        assert any("com.example.NoSuchMain" in e for e in info.value.flink_errors)
    finally:
        rest.delete_jar(jar_id)


def test_identical_jar_is_not_uploaded_twice(rest: FlinkRestClient) -> None:
    first, uploaded = rest.upload_jar(smoke_jar())
    try:
        again, uploaded_again = rest.upload_jar(smoke_jar())
        assert uploaded and not uploaded_again and again == first
    finally:
        rest.delete_jar(first)


def test_unknown_job_name_and_id(rest: FlinkRestClient) -> None:
    with pytest.raises(FlinkJobNotFound, match="no-such-job-name"):
        rest.get_running_job("no-such-job-name")
    with pytest.raises(FlinkJobNotFound, match="0123456789abcdef0123456789abcdef"):
        rest.job_details("0123456789abcdef0123456789abcdef")


def test_sql_error_names_the_table_and_closes_the_session() -> None:
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        with pytest.raises(FlinkSqlError, match="no_such_table") as info:
            gateway.run_script(["INSERT INTO no_such_table SELECT 1"])
        assert "statement: INSERT INTO no_such_table" in str(info.value)
    finally:
        gateway.close()


def test_unreachable_rest_url_fails_after_bounded_retries() -> None:
    client = FlinkRestClient(HttpSettings("http://127.0.0.1:9", retries=2, backoff=0.05))
    with pytest.raises(FlinkConnectionError, match=r"unreachable.*3 times"):
        client.list_jobs()
