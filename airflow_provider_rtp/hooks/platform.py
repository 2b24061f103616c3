"""The real-time platform hook: a Flink session cluster's JobManager REST API and SQL Gateway."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Unpack

from airflow.sdk import BaseHook, Connection, conf

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink import (
    FlinkRestClient,
    HttpSettings,
    JobSummary,
    SqlGatewayClient,
    statement_set,
)
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria
from airflow_provider_rtp.flink.models import JobState
from airflow_provider_rtp.flink.rest import JarRun, is_missing_jar

__all__ = ["RealtimePlatformHook"]


class RealtimePlatformHook(BaseHook):
    """Submit and keep alive Flink JAR and SQL jobs on one Flink session cluster.

    Connection (type ``rtp``): ``host`` is the JobManager REST URL
    (``http://jobmanager:8081``); the extra fields hold the SQL Gateway URL, the
    web UI URL used for links, an optional Grafana URL, the auth type
    (``none``, ``basic`` with login/password, ``bearer`` with the token in
    ``password``), TLS verification or a CA file, timeouts and retries (``retries`` in the
    extra, else ``[rtp] rest_retries``, else 3).

    Submitting, stopping and cancelling jobs are methods here, so every operator that submits
    (submit, upgrade, resume, rescale) goes through one code path.

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
            retries=_retries(extra.get("retries")),
        )

    @property
    def rest_url(self) -> str:
        host = self.connection.host or ""
        if not host:
            raise InvalidInputError(f"connection {self.rtp_conn_id!r} has no host (the JobManager REST URL)")
        return host if "://" in host else f"http://{host}"

    @property
    def sql_gateway_url(self) -> str:
        url = self._extra.get("sql_gateway_url")
        if not url:
            raise InvalidInputError(f"connection {self.rtp_conn_id!r} has no 'sql_gateway_url' in its extra")
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

    def find_job(self, name: str) -> JobSummary | None:
        return self.rest.find_job(name)

    # -- job actions shared by the operators ----------------------------------------------
    def submit_jar(
        self, job_name: str, jar: str, *, keep_jar: bool = False, **run: Unpack[JarRun]
    ) -> dict[str, Any]:
        """Run ``jar`` as the job ``job_name`` (its ``pipeline.name``); returns ``job_id`` and ``jar_id``.

        The jar is uploaded unless the cluster has one with the same content. Only the uploader
        deletes it after the run (unless ``keep_jar``): another submitter may be about to run a
        jar this one reused; if that one deletes it first, this one sends its own copy, once.
        """
        rest = self.rest
        path = Path(jar)
        options: JarRun = {
            **run,
            "flink_configuration": {**(run.get("flink_configuration") or {}), "pipeline.name": job_name},
        }

        def run_jar(jar_id: str) -> str:
            return rest.run_jar(jar_id, **options)

        jar_id, uploaded = rest.upload_jar(path)
        self.log.info("Jar %s %s", jar_id, "uploaded" if uploaded else "already on the cluster (not re-sent)")
        try:
            try:
                job_id = run_jar(jar_id)
            except FlinkError as exc:
                if uploaded or not is_missing_jar(exc, jar_id):
                    raise
                self.log.info("Jar %s was deleted by its uploader meanwhile: sending this task's own", jar_id)
                jar_id, uploaded = rest.upload_jar(path, reuse=False)
                job_id = run_jar(jar_id)
        finally:
            if uploaded and not keep_jar:
                rest.delete_jar(jar_id)
        return {"job_id": job_id, "jar_id": jar_id}

    def submit_sql(
        self,
        job_name: str,
        insert_sql: str | Sequence[str],
        *,
        setup_sql: Sequence[str] = (),
        session_properties: Mapping[str, str] | None = None,
        parallelism: int | None = None,
        savepoint_path: str | None = None,
        allow_non_restored_state: bool = False,
        flink_configuration: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Run the INSERT(s) as the job ``job_name`` after ``setup_sql``, in one fresh SQL Gateway
        session that is always closed; several INSERTs run as one statement set. Returns ``job_id``."""
        inserts = [insert_sql] if isinstance(insert_sql, str) else list(insert_sql)
        if not inserts:
            raise InvalidInputError("insert_sql is empty: nothing would run as a job")
        job_sql = inserts[0] if len(inserts) == 1 else statement_set(inserts)
        # Job-only configuration: it applies to the job statement, never to the session.
        job_config = {**(flink_configuration or {}), "pipeline.name": job_name}
        if parallelism:
            job_config["parallelism.default"] = str(parallelism)
        if savepoint_path:
            job_config["execution.savepoint.path"] = savepoint_path
            if allow_non_restored_state:
                job_config["execution.savepoint.ignore-unclaimed-state"] = "true"
        results = self.sql_gateway.run_script(
            [*setup_sql, job_sql], session_properties=session_properties, last_config=job_config
        )
        job_id = results[-1].job_id
        if not job_id:
            raise FlinkError(f"the SQL Gateway started no job for {job_name!r}: is insert_sql an INSERT?")
        return {"job_id": job_id}

    def stop_with_savepoint(
        self,
        job_id: str,
        *,
        target_directory: str | None = None,
        drain: bool = False,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
    ) -> str:
        """Stop the job with a savepoint and wait until it is FINISHED; returns the savepoint's path."""
        rest = self.rest
        trigger = rest.stop_with_savepoint(job_id, target_directory, drain=drain)
        location = rest.wait_for_savepoint(job_id, trigger, timeout=timeout).location
        rest.wait_for_job(
            JobWaitCriteria.of([JobState.FINISHED]),
            job_id=job_id,
            timeout=timeout,
            poll_interval=poll_interval,
        )
        self.log.info("Stopped Flink job %s with savepoint %s", job_id, location)
        return location

    def cancel_job(self, job_id: str, *, timeout: float = 300.0, poll_interval: float = 2.0) -> JobState:
        """Cancel the job (no savepoint) and wait until it is CANCELED."""
        self.rest.cancel(job_id)
        criteria = JobWaitCriteria.of([JobState.CANCELED])
        self.rest.wait_for_job(criteria, job_id=job_id, timeout=timeout, poll_interval=poll_interval)
        return JobState.CANCELED

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


def _retries(from_extra: Any) -> int:
    if from_extra is not None:
        return int(from_extra)
    return conf.getint("rtp", "rest_retries", fallback=3)


def _auth_header(auth_type: str, login: str | None, password: str | None) -> str | None:
    auth_type = (auth_type or "none").lower()
    if auth_type == "none":
        return None
    if auth_type == "basic":
        token = base64.b64encode(f"{login or ''}:{password or ''}".encode()).decode()
        return f"Basic {token}"
    if auth_type == "bearer":
        if not password:
            raise InvalidInputError("auth_type 'bearer' needs the token in the connection's password field")
        return f"Bearer {password}"
    raise InvalidInputError(f"unknown auth_type {auth_type!r}: use none, basic or bearer")
