"""CDC watermarks against real MariaDB, Flink and Kafka, with a CDC job of our own.

The module runs its own instance of the reference CDC jar (unique job name, server id,
topics, transactional ids and checkpoint directory) over its own database, so the
shared reference pipeline (shop-cdc) is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from airflow_provider_rtp.completeness import LagSample
from airflow_provider_rtp.exceptions import FlinkJobNotFound, InvalidInputError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState
from airflow_provider_rtp.hooks.cdc import CdcHook
from tests.stack import flink_rest_url, host, kafka_bootstrap, port, stack_env

HEARTBEAT_S = 1
CHECKPOINT_MS = 2000
# Acceptance: a heartbeat is visible within 2 heartbeat intervals + 1 checkpoint interval.
HEARTBEAT_DEADLINE = timedelta(seconds=2 * HEARTBEAT_S, milliseconds=CHECKPOINT_MS)
CDC_MAIN = "rtp.jobs.cdc.ShopCdcJob"


@dataclass
class CdcRun:
    uid: str
    database: str
    table: str
    heartbeat_table: str
    topic: str
    heartbeat_topic: str
    job_name: str
    hook: CdcHook
    rest: FlinkRestClient
    jar_id: str
    args: list[str]
    job_id: str = ""

    def submit(self, restore_from: str | None = None) -> str:
        self.job_id = self.rest.run_jar(
            self.jar_id, entry_class=CDC_MAIN, args=self.args, parallelism=1, savepoint_path=restore_from
        )
        self.rest.wait_for_state(self.job_id, [JobState.RUNNING], timeout=120)
        self.rest.wait_for_checkpoint(self.job_id, timeout=120)
        return self.job_id


def _root() -> pymysql.connections.Connection:
    env = stack_env()
    return pymysql.connect(
        host=host(),
        port=port("MARIADB_PORT"),
        user="root",
        password=env["MARIADB_ROOT_PASSWORD"],
        autocommit=True,
    )


def _sql(*statements: str) -> list[tuple]:
    with _root() as conn, conn.cursor() as cur:
        rows: list[tuple] = []
        for sql in statements:
            cur.execute(sql)
            rows = list(cur.fetchall())
        return rows


@pytest.fixture(scope="module")
def cdc() -> Iterator[CdcRun]:
    env = stack_env()
    uid = uuid.uuid4().hex[:8]
    database, table, hb_table = f"it_cdc_{uid}", f"items_{uid}", f"hb_{uid}"
    topic, hb_topic, job_name = f"it-cdc-{uid}.items", f"it-cdc-{uid}.hb", f"it-cdc-{uid}"
    os.environ["AIRFLOW_CONN_IT_CDC_MYSQL"] = json.dumps(
        {
            "conn_type": "mysql",
            "host": host(),
            "port": port("MARIADB_PORT"),
            "login": "root",
            "password": env["MARIADB_ROOT_PASSWORD"],
        }
    )
    os.environ["AIRFLOW_CONN_IT_CDC_KAFKA"] = json.dumps(
        {"conn_type": "kafka", "extra": {"bootstrap.servers": kafka_bootstrap()}}
    )
    os.environ.setdefault(
        "AIRFLOW_CONN_RTP_DEFAULT", json.dumps({"conn_type": "rtp", "host": flink_rest_url()})
    )
    hook = CdcHook(mysql_conn_id="it_cdc_mysql", kafka_config_id="it_cdc_kafka")
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    workdir = Path(env["RTP_STATE"]) / "data" / "it-cdc" / uid
    checkpoints = workdir / "checkpoints"
    # A copy under our own name: others who upload the same jar find and delete theirs, not ours.
    workdir.mkdir(parents=True, exist_ok=True)
    jar = workdir / f"it-cdc-{uid}.jar"
    shutil.copyfile(Path(env["RTP_CACHE"]) / "jobs" / "rtp-cdc.jar", jar)
    jar_id, uploaded = rest.upload_jar(jar)
    run = CdcRun(uid, database, table, hb_table, topic, hb_topic, job_name, hook, rest, jar_id, [])
    try:
        _sql(
            f"CREATE DATABASE `{database}`",
            f"CREATE TABLE `{database}`.`{table}` (id BIGINT PRIMARY KEY, note VARCHAR(32)) ENGINE = InnoDB",
            f"INSERT INTO `{database}`.`{table}` VALUES (1, 'snapshot row')",
        )
        status = hook.install_heartbeat(database, hb_table, interval_s=HEARTBEAT_S)
        assert status["event_scheduler"] == "ON", status
        for fut in admin.create_topics([NewTopic(topic, 1, 1), NewTopic(hb_topic, 1, 1)]).values():
            fut.result(30)
        run.args = [
            *("--job-name", job_name, "--mysql-host", host(), "--mysql-port", str(port("MARIADB_PORT"))),
            *("--mysql-user", env["MARIADB_CDC_USER"], "--mysql-password", env["MARIADB_CDC_PASSWORD"]),
            *("--database", database, "--table", table, "--heartbeat-table", hb_table, "--key-field", "id"),
            # Unique: MariaDB tells binlog clients apart by server id (shop-cdc uses 5401-5404).
            *("--server-id", str(20000 + int(uid, 16) % 30000), "--server-time-zone", "UTC"),
            *("--bootstrap-servers", kafka_bootstrap(), "--topic", topic, "--heartbeat-topic", hb_topic),
            *("--transactional-id-prefix", job_name, "--transaction-timeout-ms", "600000"),
            *("--checkpoint-interval-ms", str(CHECKPOINT_MS), "--checkpoint-dir", f"file://{checkpoints}"),
        ]
        run.submit()
        yield run
    finally:
        # Every step runs even if an earlier one fails; the first failure is raised at the end.
        with ExitStack() as cleanup:
            cleanup.callback(rest.close)
            cleanup.callback(hook.close)
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
            if uploaded:
                cleanup.callback(rest.delete_jar, jar_id)
            cleanup.callback(_delete_topics, admin, [topic, hb_topic])
            cleanup.callback(_sql, f"DROP DATABASE IF EXISTS `{database}`")
            cleanup.callback(hook.drop_heartbeat, database, hb_table)
            cleanup.callback(_cancel_all, rest, job_name)


def _cancel_all(rest: FlinkRestClient, job_name: str) -> None:
    for job in rest.list_jobs():
        if job.name == job_name and not job.state.is_terminal:
            rest.cancel(job.job_id)
            rest.wait_for_state(job.job_id, [JobState.CANCELED], timeout=60)


def _delete_topics(admin: AdminClient, topics: list[str]) -> None:
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in topics if t in existing]
    if doomed:
        for fut in admin.delete_topics(doomed).values():
            fut.result(30)


def _wait_heartbeat_at_least(hook: CdcHook, topic: str, target: datetime, timeout: float) -> datetime:
    """Poll until the heartbeat watermark reaches ``target``; returns when it was seen."""
    deadline = time.monotonic() + timeout
    while True:
        watermark = hook.heartbeat_watermark(topic)
        if watermark is not None and watermark >= target:
            return datetime.now(UTC)
        if time.monotonic() > deadline:
            raise AssertionError(f"heartbeat watermark {watermark} did not reach {target} in {timeout}s")
        time.sleep(0.1)


def _db_now() -> datetime:
    return _sql("SELECT UTC_TIMESTAMP(3)")[0][0].replace(tzinfo=UTC)


def test_install_heartbeat_is_idempotent_and_beats(cdc: CdcRun) -> None:
    again = cdc.hook.install_heartbeat(cdc.database, cdc.heartbeat_table, interval_s=HEARTBEAT_S)
    assert again["beating"] and again["event"] == f"{cdc.heartbeat_table}_tick"
    rows = _sql(f"SELECT COUNT(*), MAX(ts) FROM `{cdc.database}`.`{cdc.heartbeat_table}`")
    assert rows[0][0] == 1
    first = rows[0][1]
    time.sleep(2 * HEARTBEAT_S)
    assert _sql(f"SELECT ts FROM `{cdc.database}`.`{cdc.heartbeat_table}`")[0][0] > first
    assert cdc.hook.event_scheduler() == "ON"


def test_hostile_names_are_refused_before_reaching_the_database(cdc: CdcRun) -> None:
    with pytest.raises(InvalidInputError, match="invalid heartbeat table name"):
        cdc.hook.install_heartbeat(cdc.database, "hb`; DROP DATABASE shop; --")
    with pytest.raises(InvalidInputError, match="invalid database name"):
        cdc.hook.install_heartbeat("shop.x", "hb")
    assert _sql("SHOW DATABASES LIKE 'shop'")


def test_heartbeat_watermark_advances_within_two_intervals_plus_a_checkpoint(cdc: CdcRun) -> None:
    for _ in range(3):
        start = _db_now()
        seen = _wait_heartbeat_at_least(cdc.hook, cdc.heartbeat_topic, start, timeout=60)
        assert seen - start <= HEARTBEAT_DEADLINE, f"heartbeat after {seen - start}"


def test_metric_watermark_follows_the_heartbeat_changes(cdc: CdcRun) -> None:
    # The heartbeat row is a data change to the source: the gauges move every beat.
    before = _db_now()
    time.sleep(2 * HEARTBEAT_S)
    wm = cdc.hook.metric_watermark(cdc.job_name)
    assert wm.proven is not None, wm.reason
    # At most one metric refresh (10 s) plus the reading behind the beats, never ahead of now.
    assert before - timedelta(seconds=15) <= wm.proven <= _db_now(), wm.reason


def _sample_idle_for(cdc: CdcRun, idle: timedelta, timeout: float = 60) -> LagSample:
    """The first reading of the CDC source's gauges idle for at least ``idle``."""
    deadline = time.monotonic() + timeout
    while True:
        sample = cdc.hook.metric_sample(cdc.job_name)
        if sample is not None and sample.idle >= idle:
            return sample
        assert time.monotonic() < deadline, f"source not idle for {idle} within {timeout}s: {sample}"
        time.sleep(1)


def test_metric_watermark_stays_at_the_last_change_on_a_quiet_database(cdc: CdcRun) -> None:
    _sql(f"ALTER EVENT `{cdc.database}`.`{cdc.heartbeat_table}_tick` DISABLE")
    try:
        last_change = _sql(f"SELECT ts FROM `{cdc.database}`.`{cdc.heartbeat_table}`")[0][0].replace(
            tzinfo=UTC
        )
        first = _sample_idle_for(cdc, timedelta(seconds=3))
        later = _sample_idle_for(cdc, first.idle + timedelta(seconds=10))
        assert first.watermark is not None and later.watermark is not None
        # The lag gauge froze at the last change, the idle time grew with the clock: the watermark
        # stays at (or before) the last change instead of following the wall clock.
        assert later.emit_lag == first.emit_lag, (first, later)
        for sample in (first, later):  # binlog times are whole seconds
            low = last_change - timedelta(seconds=1) - sample.max_age
            assert low <= sample.watermark <= last_change, (sample, last_change)
    finally:
        cdc.hook.install_heartbeat(cdc.database, cdc.heartbeat_table, interval_s=HEARTBEAT_S)  # re-enables


def test_unknown_cdc_job_is_named(cdc: CdcRun) -> None:
    with pytest.raises(FlinkJobNotFound, match="no-such-cdc-job"):
        cdc.hook.metric_sample(f"no-such-cdc-job-{cdc.uid}")


def test_heartbeat_watermark_stops_when_the_job_is_cancelled_and_resumes_after_restart(cdc: CdcRun) -> None:
    _wait_heartbeat_at_least(cdc.hook, cdc.heartbeat_topic, _db_now(), timeout=60)
    old_job = cdc.job_id
    cdc.rest.cancel(old_job)
    cdc.rest.wait_for_state(old_job, [JobState.CANCELED], timeout=60)
    stopped = cdc.hook.heartbeat_watermark(cdc.heartbeat_topic)
    time.sleep(HEARTBEAT_DEADLINE.total_seconds() + 2)
    # The database keeps beating; only the captured watermark stands still.
    assert _db_now() - stopped > HEARTBEAT_DEADLINE
    assert cdc.hook.heartbeat_watermark(cdc.heartbeat_topic) == stopped
    wm = cdc.hook.metric_watermark(cdc.job_name)
    assert wm.watermark is None and wm.proven is None and "CANCELED" in wm.reason

    retained = cdc.rest.checkpoints(old_job).latest_completed_path
    assert retained, "the cancelled CDC job retained no checkpoint"
    cdc.submit(restore_from=retained)
    assert cdc.rest.checkpoints(cdc.job_id).restored_path == retained
    restarted = _db_now()
    _wait_heartbeat_at_least(cdc.hook, cdc.heartbeat_topic, restarted, timeout=60)
    assert cdc.hook.heartbeat_watermark(cdc.heartbeat_topic) > stopped
