"""CDC watermarks: how far a Flink CDC job has certainly captured a MySQL/MariaDB database.

Two ways, as docs/completeness.md explains:

* **heartbeat** (exact): :meth:`CdcHook.install_heartbeat` creates a one-row table and an
  EVENT that rewrites it every N seconds; the CDC job captures it with the same binlog
  reader as the data tables into a heartbeat topic; :meth:`CdcHook.heartbeat_watermark`
  reads the newest *committed* heartbeat from that topic.
* **metrics** (fallback): :meth:`CdcHook.metric_watermark` reads the source's
  ``currentEmitEventTimeLag`` / ``sourceIdleTime`` once: the binlog time of the last change
  the source emitted, which stays put on a quiet database (never "now"); there a watermark
  advances only by the idle-timeout assumption, reported as such.

The source database is reached with PyMySQL: pure Python (no client library to compile
or install on workers) and it speaks the protocol MySQL and MariaDB share.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

import pymysql
from airflow.sdk import BaseHook

from airflow_provider_rtp.cdc import HeartbeatSetup
from airflow_provider_rtp.completeness import LagSample, MetricWatermark, Policy, metric_watermark
from airflow_provider_rtp.evaluation import observe_job
from airflow_provider_rtp.evaluation.cdc import DEFAULT_METRIC_REFRESH, read_lag_sample
from airflow_provider_rtp.exceptions import RtpError
from airflow_provider_rtp.hooks.kafka import KafkaHook
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

__all__ = ["CdcError", "CdcHook", "HeartbeatStatus"]

_GAUGES = {
    "fetch_lag_ms": "currentFetchEventTimeLag",
    "emit_lag_ms": "currentEmitEventTimeLag",
    "idle_ms": "sourceIdleTime",
}


class CdcError(RtpError):
    """The source database refused a heartbeat statement."""


class HeartbeatStatus(dict[str, Any]):
    """What :meth:`CdcHook.install_heartbeat` found: a plain dict, so it can go to XCom."""


class CdcHook(BaseHook):
    """Heartbeats in a source database and CDC watermarks of a Flink CDC job.

    :param mysql_conn_id: a MySQL/MariaDB connection (host, port, login, password, schema) of the
        source database; installing heartbeats needs the CREATE, INSERT, UPDATE and EVENT privileges.
    :param kafka_config_id: the Kafka connection (type ``kafka``) of the heartbeat topic.
    :param rtp_conn_id: the Flink connection (type ``rtp``) of the CDC job, for metric watermarks.
    """

    def __init__(
        self,
        mysql_conn_id: str = "mysql_default",
        kafka_config_id: str = KafkaHook.default_conn_name,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
    ) -> None:
        super().__init__()
        self.mysql_conn_id = mysql_conn_id
        self.kafka_config_id = kafka_config_id
        self.rtp_conn_id = rtp_conn_id
        self.metric_refresh = DEFAULT_METRIC_REFRESH  # the cluster's metrics.fetcher.update-interval

    # -- source database ---------------------------------------------------------
    def get_conn(self) -> pymysql.connections.Connection:
        conn = self.get_connection(self.mysql_conn_id)
        extra = conn.extra_dejson
        return pymysql.connect(
            host=conn.host or "localhost",
            port=int(conn.port or 3306),
            user=conn.login,
            password=conn.password or "",
            database=conn.schema or None,
            connect_timeout=float(extra.get("connect_timeout", 10)),
            read_timeout=float(extra.get("read_timeout", 60)),
            ssl=extra.get("ssl") or None,
            autocommit=True,
        )

    def event_scheduler(self) -> str:
        """``ON``, ``OFF`` or ``DISABLED``: without ON no EVENT runs and no heartbeat is written."""
        with self.get_conn() as conn, conn.cursor() as cur:
            return _event_scheduler(cur)

    def install_heartbeat(
        self, database: str, table: str = "rtp_heartbeat", event: str | None = None, interval_s: int = 5
    ) -> HeartbeatStatus:
        """Create (if missing) the heartbeat table and the EVENT that rewrites it every ``interval_s``.

        Idempotent: existing objects are kept, the interval is set and the event enabled. Returns
        the event scheduler's state; when it is not ON, heartbeats will not move and the log says so.
        """
        setup = HeartbeatSetup(database, table, event, interval_s)
        with self.get_conn() as conn, conn.cursor() as cur:
            for sql in setup.install_statements():
                _execute(cur, sql, f"installing heartbeat {database}.{table}")
            scheduler = _event_scheduler(cur)
        if scheduler != "ON":
            self.log.warning(
                "event_scheduler is %s on the source database: the heartbeat event %s.%s will not run "
                "and the heartbeat watermark will not move (SET GLOBAL event_scheduler = ON, and "
                "event_scheduler=ON in the server config)",
                scheduler,
                database,
                setup.event_name,
            )
        return HeartbeatStatus(
            database=database,
            table=table,
            event=setup.event_name,
            interval_s=interval_s,
            event_scheduler=scheduler,
            beating=scheduler == "ON",
        )

    def drop_heartbeat(self, database: str, table: str = "rtp_heartbeat", event: str | None = None) -> None:
        setup = HeartbeatSetup(database, table, event)
        with self.get_conn() as conn, conn.cursor() as cur:
            for sql in setup.drop_statements():
                _execute(cur, sql, f"dropping heartbeat {database}.{table}")

    # -- watermarks ------------------------------------------------------------
    @cached_property
    def kafka(self) -> KafkaHook:
        return KafkaHook(self.kafka_config_id)

    @cached_property
    def platform(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    def heartbeat_watermark(self, heartbeat_topic: str) -> datetime | None:
        """The newest committed heartbeat: every change logged before it is committed in Kafka.

        None while the topic holds no committed heartbeat.
        """
        return self.kafka.newest_heartbeat(heartbeat_topic)

    def metric_sample(self, job_name: str) -> LagSample | None:
        """One reading of the source gauges of the CDC job ``job_name`` (``None``: not running or
        no gauges); see :func:`~airflow_provider_rtp.evaluation.cdc.read_lag_sample`."""
        return read_lag_sample(self.platform.rest, job_name, refresh=self.metric_refresh)

    def metric_watermark(self, job_name: str, policy: Policy | None = None) -> MetricWatermark:
        """The metric watermark of the CDC job ``job_name``: the same model the sensor uses.

        One reading of the gauges, then the job's latest checkpoint (which proves the reading
        durable); a quiet source advances by the ``policy``'s idle timeout, as an assumption.
        """
        rest = self.platform.rest
        sample = self.metric_sample(job_name)
        job = observe_job(rest, job_name)
        return metric_watermark(sample, job, (policy or Policy()).idle_timeout)

    def close(self) -> None:
        for name in ("kafka", "platform"):
            hook = self.__dict__.pop(name, None)
            if hook is not None:
                hook.close()


def _event_scheduler(cur: Any) -> str:
    cur.execute("SELECT @@GLOBAL.event_scheduler")
    row = cur.fetchone()
    return str(row[0]).upper() if row else "UNKNOWN"


def _execute(cur: Any, sql: str, doing: str) -> None:
    try:
        cur.execute(sql)
    except pymysql.MySQLError as exc:
        code, text = (*exc.args, "", "")[:2]
        raise CdcError(f"{doing} failed: MySQL error {code}: {text}") from exc
