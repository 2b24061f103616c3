"""One completeness evaluation over 1,024 partitions and a 20,000-snapshot table, on the real stack.

    ./dev shell
    python bench/completeness_eval.py            # --runs N (default 7)

Builds, with unique names (all removed at the end):
- a Kafka topic with 1,024 partitions, 20 records each with known timestamps (one a minute),
  and a consumer group that committed past the window: half the partitions caught up, half
  lagging (so the evaluation also reads their first unconsumed record);
- a Flink SQL job (datagen -> blackhole, a checkpoint a second) whose job id the snapshots name;
- an Iceberg table in the stack's JDBC catalog whose metadata holds 20,000 snapshots with
  ``flink.job-id`` / ``flink.max-committed-checkpoint-id`` summaries (a quarter from an earlier
  job, every 50th a compaction), written as one metadata file and registered with
  ``register_table``; every snapshot points at a real manifest list, so pyiceberg loads and scans it.

Then times ``run_check`` (the sensor's and the triggers' evaluator, clients reused as a trigger
does) on a one-minute window that is complete, N times each:
- ``new_file``: before each run the table gets one more Flink commit (a new metadata file, as a
  live table gets every checkpoint), so each evaluation reads and parses a new file;
- ``same_file``: nothing changed since the last evaluation;
- ``cold``: no snapshot log of the table in memory (a fresh worker process).
The same at a small size (8 partitions, 100 snapshots) in the same run, and the network round
trips of one evaluation at both sizes: Flink REST calls, Kafka admin calls and protocol requests
(librdkafka's statistics), catalog SQL statements and metadata file reads.
Also, at the big size: the floor (a plain ``json.loads`` of the metadata file), the phases of a
cold evaluation timed one by one, and a check that the fast snapshot-log reader decides as
pyiceberg's full ``load_table`` does (the whole decision, and the Iceberg stage for jobs and
checkpoints that cover, wait and fall behind); the script fails otherwise.
Figures go to bench/results/completeness_eval.json.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import random
import shutil
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import confluent_kafka
import pyarrow as pa
import pyiceberg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from airflow_provider_rtp.completeness import (
    IcebergCommitStage,
    Observations,
    Pipeline,
    Policy,
    Verdict,
    Window,
    decide,
)
from airflow_provider_rtp.completeness.observations import RestoreInfo
from airflow_provider_rtp.completeness.snapshots import main_commits
from airflow_provider_rtp.evaluation import CompletenessCheck, run_check
from airflow_provider_rtp.evaluation.gather import observe_job, observe_kafka
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState, SqlGatewayClient
from airflow_provider_rtp.hooks.completeness import CheckClients
from airflow_provider_rtp.iceberg import observe_table
from airflow_provider_rtp.iceberg import snapshot_log as iceberg_metadata
from bench._kafka_requests import RequestCountingReader
from bench._results import write_results
from tests.stack import flink_rest_url, host, kafka_bootstrap, port, sql_gateway_url, stack_env

RECORDS_PER_PARTITION = 20
MINUTE_MS = 60_000
LONG_MAX = 9223372036854775807


def versions_env() -> dict[str, str]:
    from tests.stack import REPO

    lines = (REPO / "stack" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def stack_versions() -> dict[str, str]:
    """The versions the completeness benchmarks depend on."""
    return {
        "kafka_broker": versions_env()["KAFKA_VERSION"],
        "flink": versions_env()["FLINK_VERSION"],
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "pyiceberg": pyiceberg.__version__,
    }


# -- building the world ------------------------------------------------------------------------


def make_topic(partitions: int, base_ms: int) -> tuple[str, str]:
    """A topic with a record a minute per partition and a group committed past minute 10."""
    topic = f"bench-eval-{partitions}-{uuid.uuid4().hex[:8]}"
    group = f"bench-eval-group-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=120).values():
        fut.result(180)
    producer = Producer({"bootstrap.servers": kafka_bootstrap(), "linger.ms": 50})
    for p in range(partitions):
        for i in range(RECORDS_PER_PARTITION):
            producer.produce(topic, value=b"r", partition=p, timestamp=base_ms + i * MINUTE_MS + p % 500)
        producer.poll(0)
    producer.flush(120)
    # Even partitions caught up; odd ones lag but are past the window's records.
    committed = {p: RECORDS_PER_PARTITION if p % 2 == 0 else 10 + p % 10 for p in range(partitions)}
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap(), "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in committed.items()], asynchronous=False
        )
    finally:
        consumer.close()
    return topic, group


def start_job(gateway: SqlGatewayClient, rest: FlinkRestClient) -> tuple[str, str]:
    name = f"bench-eval-ingest-{uuid.uuid4().hex[:6]}"
    results = gateway.run_script(
        [
            "CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
            "CREATE TEMPORARY TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
            "INSERT INTO sink SELECT id FROM gen",
        ],
        session_properties={"execution.checkpointing.interval": "1s"},
        last_config={"pipeline.name": name},
    )
    job_id = results[-1].job_id
    assert job_id, results[-1]
    rest.wait_for_state(job_id, [JobState.RUNNING], timeout=120)
    rest.wait_for_checkpoint(job_id, timeout=120)
    return name, job_id


def catalog() -> SqlCatalog:
    """The stack's JDBC catalog, as tests/integration/test_reference_pipeline.py opens it."""
    env = stack_env()
    return SqlCatalog(
        "lake",
        uri=f"postgresql+psycopg2://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@{host()}:"
        f"{port('POSTGRES_PORT')}/{env['POSTGRES_CATALOG_DB']}",
        warehouse=f"file://{env['RTP_STATE']}/data/warehouse",
    )


class SyntheticTable:
    """A table whose metadata file is written here: n snapshots, then one more per ``commit()``."""

    def __init__(
        self,
        cat: SqlCatalog,
        identifier: str,
        n: int,
        job_id: str,
        job_start_ms: int,
        *,
        old_step_ms: int = MINUTE_MS,
        current: int | None = None,
    ) -> None:
        """``n - current`` snapshots of an earlier job, ``old_step_ms`` apart, end at the running
        job's start; ``current`` (default three quarters of ``n``) are the running job's."""
        self.cat, self.identifier, self.job_id = cat, identifier, job_id
        table = cat.create_table(identifier, schema=pa.schema([pa.field("id", pa.int64())]))
        table.append(pa.table({"id": pa.array([1, 2, 3], pa.int64())}))  # one real manifest list
        table = cat.load_table(identifier)
        self.location = table.metadata.location
        self.meta = json.loads(_read_text(table.metadata_location))
        template = self.meta["snapshots"][-1]
        self.manifest_list = template["manifest-list"]
        old_job = uuid.uuid4().hex
        n_old = n // 4 if current is None else n - current
        snaps: list[dict[str, Any]] = []
        parent = None
        now_ms = int(time.time() * 1000)
        for i in range(n):
            if i < n_old:  # an earlier run of the ingestion
                job, checkpoint, ts = old_job, i + 1, job_start_ms - (n_old - i) * old_step_ms
            else:  # this job's commits, after it started
                job, checkpoint = job_id, i - n_old + 1
                # Past the job's start and the policy's 1 s margin, even when built within a second of it.
                ts = max(job_start_ms + 2_000, min(now_ms, job_start_ms + 10_000 + (i - n_old)))
            compaction = i % 50 == 49
            snaps.append(self._snapshot(i + 1, parent, ts, None if compaction else (job, checkpoint)))
            parent = snaps[-1]["snapshot-id"]
        self.next_checkpoint = n - n_old + 1
        self._set_log(snaps)
        self.metadata_location = self._write()
        cat.drop_table(identifier)  # the catalog row of the one-snapshot table; its files stay
        cat.register_table(identifier, self.metadata_location)

    def _snapshot(
        self, seq: int, parent: int | None, ts: int, flink: tuple[str, int] | None
    ) -> dict[str, Any]:
        summary = {
            "operation": "replace" if flink is None else "append",
            "added-data-files": "1",
            "added-records": "3",
            "added-files-size": "620",
            "changed-partition-count": "1",
            "total-records": str(3 * seq),
            "total-files-size": str(620 * seq),
            "total-data-files": str(seq),
            "total-delete-files": "0",
            "total-position-deletes": "0",
            "total-equality-deletes": "0",
            "engine-name": "flink",
            "engine-version": "1.20.3",
        }
        if flink is not None:
            summary |= {
                "flink.operator-id": "fbb4ef531e002f8fb3a2052db255adf5",
                "flink.job-id": flink[0],
                "flink.max-committed-checkpoint-id": str(flink[1]),
            }
        snap = {
            "sequence-number": seq,
            "snapshot-id": random.getrandbits(62),
            "timestamp-ms": ts,
            "summary": summary,
            "manifest-list": self.manifest_list,
            "schema-id": 0,
        }
        if parent is not None:
            snap["parent-snapshot-id"] = parent
        return snap

    def _set_log(self, snaps: list[dict[str, Any]]) -> None:
        head = snaps[-1]
        self.meta["snapshots"] = snaps
        self.meta["snapshot-log"] = [
            {"snapshot-id": s["snapshot-id"], "timestamp-ms": s["timestamp-ms"]} for s in snaps
        ]
        self.meta["current-snapshot-id"] = head["snapshot-id"]
        self.meta["refs"] = {"main": {"snapshot-id": head["snapshot-id"], "type": "branch"}}
        self.meta["last-sequence-number"] = head["sequence-number"]
        self.meta["last-updated-ms"] = head["timestamp-ms"]

    def _write(self) -> str:
        path = f"{self.location}/metadata/{uuid.uuid4()}.metadata.json"
        Path(urlparse(path).path).write_text(json.dumps(self.meta))
        return path

    def commit(self) -> None:
        """One more Flink commit: a new metadata file, swapped in as the JDBC catalog commits."""
        snaps = self.meta["snapshots"]
        head = snaps[-1]
        snaps.append(
            self._snapshot(
                head["sequence-number"] + 1,
                head["snapshot-id"],
                int(time.time() * 1000),
                (self.job_id, self.next_checkpoint),
            )
        )
        self.next_checkpoint += 1
        self._set_log(snaps)
        previous, self.metadata_location = self.metadata_location, self._write()
        namespace, name = self.identifier.split(".")
        with Session(self.cat.engine) as session:
            session.execute(
                update(IcebergTables)
                .where(
                    IcebergTables.catalog_name == self.cat.name,
                    IcebergTables.table_namespace == namespace,
                    IcebergTables.table_name == name,
                    IcebergTables.metadata_location == previous,
                )
                .values(metadata_location=self.metadata_location, previous_metadata_location=previous)
            )
            session.commit()

    def check_loads(self, covering: int) -> dict[str, Any]:
        """pyiceberg loads the table with every snapshot, and scans the covering one."""
        start = time.perf_counter()
        table = self.cat.load_table(self.identifier)
        load_s = time.perf_counter() - start
        rows = table.scan(snapshot_id=covering).to_arrow().num_rows
        return {
            "snapshots": len(table.metadata.snapshots),
            "pyiceberg_load_table_s": load_s,
            "scan_rows": rows,
        }


def _read_text(location: str) -> str:
    return Path(urlparse(location).path).read_text()


# -- measuring -------------------------------------------------------------------------------


class Size:
    """One pipeline of a given size and the clients that evaluate it."""

    def __init__(
        self, label: str, pipeline: Pipeline, table: SyntheticTable, window: Window, policy: Policy
    ) -> None:
        self.label, self.table = label, table
        self.check = CompletenessCheck(pipeline, policy)
        self.window = window
        self.clients = CheckClients(self.check)

    def evaluate(self) -> Any:
        result = run_check(self.check, self.window, self.clients)
        if result.verdict is not Verdict.COMPLETE:
            raise SystemExit(f"{self.label}: expected a complete window\n{result.report}")
        return result


class GcClock:
    """Time spent in the cyclic collector's pauses (whoever allocated when a collection was due)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.full = 0  # full collections (generation 2): they walk every object of the process
        self._start = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start
            self.full += info["generation"] == 2


GC_CLOCK = GcClock()


def timed(fn: Callable[[], Any]) -> tuple[float, float, float, int]:
    """Wall time, this process's CPU time (all threads, librdkafka's included), gc pauses and
    full collections."""
    start, cpu, paused, full = time.perf_counter(), time.process_time(), GC_CLOCK.total, GC_CLOCK.full
    fn()
    return (
        time.perf_counter() - start,
        time.process_time() - cpu,
        GC_CLOCK.total - paused,
        GC_CLOCK.full - full,
    )


def measure(size: Size, runs: int) -> dict[str, Any]:
    size.evaluate()  # clients connected, as in a trigger after its first evaluation
    cases: dict[str, list[tuple[float, float, float, int]]] = {"new_file": [], "same_file": [], "cold": []}
    for _ in range(runs):
        size.table.commit()
        cases["new_file"].append(timed(size.evaluate))
        cases["same_file"].append(timed(size.evaluate))
        iceberg_metadata._LATEST.clear()
        cases["cold"].append(timed(size.evaluate))
    return {
        name: {
            "median_s": statistics.median(w for w, _, _, _ in xs),
            "median_cpu_s": statistics.median(c for _, c, _, _ in xs),
            "median_gc_pause_s": statistics.median(g for _, _, g, _ in xs),
            "median_without_gc_pauses_s": statistics.median(w - g for w, _, g, _ in xs),
            "full_gc_collections": sum(f for _, _, _, f in xs),
            "all_s": [round(w, 4) for w, _, _, _ in xs],
        }
        for name, xs in cases.items()
    }


def round_trips(size: Size) -> dict[str, Any]:
    """Requests of one evaluation (a new metadata file, clients connected)."""
    clients = CheckClients(size.check)
    reader = RequestCountingReader({"bootstrap.servers": kafka_bootstrap()})
    clients.kafka = reader  # type: ignore[misc]
    flink_calls: Counter[str] = Counter()
    session = clients.platform.rest.http._session
    session.hooks["response"].append(
        lambda r, *a, **k: flink_calls.update([f"{r.request.method} {urlparse(r.url).path}"])
    )
    sql: list[str] = []
    engine = clients.iceberg.catalog.engine
    listener = lambda *a, **k: sql.append(a[2].split()[0])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    reads: list[str] = []
    from pyiceberg.io import pyarrow as pyarrow_io

    original = pyarrow_io.PyArrowFileIO.new_input

    def counting_new_input(io_self: Any, location: str) -> Any:
        reads.append(location)
        return original(io_self, location)

    size.table.commit()
    run_check(size.check, size.window, clients)  # connects; not counted
    flink_calls.clear()
    reader.reset()
    sql.clear()
    size.table.commit()
    pyarrow_io.PyArrowFileIO.new_input = counting_new_input  # type: ignore[method-assign]
    try:
        run_check(size.check, size.window, clients)
        protocol = Counter(reader.protocol_requests())
        admin_calls = reader.admin_calls()
    finally:
        pyarrow_io.PyArrowFileIO.new_input = original  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", listener)
        clients.close()
    # Connection set-up, not measurement: ApiVersion once per connection; FindCoordinator repeats
    # on the probe consumer's own timer for its unused group id (see bench/kafka_lag.py).
    setup = {k: protocol.pop(k) for k in ("ApiVersion", "FindCoordinator") if k in protocol}
    return {
        "flink_rest": dict(sorted(flink_calls.items())),
        "kafka_admin_calls": admin_calls,
        "kafka_protocol_requests": dict(sorted(protocol.items())),
        "kafka_setup_requests": setup,
        "catalog_sql_statements": dict(Counter(sql)),
        "metadata_file_reads": len(reads),
    }


def spread(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """[min, max] of each count over repeated countings (librdkafka's Metadata and Fetch requests
    follow its own timers, so they vary by one or two from run to run)."""
    out: dict[str, Any] = {
        "metadata_file_reads": [
            min(c["metadata_file_reads"] for c in counts),
            max(c["metadata_file_reads"] for c in counts),
        ]
    }
    for kind in (
        "flink_rest",
        "kafka_admin_calls",
        "kafka_protocol_requests",
        "kafka_setup_requests",
        "catalog_sql_statements",
    ):
        names = sorted({n for c in counts for n in c[kind]})
        out[kind] = {
            n: [min(c[kind].get(n, 0) for c in counts), max(c[kind].get(n, 0) for c in counts)] for n in names
        }
    return out


def total_round_trips(rt: dict[str, Any]) -> int:
    return (
        sum(rt["flink_rest"].values())
        + sum(rt["kafka_protocol_requests"].values())
        + sum(rt["catalog_sql_statements"].values())
        + rt["metadata_file_reads"]
    )


def median_s(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def phases(size: Size, runs: int) -> dict[str, float]:
    """Median of each phase of a cold evaluation, timed one by one (clients connected)."""
    cat = size.clients.iceberg.catalog
    ident = size.check.pipeline.table
    policy, window, pipeline = size.check.policy, size.window, size.check.pipeline
    location = iceberg_metadata._sql_metadata_location(cat, ident)
    raw = iceberg_metadata._read(cat, location, ident)
    job = observe_job(size.clients.flink, pipeline.ingestion_job)

    # A fresh log per run: the index is built once per log, then kept with it (the same file again).
    fresh = iter([iceberg_metadata.table_snapshots_from_metadata(raw, ident)[1] for _ in range(runs + 1)])
    kept = next(fresh)
    IcebergCommitStage(kept).evaluate(job, upstream_held=True, policy=policy)
    now_ms = int(time.time() * 1000)
    return {
        "catalog_lookup_s": median_s(lambda: iceberg_metadata._sql_metadata_location(cat, ident), runs),
        "file_read_s": median_s(lambda: iceberg_metadata._read(cat, location, ident), runs),
        "decode_to_columns_s": median_s(
            lambda: iceberg_metadata.table_snapshots_from_metadata(raw, ident), runs
        ),
        "index_and_iceberg_stage_s": median_s(
            lambda: IcebergCommitStage(next(fresh)).evaluate(job, upstream_held=True, policy=policy), runs
        ),
        "iceberg_stage_index_kept_s": median_s(
            lambda: IcebergCommitStage(kept).evaluate(job, upstream_held=True, policy=policy), runs
        ),
        "kafka_s": median_s(
            lambda: observe_kafka(
                size.clients.kafka, pipeline, window.target(policy), window.target_ms(policy), now_ms
            ),
            runs,
        ),
        "flink_s": median_s(lambda: observe_job(size.clients.flink, pipeline.ingestion_job), runs),
    }


def same_decisions(size: Size) -> dict[str, Any]:
    """The fast reader and pyiceberg's full load decide alike on the same metadata file."""
    check, clients, window = size.check, size.clients, size.window
    pipeline, policy = check.pipeline, check.policy
    iceberg_metadata._LATEST.clear()
    fast = iceberg_metadata.read_snapshot_log(clients.catalog, pipeline.table)
    slow = observe_table(clients.iceberg.catalog.load_table(pipeline.table), pipeline.table)
    if fast != slow:
        raise SystemExit("the fast reader's snapshot log differs from pyiceberg's")
    now = datetime.now(tz=UTC)
    kafka = observe_kafka(
        clients.kafka,
        pipeline,
        window.target(policy),
        window.target_ms(policy),
        int(now.timestamp() * 1000),
    )
    job = observe_job(clients.flink, pipeline.ingestion_job)
    decisions = [
        decide(
            Observations(window=window, kafka=kafka, job=job, commit=IcebergCommitStage(table)), policy, now
        )
        for table in (fast, slow)
    ]
    if decisions[0] != decisions[1]:
        raise SystemExit(f"decisions differ:\n{decisions[0].report()}\n{decisions[1].report()}")
    commits = main_commits(fast)
    own = commits.of_job(job.job_id)
    first = commits.checkpoint_ids[own.indices[0]]
    last = commits.checkpoint_ids[own.indices[-1]]
    other = commits.job_ids[commits.last_not_of(job.job_id)]  # type: ignore[index]
    jobs = {
        "covered_by_the_first_commit": replace(job, latest_checkpoint_id=first),
        "covered_by_the_last_commit": replace(job, latest_checkpoint_id=last),
        "commit_behind": replace(job, latest_checkpoint_id=last + 5),
        "new_job_no_commit": replace(job, job_id="0" * 32, start_time=None),
        "earlier_run_of_the_job_id": replace(job, job_id=other, start_time=None, latest_checkpoint_id=10**9),
        "restored_below_the_tables_checkpoints": replace(
            job, job_id="1" * 32, start_time=None, latest_checkpoint_id=3, restored=RestoreInfo(1)
        ),
    }
    outcomes: dict[str, str] = {}
    for label, j in jobs.items():
        got = [
            IcebergCommitStage(table).evaluate(j, upstream_held=True, policy=policy) for table in (fast, slow)
        ]
        if got[0] != got[1]:
            raise SystemExit(f"{label}: the Iceberg stage differs: {got[0]} vs {got[1]}")
        outcomes[label] = got[0].result.reason.value
    return {"decision": decisions[0].verdict.value, "iceberg_stage": outcomes}


def profile(size: Size) -> str:
    size.table.commit()
    iceberg_metadata._LATEST.clear()
    prof = cProfile.Profile()
    prof.enable()
    size.evaluate()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(18)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one cold evaluation")
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    for conn in ("AIRFLOW_CONN_RTP_DEFAULT", "AIRFLOW_CONN_KAFKA_DEFAULT", "AIRFLOW_CONN_ICEBERG_DEFAULT"):
        if conn not in os.environ:
            raise SystemExit(f"{conn} is not set: run this from `./dev shell`")

    base_ms = (int(time.time()) // 60 - 30) * MINUTE_MS  # 30 minutes ago, within retention
    window = Window(
        datetime.fromtimestamp(base_ms / 1000 + 240, tz=UTC),
        datetime.fromtimestamp(base_ms / 1000 + 300, tz=UTC),
    )
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=1))
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    cat = catalog()
    namespace = f"bench_eval_{uuid.uuid4().hex[:8]}"
    topics: list[str] = []
    job_id = None
    tables: list[SyntheticTable] = []
    try:
        start = time.perf_counter()
        big_topic, big_group = make_topic(1024, base_ms)
        topics.append(big_topic)
        small_topic, small_group = make_topic(8, base_ms)
        topics.append(small_topic)
        job_name, job_id = start_job(gateway, rest)
        job_start_ms = rest.list_jobs()
        job_start = next(j.start_time_ms for j in job_start_ms if j.job_id == job_id)
        cat.create_namespace(namespace)
        big = SyntheticTable(cat, f"{namespace}.big", 20_000, job_id, job_start)
        tables.append(big)
        small = SyntheticTable(cat, f"{namespace}.small", 100, job_id, job_start)
        tables.append(small)
        print(f"built topics, job {job_name} ({job_id}) and tables in {time.perf_counter() - start:.1f} s")
        meta_mb = Path(urlparse(big.metadata_location).path).stat().st_size / 1e6

        sizes = {
            "1024_partitions_20000_snapshots": Size(
                "big", Pipeline(f"{namespace}.big", (big_topic,), big_group, job_name), big, window, policy
            ),
            "8_partitions_100_snapshots": Size(
                "small",
                Pipeline(f"{namespace}.small", (small_topic,), small_group, job_name),
                small,
                window,
                policy,
            ),
        }
        result = sizes["1024_partitions_20000_snapshots"].evaluate()
        print(result.report.splitlines()[0], f"covering snapshot {result.snapshot_id}")
        loads = big.check_loads(result.snapshot_id)
        print(
            f"pyiceberg load_table of the big table: {loads['snapshots']:,} snapshots in "
            f"{loads['pyiceberg_load_table_s']:.2f} s; scan at the covering snapshot: "
            f"{loads['scan_rows']} rows"
        )

        big_size = sizes["1024_partitions_20000_snapshots"]
        agree = same_decisions(big_size)
        print(f"fast reader vs pyiceberg load_table: same decision ({agree})")
        timings = {label: measure(size, args.runs) for label, size in sizes.items()}
        phase_s = phases(big_size, args.runs)
        big_raw = Path(urlparse(big.metadata_location).path).read_bytes()
        floor = median_s(lambda: json.loads(big_raw), args.runs)  # last: its garbage would tax the others
        counted = {label: [round_trips(size) for _ in range(3)] for label, size in sizes.items()}
        trips = {label: spread(rts) for label, rts in counted.items()}
        big_trips, small_trips = trips.values()
        # Requests grow when the big size needs more than the small one ever needed, setup aside.
        grows = (
            any(
                big_trips[kind].get(name, [0, 0])[0] > small_trips[kind].get(name, [0, 0])[1]
                for kind in (
                    "flink_rest",
                    "kafka_admin_calls",
                    "kafka_protocol_requests",
                    "catalog_sql_statements",
                )
                for name in big_trips[kind]
            )
            or big_trips["metadata_file_reads"][0] > small_trips["metadata_file_reads"][1]
        )
        if args.profile:
            print(profile(sizes["1024_partitions_20000_snapshots"]))
        for size in sizes.values():
            size.clients.close()

        figures = {
            "runs": args.runs,
            "big_metadata_file_mb": round(meta_mb, 1),
            "pyiceberg_check": loads,
            "evaluation_s": timings,
            # The same run's floor for reading the log: stdlib json of the whole metadata file.
            "floor_json_loads_s": floor,
            "cold_phases_s": phase_s,
            "fast_reader_decides_as_pyiceberg": agree,
            "round_trips": trips,
            "round_trips_total": {
                label: [min(map(total_round_trips, rts)), max(map(total_round_trips, rts))]
                for label, rts in counted.items()
            },
            "round_trips_grow_with_size": grows,
            "goal_median_s": {"cold": 0.25, "same_file": 0.15},
            # The stack (Kafka, Flink, PostgreSQL) and other work share this machine's cores.
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        for label, t in timings.items():
            print(
                f"{label:<34} median wall (cpu) new file {t['new_file']['median_s']:.3f} "
                f"({t['new_file']['median_cpu_s']:.3f}) s, same file {t['same_file']['median_s']:.3f} "
                f"({t['same_file']['median_cpu_s']:.3f}) s, cold {t['cold']['median_s']:.3f} "
                f"({t['cold']['median_cpu_s']:.3f}) s; gc pauses (median) "
                + ", ".join(f"{case} {t[case]['median_gc_pause_s']:.3f} s" for case in t)
                + "; full collections "
                + ", ".join(f"{case} {t[case]['full_gc_collections']}/{args.runs}" for case in t)
            )
        print(f"floor (json.loads of the {meta_mb:.1f} MB metadata file): {floor:.3f} s")
        print("cold phases (median s): " + ", ".join(f"{k} {v:.4f}" for k, v in phase_s.items()))
        print(f"load average (1, 5, 15 min) at the end: {figures['load_average']}")
        for label, rt in trips.items():
            total = figures["round_trips_total"][label]
            print(f"round trips {label:<34} {total[0]}..{total[1]} (min..max of 3): {json.dumps(rt)}")
        print(f"round trips grow with partitions and snapshots: {figures['round_trips_grow_with_size']}")
        versions = stack_versions()
        print(f"wrote {write_results(__file__, figures, versions)}")
    finally:
        cleanup(cat, namespace, tables, topics, rest, job_id)
        rest.close()
        gateway.close()


def cleanup(
    cat: SqlCatalog,
    namespace: str,
    tables: list[SyntheticTable],
    topics: list[str],
    rest: FlinkRestClient,
    job_id: str | None,
) -> None:
    for table in tables:
        try:
            cat.drop_table(table.identifier)
        finally:
            shutil.rmtree(urlparse(table.location).path, ignore_errors=True)
    for table in tables[:1]:  # the namespace's folder in the warehouse, once its tables are gone
        with contextlib.suppress(OSError):
            Path(urlparse(table.location).path).parent.rmdir()
    try:
        if cat.namespace_exists(namespace):
            cat.drop_namespace(namespace)
    except Exception as exc:  # leave a note rather than hide the figures
        print(f"could not drop namespace {namespace}: {exc}")
    if topics:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.delete_topics(topics, operation_timeout=120).values():
            fut.result(180)
    if job_id:
        rest.cancel(job_id)
        rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60)


if __name__ == "__main__":
    main()
