"""A private copy of the reference pipeline, for tests that break things.

Its own MariaDB database (orders + a heartbeat row updated every second by an
EVENT), its own topics, its own CDC job (the stack's CDC jar) and ingestion job
(stack/pipeline/ods-orders.sql with its names swapped) and its own Iceberg table.
Faults injected into it leave the shared reference pipeline alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pymysql
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient, NewTopic

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from tests.integration.conftest import connect_mariadb
from tests.stack import REPO, flink_rest_url, host, kafka_bootstrap, port, sql_gateway_url, stack_env

CDC_MAIN = "rtp.jobs.cdc.ShopCdcJob"
SQL_FILE = REPO / "stack" / "pipeline" / "ods-orders.sql"
MIRROR_SQL_FILE = REPO / "stack" / "pipeline" / "ods-orders-mirror.sql"


def cdc_jar() -> Path:
    jar = Path(stack_env()["RTP_CACHE"]) / "jobs" / "rtp-cdc.jar"
    assert jar.is_file(), f"{jar} not built: run stack/rtp-stack pipeline up"
    return jar


@dataclass
class PrivatePipeline:
    tag: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:6]}")
    checkpoint_interval_s: int = 3
    empty_commits: int = 1
    cdc_job_id: str | None = None
    ingest_job_id: str | None = None
    # The upsert mirror (ods-orders-mirror.sql) of the same topic: started by up(mirror=True).
    mirror_job_id: str | None = None

    @property
    def database(self) -> str:
        return f"{self.tag}_shop"

    @property
    def topic(self) -> str:
        return f"{self.tag}.orders"

    @property
    def heartbeat_topic(self) -> str:
        return f"{self.tag}.heartbeat"

    @property
    def group(self) -> str:
        return f"{self.tag}-ods-orders"

    @property
    def cdc_job(self) -> str:
        return f"{self.tag}-cdc"

    @property
    def ingest_job(self) -> str:
        return f"{self.tag}-ingest"

    @property
    def table(self) -> str:
        return f"it.orders_{self.tag}"

    @property
    def mirror_job(self) -> str:
        return f"{self.tag}-mirror"

    @property
    def mirror_group(self) -> str:
        return f"{self.tag}-ods-orders-mirror"

    @property
    def mirror_table(self) -> str:
        return f"it.orders_mirror_{self.tag}"

    def pipeline(self, *, with_cdc: bool = True) -> Pipeline:
        return Pipeline(
            table=self.table,
            topics=(self.topic,),
            group=self.group,
            ingestion_job=self.ingest_job,
            cdc_job=self.cdc_job if with_cdc else None,
            heartbeat_topic=self.heartbeat_topic if with_cdc else None,
        )

    def mirror_pipeline(self) -> Pipeline:
        """The upsert mirror's pipeline: the same topic and CDC job, its own group and job."""
        return dataclasses.replace(
            self.pipeline(), table=self.mirror_table, group=self.mirror_group, ingestion_job=self.mirror_job
        )

    # -- clients ---------------------------------------------------------
    def rest(self) -> FlinkRestClient:
        return FlinkRestClient(HttpSettings(flink_rest_url()))

    def db(self, database: str | None = None) -> pymysql.connections.Connection:
        return connect_mariadb(database)

    def state_dir(self) -> Path:
        return Path(stack_env()["RTP_STATE"]) / "data" / "it-pipelines" / self.tag

    def checkpoint_root(self, sql_file: Path | None = None) -> Path:
        """Where a job of this pipeline keeps its checkpoints: the CDC job's without a file,
        else the SQL job's, named after its file (one folder per job, under the job id)."""
        return self.state_dir() / "checkpoints" / (sql_file.stem if sql_file else "cdc")

    def _cdc_jar(self) -> Path:
        """The CDC jar under this pipeline's own name: an upload is found again by name and
        checksum, so pipelines starting side by side never delete each other's upload."""
        own = self.state_dir() / f"{self.tag}-cdc.jar"
        if not own.exists():
            own.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(cdc_jar(), own)
        return own

    # -- lifecycle -------------------------------------------------------
    def up(self, *, mirror: bool = False) -> PrivatePipeline:
        self._schema()
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        futures = admin.create_topics(
            [NewTopic(self.topic, num_partitions=4), NewTopic(self.heartbeat_topic, num_partitions=1)]
        )
        for fut in futures.values():
            fut.result(timeout=30)
        self.start_cdc()
        self._namespace()
        self.start_ingest()
        if mirror:
            self.start_mirror()
        self._await_group(admin)
        return self

    def _namespace(self) -> None:
        """Create the table's namespace first: pipelines starting side by side would each insert
        it through Flink's CREATE DATABASE IF NOT EXISTS, and all but one fail on the key."""
        from tests.integration.test_reference_pipeline import catalog

        for attempt in range(5):
            try:
                catalog().create_namespace_if_not_exists(self.table.split(".")[0])
                return
            except Exception:  # the other pipeline's insert won the race: it exists on the next look
                if attempt == 4:
                    raise
                time.sleep(0.5)

    def _await_group(self, admin: AdminClient) -> None:
        """A live pipeline: a first change flows through, so the group has committed offsets."""
        self.change(1)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(self.group)])
            offsets = result[self.group].result(timeout=30).topic_partitions or []
            if any(tp.offset >= 0 for tp in offsets):
                return
            time.sleep(1)
        raise AssertionError(f"group {self.group} committed no offset within 90s")

    def _schema(self) -> None:
        with self.db() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{self.database}`")
            cur.execute(f"USE `{self.database}`")
            cur.execute(
                "CREATE TABLE orders (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                " customer_id BIGINT NOT NULL, amount DECIMAL(12,2) NOT NULL,"
                " status VARCHAR(16) NOT NULL DEFAULT 'new', updated_at TIMESTAMP(3) NOT NULL"
                " DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))"
            )
            cur.execute("CREATE TABLE rtp_heartbeat (id INT NOT NULL PRIMARY KEY, ts TIMESTAMP(3) NOT NULL)")
            cur.execute("INSERT INTO rtp_heartbeat VALUES (1, NOW(3))")
            self.heartbeats(True)

    def heartbeats(self, on: bool) -> None:
        """The heartbeat EVENT: on = every second; off = dropped (a source without heartbeats)."""
        with self.db(self.database) as conn, conn.cursor() as cur:
            if on:
                cur.execute(
                    "CREATE EVENT IF NOT EXISTS rtp_heartbeat_tick ON SCHEDULE EVERY 1 SECOND "
                    "ON COMPLETION PRESERVE DO UPDATE rtp_heartbeat SET ts = NOW(3) WHERE id = 1"
                )
            else:
                cur.execute("DROP EVENT IF EXISTS rtp_heartbeat_tick")

    def start_cdc(self, savepoint: str | None = None) -> str:
        env = stack_env()
        server_id = random.randint(6000, 60000)
        args = [
            "--job-name", self.cdc_job,
            "--mysql-host", host(), "--mysql-port", str(port("MARIADB_PORT")),
            "--mysql-user", env["MARIADB_CDC_USER"], "--mysql-password", env["MARIADB_CDC_PASSWORD"],
            "--database", self.database, "--table", "orders", "--heartbeat-table", "rtp_heartbeat",
            "--key-field", "id", "--server-id", f"{server_id}-{server_id + 3}", "--server-time-zone", "UTC",
            "--bootstrap-servers", kafka_bootstrap(), "--topic", self.topic,
            "--heartbeat-topic", self.heartbeat_topic, "--transactional-id-prefix", self.cdc_job,
            "--transaction-timeout-ms", "600000", "--checkpoint-interval-ms", "2000",
            "--checkpoint-dir", f"file://{self.checkpoint_root()}",
        ]  # fmt: skip
        with self.rest() as rest:
            jar_id, _ = rest.upload_jar(self._cdc_jar())
            try:
                self.cdc_job_id = rest.run_jar(
                    jar_id, entry_class=CDC_MAIN, args=args, parallelism=1, savepoint_path=savepoint
                )
            finally:
                rest.delete_jar(jar_id)
            rest.wait_for_state(self.cdc_job_id, [JobState.RUNNING], timeout=120)
            rest.wait_for_checkpoint(self.cdc_job_id, timeout=120)
        return self.cdc_job_id

    def _statements(self, sql_file: Path, renames: list[tuple[str, str]]) -> list[str]:
        """The file's statements with the stack's values filled in and the shared names renamed."""
        env = stack_env()
        values = {
            "CHECKPOINT_DIR": f"file://{self.checkpoint_root(sql_file)}",
            "CATALOG_URI": f"jdbc:postgresql://{host()}:{port('POSTGRES_PORT')}/{env['POSTGRES_CATALOG_DB']}",
            "CATALOG_USER": env["POSTGRES_USER"],
            "CATALOG_PASSWORD": env["POSTGRES_PASSWORD"],
            "WAREHOUSE": f"file://{env['RTP_STATE']}/data/warehouse",
            "KAFKA_BOOTSTRAP": kafka_bootstrap(),
        }
        lines = sql_file.read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
        text = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], text)
        namespace = self.table.split(".")[0]
        for old, new in [
            *renames,
            ("lake.ods", f"lake.{namespace}"),
            ("'shop.orders'", f"'{self.topic}'"),
            ("'10s'", f"'{self.checkpoint_interval_s}s'"),
            # Partitions added later stay unread until a restart: a stalled partition on demand.
            ("'scan.startup.mode' = 'group-offsets',", "'scan.startup.mode' = 'group-offsets', "
             "'scan.topic-partition-discovery.interval' = '0',"),
            ("'flink.max-continuous-empty-commits' = '1'",
             f"'flink.max-continuous-empty-commits' = '{self.empty_commits}'"),
        ]:  # fmt: skip
            assert old in text, f"{old!r} not in {sql_file}"
            text = text.replace(old, new)
        return [s.strip() for s in re.split(r";[ \t]*$", text, flags=re.M) if s.strip()]

    def ingest_statements(self) -> list[str]:
        namespace, table = self.table.split(".")
        return self._statements(
            SQL_FILE,
            [
                ("lake.ods.orders", f"lake.{namespace}.{table}"),
                ("'rtp-ods-orders'", f"'{self.group}'"),
                ("'ods-orders-ingest'", f"'{self.ingest_job}'"),
            ],
        )

    def mirror_statements(self) -> list[str]:
        namespace, table = self.mirror_table.split(".")
        return self._statements(
            MIRROR_SQL_FILE,
            [
                ("lake.ods.orders_mirror", f"lake.{namespace}.{table}"),
                ("'rtp-ods-orders-mirror'", f"'{self.mirror_group}'"),
                ("'ods-orders-mirror-ingest'", f"'{self.mirror_job}'"),
            ],
        )

    def start_ingest(self, savepoint: str | None = None) -> str:
        self.ingest_job_id = self._start_sql(self.ingest_statements(), savepoint)
        return self.ingest_job_id

    def start_mirror(self, savepoint: str | None = None) -> str:
        self.mirror_job_id = self._start_sql(self.mirror_statements(), savepoint)
        return self.mirror_job_id

    def _start_sql(self, statements: list[str], savepoint: str | None) -> str:
        props = {"execution.savepoint.path": savepoint} if savepoint else None
        gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
        try:
            results = gateway.run_script(statements, session_properties=props, timeout=120)
        finally:
            gateway.close()
        job_id = next(r.job_id for r in reversed(results) if r.job_id)
        with self.rest() as rest:
            rest.wait_for_state(job_id, [JobState.RUNNING], timeout=120)
            rest.wait_for_checkpoint(job_id, timeout=120)
        return job_id

    def cancel(self, job_id: str | None) -> None:
        if not job_id:
            return
        with self.rest() as rest:
            if not rest.job_state(job_id).is_terminal:
                rest.cancel(job_id)
                rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60)

    def stop_with_savepoint(self, job_id: str) -> str:
        with self.rest() as rest:
            request = rest.stop_with_savepoint(job_id, f"file://{self.state_dir()}/savepoints")
            return rest.wait_for_savepoint(job_id, request, timeout=120).location

    def down(self) -> None:
        for job_id in (self.mirror_job_id, self.ingest_job_id, self.cdc_job_id):
            with contextlib.suppress(Exception):  # best effort: leave the stack usable
                self.cancel(job_id)
        with self.db() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.delete_topics([self.topic, self.heartbeat_topic]).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)
        from tests.integration.test_reference_pipeline import catalog

        for table in (self.table, self.mirror_table):
            with contextlib.suppress(Exception):
                catalog().drop_table(table)

    # -- data -------------------------------------------------------------
    def change(self, count: int = 3) -> list[int]:
        """Inserts ``count`` rows and updates the first: one transaction each."""
        return change_orders(self.db(self.database), count)

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def change_orders(conn: pymysql.connections.Connection, count: int = 3) -> list[int]:
    """Inserts ``count`` rows into ``orders`` and updates the first: one transaction each."""
    ids = []
    with conn, conn.cursor() as cur:
        for i in range(count):
            cur.execute("INSERT INTO orders (customer_id, amount) VALUES (%s, %s)", (i, 10 + i))
            ids.append(cur.lastrowid)
        cur.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (ids[0],))
    return ids


class SharedPipeline:
    """The stack's reference pipeline (``ods.orders`` of stack/pipelines.yaml, source
    ``shop.orders``) with the test interface of :class:`PrivatePipeline`, for tests that run
    alone on the stack (the disruptive ones): nothing to set up, nothing to tear down."""

    database = "shop"

    def pipeline(self, *, with_cdc: bool = True) -> Pipeline:
        from airflow_provider_rtp.completeness import load_pipelines

        declared = load_pipelines(REPO / "stack" / "pipelines.yaml")["ods.orders"]
        return declared if with_cdc else dataclasses.replace(declared, cdc_job=None, heartbeat_topic=None)

    def change(self, count: int = 3) -> list[int]:
        return change_orders(connect_mariadb(self.database), count)
