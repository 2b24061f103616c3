"""CDC watermarks: how far a Flink CDC job has certainly captured a MySQL/MariaDB database.

Two ways, as docs/completeness.md explains:

* **heartbeat** (exact): :meth:`CdcHook.install_heartbeat` creates a one-row table and an
  EVENT that rewrites it every N seconds; the CDC job captures it with the same binlog
  reader as the data tables into a heartbeat topic; :meth:`CdcHook.heartbeat_watermark`
  reads the newest *committed* heartbeat from that topic.
* **metrics** (fallback): :meth:`CdcHook.metric_watermark` reads the source's
  ``currentFetchEventTimeLag`` / ``currentEmitEventTimeLag`` / ``sourceIdleTime`` twice;
  gauges that did not move while the job runs are frozen: unknown, never zero lag.

The source database is reached with PyMySQL: pure Python (no client library to compile
or install on workers) and it speaks the protocol MySQL and MariaDB share.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import cached_property
from typing import Any

import pymysql
from airflow.sdk import BaseHook

from airflow_provider_rtp.cdc import CdcMetricSample, HeartbeatSetup, MetricWatermark, metric_watermark
from airflow_provider_rtp.cdc.metrics import DEFAULT_REFRESH_MS
from airflow_provider_rtp.exceptions import FlinkJobNotFound, RtpError
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
        self.metric_settle_s = 1.0  # pause between triggering Flink's metric refresh and reading

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
            cur.execute("SELECT @@GLOBAL.event_scheduler")
            return str(cur.fetchone()[0]).upper()

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
            cur.execute("SELECT @@GLOBAL.event_scheduler")
            scheduler = str(cur.fetchone()[0]).upper()
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

    def metric_sample(self, job_name: str) -> CdcMetricSample:
        """One reading of the CDC source's lag gauges of the job called ``job_name``."""
        rest = self.platform.rest
        job = rest.find_running_job(job_name)
        if job is None:
            known = [j for j in rest.list_jobs() if j.name == job_name]
            if not known:
                raise FlinkJobNotFound(f"no Flink job named {job_name!r} (running or ended)")
            newest = max(known, key=lambda j: j.start_time_ms)
            return CdcMetricSample(int(time.time() * 1000), newest.job_id, str(newest.state))
        details = rest.job_details(job.job_id)
        sources = [v for v in details.get("vertices", []) if str(v.get("name", "")).startswith("Source")]
        if not sources:
            raise RtpError(f"Flink job {job_name!r} has no source vertex to read CDC metrics from")
        vertex = str(sources[0]["id"])
        # Flink's REST server answers from its metric store and refreshes it in the background
        # when the data is older than metrics.fetcher.update-interval: the first request after a
        # quiet spell returns values of any age. This request triggers the refresh; the read after
        # a short pause then sees values at most one refresh interval old.
        at_ms = int(time.time() * 1000)
        rest.vertex_metric_ids(job.job_id, vertex)
        time.sleep(self.metric_settle_s)
        ids = rest.vertex_metric_ids(job.job_id, vertex)
        wanted = {
            field: next((i for i in ids if i.endswith("." + gauge) or i == gauge), None)
            for field, gauge in _GAUGES.items()
        }
        present = [i for i in wanted.values() if i]
        values = rest.vertex_metrics(job.job_id, vertex, present) if present else {}

        def gauge(field: str) -> int | None:
            metric = values.get(wanted[field] or "")
            return None if metric is None or metric.get("max") is None else int(metric["max"])

        state = str(rest.job_state(job.job_id))
        return CdcMetricSample(
            at_ms, job.job_id, state, gauge("fetch_lag_ms"), gauge("emit_lag_ms"), gauge("idle_ms")
        )

    def metric_watermark(
        self,
        job_name: str,
        previous: CdcMetricSample | None = None,
        interval_s: float = DEFAULT_REFRESH_MS / 1000 + 2,
        refresh_ms: int = DEFAULT_REFRESH_MS,
    ) -> MetricWatermark:
        """The metric watermark of the CDC job called ``job_name``.

        Compares against ``previous`` (the ``sample`` of an earlier result: an exporter keeps it
        between runs) or, without one, samples twice ``interval_s`` apart. ``interval_s`` must
        exceed Flink's metric refresh (``metrics.fetcher.update-interval``, ``refresh_ms``).
        """
        if previous is None:
            if interval_s * 1000 < refresh_ms:
                raise ValueError(
                    f"interval_s={interval_s} is shorter than the metric refresh ({refresh_ms} ms): "
                    "both samples could show the same cached values"
                )
            previous = self.metric_sample(job_name)
            time.sleep(interval_s)
        return metric_watermark(previous, self.metric_sample(job_name), refresh_ms)

    def close(self) -> None:
        for name in ("kafka", "platform"):
            hook = self.__dict__.pop(name, None)
            if hook is not None:
                hook.close()


def _execute(cur: Any, sql: str, doing: str) -> None:
    try:
        cur.execute(sql)
    except pymysql.MySQLError as exc:
        code, text = (*exc.args, "", "")[:2]
        raise CdcError(f"{doing} failed: MySQL error {code}: {text}") from exc
