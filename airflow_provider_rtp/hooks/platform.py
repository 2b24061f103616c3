"""The real-time platform hook: a Flink session cluster's JobManager REST API and SQL Gateway."""

from __future__ import annotations

import base64
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook, Connection

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobSummary, SqlGatewayClient

__all__ = ["RealtimePlatformHook"]


class RealtimePlatformHook(BaseHook):
    """Submit and keep alive Flink JAR and SQL jobs on one Flink session cluster.

    Connection (type ``rtp``): ``host`` is the JobManager REST URL
    (``http://jobmanager:8081``); the extra fields hold the SQL Gateway URL, the
    web UI URL used for links, an optional Grafana URL, the auth type
    (``none``, ``basic`` with login/password, ``bearer`` with the token in
    ``password``), TLS verification or a CA file, timeouts and retries.

    :param rtp_conn_id: the Airflow connection id.
    """

    conn_name_attr = "rtp_conn_id"
    default_conn_name = "rtp_default"
    conn_type = "rtp"
    hook_name = "Real-time Platform (Flink)"

    def __init__(self, rtp_conn_id: str = default_conn_name, *, connection: Connection | None = None) -> None:
        """``connection``: one already fetched (a trigger gets it asynchronously), else looked up by id."""
        super().__init__()
        self.rtp_conn_id = rtp_conn_id
        self._connection = connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self.get_connection(self.rtp_conn_id)
        return self._connection

    @cached_property
    def _extra(self) -> dict[str, Any]:
        return self.connection.extra_dejson

    def _settings(self, url: str) -> HttpSettings:
        conn = self.connection
        extra = conn.extra_dejson
        return HttpSettings(
            base_url=url,
            auth_header=_auth_header(extra.get("auth_type", "none"), conn.login, conn.password),
            verify=extra.get("ca_file") or bool(extra.get("verify_tls", True)),
            connect_timeout=float(extra.get("connect_timeout", 5)),
            read_timeout=float(extra.get("read_timeout", 60)),
            retries=int(extra.get("retries", 3)),
        )

    @property
    def rest_url(self) -> str:
        host = self.connection.host or ""
        if not host:
            raise ValueError(f"connection {self.rtp_conn_id!r} has no host (the JobManager REST URL)")
        return host if "://" in host else f"http://{host}"

    @property
    def sql_gateway_url(self) -> str:
        url = self._extra.get("sql_gateway_url")
        if not url:
            raise ValueError(f"connection {self.rtp_conn_id!r} has no 'sql_gateway_url' in its extra")
        return str(url)

    @property
    def web_ui_url(self) -> str:
        return str(self._extra.get("web_ui_url") or self.rest_url)

    @cached_property
    def rest(self) -> FlinkRestClient:
        return FlinkRestClient(self._settings(self.rest_url))

    @cached_property
    def sql_gateway(self) -> SqlGatewayClient:
        return SqlGatewayClient(self._settings(self.sql_gateway_url))

    def close(self) -> None:
        for name in ("rest", "sql_gateway"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()

    def get_conn(self) -> FlinkRestClient:
        return self.rest

    def find_running_job(self, name: str) -> JobSummary | None:
        return self.rest.find_running_job(name)

    def job_url(self, job_id: str) -> str:
        return f"{self.web_ui_url.rstrip('/')}/#/job/running/{job_id}/overview"

    def test_connection(self) -> tuple[bool, str]:
        try:
            overview = self.rest.overview()
            msg = (
                f"Flink {overview.get('flink-version')}: {overview.get('taskmanagers')} TaskManagers, "
                f"{overview.get('slots-available')}/{overview.get('slots-total')} slots free"
            )
            if self._extra.get("sql_gateway_url"):
                info = self.sql_gateway.info()
                msg += f"; SQL Gateway {info.get('productName', '')} {info.get('version', '')}".rstrip()
            return True, msg
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()


def _auth_header(auth_type: str, login: str | None, password: str | None) -> str | None:
    auth_type = (auth_type or "none").lower()
    if auth_type == "none":
        return None
    if auth_type == "basic":
        token = base64.b64encode(f"{login or ''}:{password or ''}".encode()).decode()
        return f"Basic {token}"
    if auth_type == "bearer":
        if not password:
            raise ValueError("auth_type 'bearer' needs the token in the connection's password field")
        return f"Bearer {password}"
    raise ValueError(f"unknown auth_type {auth_type!r}: use none, basic or bearer")
