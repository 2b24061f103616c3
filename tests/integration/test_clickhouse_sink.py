"""A ClickHouse-sink pipeline on the stack: the stack's clickhouse-sink job (stack/jobs/clickhouse-sink)
reads a private topic with its own group and flushes into a private table of the first ClickHouse
server on every checkpoint.

The evaluation waits until a checkpoint of the job triggered after the Kafka stage held has
completed, never counting the one whose offsets made it hold, and at the moment it says complete
ClickHouse holds every produced record of the window. Bad declarations fail with their name.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Connection
from confluent_kafka import ConsumerGroupTopicPartitions, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from airflow_provider_rtp.completeness import (
    InvalidPipelineError,
    Pipeline,
    Policy,
    Reason,
    Stage,
    Verdict,
    Window,
    load_pipelines,
)
from airflow_provider_rtp.completeness.report import CLICKHOUSE_GUARANTEE
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState
from airflow_provider_rtp.hooks.completeness import CheckClients
from tests.stack import REPO, flink_rest_url, host, kafka_bootstrap, port, stack_env

MAIN = "rtp.jobs.clickhousesink.ClickHouseSinkJob"
PARTITIONS = 2
PER_PARTITION = 25
CHECKPOINT_MS = 3000


def clickhouse_url() -> str:
    return f"http://{host()}:{port('CLICKHOUSE1_HTTP_PORT')}/"


def clickhouse(query: str) -> str:
    url = clickhouse_url() + "?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as response:
        return response.read().decode()


def connections() -> dict[str, Connection]:
    return {
        "rtp_default": Connection(conn_id="rtp_default", conn_type="rtp", host=flink_rest_url()),
        "kafka_default": Connection(
            conn_id="kafka_default",
            conn_type="kafka",
            extra=json.dumps({"bootstrap.servers": kafka_bootstrap()}),
        ),
        "clickhouse_default": Connection(
            conn_id="clickhouse_default",
            conn_type="clickhouse",
            host=host(),
            port=port("CLICKHOUSE1_HTTP_PORT"),
            extra=json.dumps({"native_port": port("CLICKHOUSE1_TCP_PORT")}),
        ),
    }


def jar() -> Path:
    """The job's jar, (re)built from stack/jobs/clickhouse-sink as the stack builds its jobs
    (nothing is done when it is up to date)."""
    built = subprocess.run(
        [str(REPO / "stack" / "rtp-stack"), "pipeline", "jars"], capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, f"building the stack's job jars failed:\n{built.stderr[-2000:]}"
    path = Path(stack_env()["RTP_CACHE"]) / "jobs" / "rtp-clickhouse-sink.jar"
    assert f"clickhouse-sink={path}" in built.stdout, built.stdout
    return path


@dataclass
class SinkPipeline:
    """A private topic, group, job and ClickHouse table; nothing shared is touched."""

    tag: str
    job_id: str | None = None

    @property
    def topic(self) -> str:
        return f"{self.tag}.orders"

    @property
    def group(self) -> str:
        return f"{self.tag}-clickhouse"

    @property
    def job(self) -> str:
        return f"{self.tag}-clickhouse-sink"

    @property
    def table(self) -> str:
        return f"default.orders_{self.tag}"

    def pipeline(self, clickhouse_table: str | None = None) -> Pipeline:
        return Pipeline(
            table=f"ch.orders_{self.tag}",
            topics=(self.topic,),
            group=self.group,
            ingestion_job=self.job,
            sink="clickhouse",
            clickhouse_table=clickhouse_table or self.table,
        )

    def state_dir(self) -> Path:
        return Path(stack_env()["RTP_STATE"]) / "data" / "it-pipelines" / self.tag

    def up(self) -> None:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.create_topics([NewTopic(self.topic, num_partitions=PARTITIONS)]).values():
            fut.result(timeout=30)
        # Re-delivered rows (a failure between a flush and its checkpoint) collapse on their offset.
        clickhouse(
            f"CREATE TABLE {self.table} (id Int64, customer_id Int64, amount Decimal(12, 2), status String,"
            " _op String, _source_ts_ms Int64, _partition Int32, _offset Int64, _timestamp_ms Int64)"
            " ENGINE = ReplacingMergeTree() ORDER BY (_partition, _offset)"
        )
        own = self.state_dir() / f"{self.tag}-clickhouse-sink.jar"  # uploads are found by name
        own.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(jar(), own)
        args = [
            "--job-name", self.job, "--bootstrap-servers", kafka_bootstrap(), "--topic", self.topic,
            "--group", self.group, "--clickhouse-url", clickhouse_url(), "--table", self.table,
            "--batch-size", "100000", "--checkpoint-interval-ms", str(CHECKPOINT_MS),
            "--checkpoint-dir", f"file://{self.state_dir()}/checkpoints",
        ]  # fmt: skip
        with rest() as flink:
            jar_id, _ = flink.upload_jar(own)
            try:
                self.job_id = flink.run_jar(jar_id, entry_class=MAIN, args=args, parallelism=1)
            finally:
                flink.delete_jar(jar_id)
            flink.wait_for_state(self.job_id, [JobState.RUNNING], timeout=120)
            flink.wait_for_checkpoint(self.job_id, timeout=120)
        self._await_group(admin)

    def _await_group(self, admin: AdminClient) -> None:
        """A record stamped two hours ago on every partition flows through, so the group has
        committed offsets (a group exists only once it committed)."""
        stamp = int((datetime.now(tz=UTC) - timedelta(hours=2)).timestamp() * 1000)
        producer = Producer({"bootstrap.servers": kafka_bootstrap()})
        for partition in range(PARTITIONS):
            event = {"after": {"id": 0, "customer_id": 0, "amount": 0, "status": "warm-up"}, "op": "r"}
            producer.produce(
                self.topic, value=json.dumps(event).encode(), partition=partition, timestamp=stamp
            )
        assert producer.flush(30) == 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(self.group)])
            offsets = result[self.group].result(timeout=30).topic_partitions or []
            if sum(tp.offset >= 1 for tp in offsets) == PARTITIONS:
                return
            time.sleep(0.5)
        raise AssertionError(f"group {self.group} committed no offsets within 90 s")

    def down(self) -> None:
        with contextlib.suppress(Exception), rest() as flink:
            if self.job_id and not flink.job_state(self.job_id).is_terminal:
                flink.cancel(self.job_id)
                flink.wait_for_state(self.job_id, [JobState.CANCELED], timeout=60)
        with contextlib.suppress(Exception):
            clickhouse(f"DROP TABLE IF EXISTS {self.table}")
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.delete_topics([self.topic]).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)
        shutil.rmtree(self.state_dir(), ignore_errors=True)

    def produce(self, window: Window, after_ms: int) -> set[tuple[int, int]]:
        """Records stamped inside the window, then one stamped ``after_ms`` on every partition;
        returns the (partition, offset) of the window's records."""
        producer = Producer({"bootstrap.servers": kafka_bootstrap(), "enable.idempotence": True})
        placed: dict[int, tuple[int, int]] = {}
        start_ms = int(window.start.timestamp() * 1000)

        def delivered(err: object, msg: object) -> None:
            assert err is None, err
            key = int(msg.key())  # type: ignore[attr-defined]
            placed[key] = (msg.partition(), msg.offset())  # type: ignore[attr-defined]

        row_id = 0
        for partition in range(PARTITIONS):
            stamps = [start_ms + 1000 * i for i in range(PER_PARTITION)] + [after_ms]
            for ts in stamps:
                row_id += 1
                event = {
                    "before": None,
                    "after": {"id": row_id, "customer_id": row_id % 7, "amount": 10.5, "status": "new"},
                    "source": {"ts_ms": ts},
                    "op": "c",
                }
                producer.produce(
                    self.topic,
                    key=str(row_id).encode(),
                    value=json.dumps(event).encode(),
                    partition=partition,
                    timestamp=ts,
                    on_delivery=delivered,
                )
        assert producer.flush(30) == 0
        window_ids = {i for i in placed if i % (PER_PARTITION + 1) != 0}  # the last of each is after
        return {placed[i] for i in window_ids}

    def rows(self, start_ms: int, target_ms: int) -> set[tuple[int, int]]:
        text = clickhouse(
            f"SELECT DISTINCT _partition, _offset FROM {self.table}"
            f" WHERE _timestamp_ms >= {start_ms} AND _timestamp_ms < {target_ms} FORMAT TabSeparated"
        )
        return {(int(p), int(o)) for p, o in (line.split("\t") for line in text.splitlines() if line)}


def rest() -> FlinkRestClient:
    return FlinkRestClient(HttpSettings(flink_rest_url()))


@pytest.fixture
def sink() -> Iterator[SinkPipeline]:
    pipeline = SinkPipeline(f"ch{uuid.uuid4().hex[:6]}")
    try:
        pipeline.up()
        yield pipeline
    finally:
        pipeline.down()


@pytest.fixture
def broken_sink() -> Iterator[SinkPipeline]:
    pipeline = SinkPipeline(f"cf{uuid.uuid4().hex[:6]}")
    try:
        pipeline.up()
        yield pipeline
    finally:
        with contextlib.suppress(Exception):
            clickhouse(f"DROP TABLE IF EXISTS {pipeline.table}_away")
        pipeline.down()


def _evaluate_until_complete(
    check: CompletenessCheck, window: Window, seconds: float, *, on_waiting: Any = None
) -> tuple[CheckResult | None, list[CheckResult], datetime | None]:
    """Evaluates as the trigger does (carrying when the Kafka stage first held) until complete."""
    clients = CheckClients(check, connections())
    results: list[CheckResult] = []
    held: datetime | None = None
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = run_check(check, window, clients, kafka_held_since=held, checkpoint_wait=timedelta(0))
            if result.complete:
                return result, results, held
            results.append(result)
            if on_waiting is not None:
                on_waiting(result)
            decision = result.decision
            held = (held or decision.kafka_held_at) if decision and decision.kafka_held_at else None
            time.sleep(0.5)
        return None, results, held
    finally:
        clients.close()


def test_a_failing_flush_is_never_complete(broken_sink: SinkPipeline) -> None:
    sink = broken_sink
    now = datetime.now(tz=UTC)
    window = Window(now - timedelta(minutes=30), now - timedelta(minutes=20))
    policy = Policy()
    check = CompletenessCheck(sink.pipeline(), policy)
    with rest() as flink:
        failed_before = flink.checkpoints(sink.job_id or "").failed
    # Every insert fails from now on (a view of the table takes its name: the table still exists for
    # the declaration, but refuses inserts): the flush in the checkpoint throws, the checkpoint fails.
    clickhouse(f"RENAME TABLE {sink.table} TO {sink.table}_away")
    clickhouse(f"CREATE VIEW {sink.table} AS SELECT * FROM {sink.table}_away")
    produced = sink.produce(window, after_ms=int((now - timedelta(minutes=1)).timestamp() * 1000))
    result, results, _ = _evaluate_until_complete(check, window, 20)
    assert result is None, f"complete although no flush succeeded:\n{result.report if result else ''}"
    assert all(not r.complete for r in results)
    with rest() as flink:
        failed = flink.checkpoints(sink.job_id or "").failed
    assert failed > failed_before, "no checkpoint failed while ClickHouse refused inserts"
    # The Kafka stage never held: the group's offsets stayed where the last good checkpoint left them.
    assert not any(r.decision and r.decision.kafka_held_at for r in results), results[-1].report

    # ClickHouse takes rows again: the re-delivered rows make the window complete, with every row.
    clickhouse(f"DROP TABLE {sink.table}")
    clickhouse(f"RENAME TABLE {sink.table}_away TO {sink.table}")
    start_ms, target_ms = int(window.start.timestamp() * 1000), window.target_ms(policy)
    result, results, _ = _evaluate_until_complete(check, window, 120)
    assert result is not None, "not complete after ClickHouse recovered:\n" + "\n".join(
        r.report for r in results[-3:]
    )
    missing = produced - sink.rows(start_ms, target_ms)
    assert not missing, f"complete, but {len(missing)} window rows are not in ClickHouse:\n{result.report}"


def _trigger_ms(job_id: str, checkpoint_id: int) -> int:
    with rest() as flink:
        history = flink.http.request("GET", f"/jobs/{job_id}/checkpoints/details/{checkpoint_id}")
    return int(history["trigger_timestamp"])


def test_complete_only_after_a_checkpoint_that_followed_the_kafka_stage(sink: SinkPipeline) -> None:
    now = datetime.now(tz=UTC)
    window = Window(now - timedelta(minutes=30), now - timedelta(minutes=20))
    policy = Policy()
    check = CompletenessCheck(sink.pipeline(), policy)
    target_ms = window.target_ms(policy)
    start_ms = int(window.start.timestamp() * 1000)
    produced = sink.produce(window, after_ms=int((now - timedelta(minutes=1)).timestamp() * 1000))
    assert len(produced) == PARTITIONS * PER_PARTITION

    clients = CheckClients(check, connections())
    results: list[CheckResult] = []
    held: datetime | None = None  # as the trigger carries it
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = run_check(check, window, clients, kafka_held_since=held, checkpoint_wait=timedelta(0))
            if result.complete:
                rows = sink.rows(start_ms, target_ms)  # read at once: the decision was about now
                break
            results.append(result)
            decision = result.decision
            assert decision is not None, result.report
            held = (held or decision.kafka_held_at) if decision.kafka_held_at else None
            time.sleep(0.5)
        else:
            pytest.fail("not complete within 120 s:\n" + "\n".join(r.report for r in results[-3:]))
    finally:
        clients.close()

    decision = result.decision
    assert decision is not None and decision.verdict is Verdict.COMPLETE, result.report
    # Every produced record of the window was in ClickHouse when the decision was taken.
    missing = produced - rows
    assert not missing, f"complete, but {len(missing)} window rows are not in ClickHouse:\n{result.report}"

    # Before: the Kafka stage held while the commit stage waited for a later checkpoint.
    behind = [
        r.decision
        for r in results
        if r.decision is not None
        and r.decision.blocking is Stage.CLICKHOUSE
        and r.decision.stage(Stage.CLICKHOUSE).reason is Reason.COMMIT_BEHIND  # type: ignore[union-attr]
    ]
    assert behind, "the Kafka stage never held before completion:\n" + "\n".join(r.report for r in results)
    assert all(d.stage(Stage.KAFKA).ok for d in behind)  # type: ignore[union-attr]
    # The checkpoint that counts was triggered after the Kafka stage first held (plus the margin).
    assert held is not None and decision.checkpoint_id is not None and sink.job_id is not None
    trigger_ms = _trigger_ms(sink.job_id, decision.checkpoint_id)
    assert trigger_ms >= (held + policy.clock_skew_margin).timestamp() * 1000 - 1
    assert decision.snapshot_id is None and decision.job_id == sink.job_id
    assert decision.guarantee == CLICKHOUSE_GUARANTEE
    assert "guarantee: at least once" in result.report and result.xcom()["snapshot_id"] is None


def test_an_unknown_clickhouse_table_is_named() -> None:
    now = datetime.now(tz=UTC)
    window = Window(now - timedelta(minutes=30), now - timedelta(minutes=20))
    nobody = SinkPipeline(f"cn{uuid.uuid4().hex[:6]}")  # declared only: the table is looked up first
    missing = f"default.nowhere_{nobody.tag}"
    check = CompletenessCheck(nobody.pipeline(clickhouse_table=missing), Policy())
    clients = CheckClients(check, connections())
    try:
        with pytest.raises(InvalidInputError, match=rf"ClickHouse table {missing} does not exist"):
            run_check(check, window, clients)
    finally:
        clients.close()


def test_an_unknown_sink_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "pipelines:\n  ch.orders:\n    topics: [t]\n    group: g\n    ingestion_job: j\n"
        "    sink: clickhose\n    clickhouse_table: default.orders\n"
    )
    with pytest.raises(InvalidPipelineError, match=r"unknown sink 'clickhose'; allowed: iceberg, clickhouse"):
        load_pipelines(path)


def test_the_stack_builds_the_job_from_its_sources() -> None:
    sources = sorted(p.name for p in (REPO / "stack" / "jobs" / "clickhouse-sink").glob("*.java"))
    assert sources == ["ChangeEventRows.java", "ClickHouseHttpSink.java", "ClickHouseSinkJob.java"]
    assert jar().stat().st_size > 0
