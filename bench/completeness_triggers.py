"""1,000 completeness triggers over 20 pipelines in one triggerer-like process, on the real stack.

    ./dev shell
    python bench/completeness_triggers.py        # --triggers 1000 --pipelines 20 --minutes 4

Builds 20 pipelines of its own (unique names, all removed at the end): per pipeline a
Kafka topic (8 partitions, a record a minute per partition over the last hour), a consumer
group that committed the first 7 minutes, and an Iceberg table in the stack's JDBC catalog
with 2,000 Flink snapshots (see bench/completeness_eval.py); all 20 name one Flink SQL job
(datagen -> blackhole) as their ingestion job. While the triggers run, every table gets a
new Flink commit (a new metadata file) every 30 s from this parent process.

A child process plays the triggerer: one asyncio event loop drives ``IngestionCompleteTrigger.run()``
for 1,000 triggers (50 per pipeline: consecutive one-minute windows of a backfill, the first
few complete, the rest waiting on Kafka), started one after another over the first poke
interval as deferring tasks would, each polling every 60 s. Connections come from the
``AIRFLOW_CONN_*`` variables ``./dev shell`` sets, fetched by the triggers with
``BaseHook.aget_connection``. It records the latency of every evaluation a trigger asks for
(queueing for an evaluation slot included), its resident memory and threads every second
and its peak RSS. Figures go to bench/results/completeness_triggers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MINUTE_MS = 60_000
RECORDS = 60  # a record a minute per partition over the last hour
COMMITTED = 7  # the group consumed the first 7 minutes
PARTITIONS = 8
SNAPSHOTS = 2_000
COMMIT_EVERY_S = 30


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- the triggerer (child process) -------------------------------------------------------------


def _memory() -> tuple[int, int, int]:
    """(VmRSS, VmHWM, Threads) of this process, bytes and count."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return int(fields["VmRSS"][0]) * 1024, int(fields["VmHWM"][0]) * 1024, int(fields["Threads"][0])


async def run_triggerer(spec: dict[str, Any]) -> dict[str, Any]:
    from airflow_provider_rtp.completeness import Pipeline, Policy, Window
    from airflow_provider_rtp.evaluation import CompletenessCheck
    from airflow_provider_rtp.triggers import _shared, ingestion
    from airflow_provider_rtp.triggers.ingestion import IngestionCompleteTrigger

    base_rss, _, base_threads = _memory()
    latencies: list[float] = []
    finished_at: list[float] = []
    original = ingestion._evaluate

    async def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            latencies.append(time.perf_counter() - start)
            finished_at.append(time.monotonic())

    ingestion._evaluate = timed_evaluate  # type: ignore[assignment]
    # Evaluations actually run (identical waiting ones share one): counted where the shared
    # loop hands them to a worker thread.
    runs = [0]
    run_check = _shared.run_check

    def counted_run_check(*args: Any, **kwargs: Any) -> Any:
        runs[0] += 1
        return run_check(*args, **kwargs)

    _shared.run_check = counted_run_check  # type: ignore[assignment]
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=1))
    base = datetime.fromtimestamp(spec["base_ms"] / 1000, tz=UTC)
    triggers = []
    per_pipeline = spec["triggers"] // len(spec["pipelines"])
    for k in range(per_pipeline):  # interleaved: pipeline by pipeline, window after window
        for p in spec["pipelines"]:
            check = CompletenessCheck(Pipeline(p["table"], (p["topic"],), p["group"], p["job"]), policy)
            window = Window(base + timedelta(minutes=k), base + timedelta(minutes=k + 1))
            triggers.append(
                IngestionCompleteTrigger(
                    check=check.to_dict(), window=window.to_dict(), poke_interval=spec["poke_interval"]
                )
            )
    events: dict[str, int] = {}

    async def drive(trigger: IngestionCompleteTrigger, delay: float) -> None:
        await asyncio.sleep(delay)
        async for event in trigger.run():
            status = event.payload["status"]
            events[status] = events.get(status, 0) + 1
            if status == "error":
                print(event.payload["message"], file=sys.stderr)
            return

    samples: list[tuple[int, int]] = []
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            rss, _, threads = _memory()
            samples.append((rss, threads))
            await asyncio.sleep(1)

    started = time.monotonic()
    cpu = time.process_time()
    sampler = asyncio.create_task(sample())
    spread = spec["poke_interval"]  # deferring one after another over one poke interval
    tasks = [asyncio.create_task(drive(t, spread * i / len(triggers))) for i, t in enumerate(triggers)]
    await asyncio.wait(tasks, timeout=spec["seconds"])
    running = sum(1 for t in tasks if not t.done())
    for t in tasks:
        t.cancel()  # as the triggerer cancels triggers it no longer runs
    await asyncio.gather(*tasks, return_exceptions=True)
    stop.set()
    await sampler
    elapsed = time.monotonic() - started
    client_sets = len(_shared._state().clients)
    _, hwm, _ = _memory()
    # Steady state: after every trigger has started and evaluated once.
    steady = [x for x, at in zip(latencies, finished_at, strict=True) if at - started > spread + 5]
    return {
        "triggers": len(triggers),
        "pipelines": len(spec["pipelines"]),
        "poke_interval_s": spec["poke_interval"],
        "run_s": round(elapsed, 1),
        "evaluations_asked": len(latencies),
        "evaluations_run": runs[0],
        "client_sets_open_at_end": client_sets,
        "max_concurrent_evaluations": _shared.MAX_CONCURRENT_EVALUATIONS,
        "events": events,
        "still_waiting_at_end": running,
        "latency_s": {
            "p50": statistics.median(latencies),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
        },
        "latency_after_first_interval_s": {
            "count": len(steady),
            "p50": statistics.median(steady) if steady else None,
            "p95": percentile(steady, 0.95),
        },
        "rss_bytes": {"before_triggers": base_rss, "peak": hwm, "max_sampled": max(s[0] for s in samples)},
        "rss_mb": {"before_triggers": round(base_rss / 2**20), "peak": round(hwm / 2**20)},
        "threads": {"before_triggers": base_threads, "max_sampled": max(s[1] for s in samples)},
        "cpu_s": round(time.process_time() - cpu, 1),
    }


# -- the world (parent process) ----------------------------------------------------------------


def build(world: dict[str, Any], n_pipelines: int, base_ms: int) -> None:
    """Fills ``world`` as it goes, so that a failure half-way still cleans up what was made."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, SqlGatewayClient
    from bench.completeness_eval import SyntheticTable, catalog, start_job
    from tests.stack import flink_rest_url, kafka_bootstrap, sql_gateway_url

    run = uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    topics = [f"bench-trig-{run}-{i:02d}" for i in range(n_pipelines)]
    for fut in admin.create_topics(
        [NewTopic(t, PARTITIONS, 1) for t in topics], operation_timeout=120
    ).values():
        fut.result(180)
    world["topics"] = topics
    producer = Producer({"bootstrap.servers": kafka_bootstrap(), "linger.ms": 50})
    for topic in topics:
        for p in range(PARTITIONS):
            for i in range(RECORDS):
                producer.produce(topic, value=b"r", partition=p, timestamp=base_ms + i * MINUTE_MS + p)
        producer.poll(0)
    producer.flush(120)
    groups = [f"bench-trig-group-{run}-{i:02d}" for i in range(n_pipelines)]
    for topic, group in zip(topics, groups, strict=True):
        consumer = Consumer(
            {"bootstrap.servers": kafka_bootstrap(), "group.id": group, "enable.auto.commit": False}
        )
        try:
            offsets = [TopicPartition(topic, p, COMMITTED) for p in range(PARTITIONS)]
            consumer.commit(offsets=offsets, asynchronous=False)
        finally:
            consumer.close()
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        job_name, job_id = start_job(gateway, rest)
        world["job_id"] = job_id
        job_start = next(j.start_time_ms for j in rest.list_jobs() if j.job_id == job_id)
    finally:
        rest.close()
        gateway.close()
    cat = catalog()
    namespace = f"bench_trig_{run}"
    cat.create_namespace(namespace)
    world["namespace"] = namespace
    for i in range(n_pipelines):
        world["tables"].append(SyntheticTable(cat, f"{namespace}.t{i:02d}", SNAPSHOTS, job_id, job_start))
    world["catalog"] = cat
    world["pipelines"] = [
        {"table": t.identifier, "topic": topic, "group": group, "job": job_name}
        for t, topic, group in zip(world["tables"], topics, groups, strict=True)
    ]


def commit_loop(tables: list[Any], stop: threading.Event, counts: list[int]) -> None:
    while not stop.wait(COMMIT_EVERY_S):
        for table in tables:
            table.commit()
            counts[0] += 1


def teardown(world: dict[str, Any]) -> None:
    from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
    from bench.completeness_eval import cleanup
    from tests.stack import flink_rest_url

    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    try:
        cat = world.get("catalog")
        if cat is None:
            from bench.completeness_eval import catalog

            cat = catalog()
        cleanup(cat, world["namespace"] or "", world["tables"], world["topics"], rest, world["job_id"])
    finally:
        rest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--poke-interval", type=float, default=60)
    parser.add_argument("--triggerer", help=argparse.SUPPRESS)  # the child: spec file in, figures out
    args = parser.parse_args()
    if args.triggerer:
        spec = json.loads(Path(args.triggerer).read_text())
        figures = asyncio.run(run_triggerer(spec))
        Path(spec["out"]).write_text(json.dumps(figures))
        return

    for conn in ("AIRFLOW_CONN_RTP_DEFAULT", "AIRFLOW_CONN_KAFKA_DEFAULT", "AIRFLOW_CONN_ICEBERG_DEFAULT"):
        if conn not in os.environ:
            raise SystemExit(f"{conn} is not set: run this from `./dev shell`")
    from bench._results import write_results
    from bench.completeness_eval import stack_versions

    base_ms = (int(time.time()) // 60 - 60) * MINUTE_MS
    world: dict[str, Any] = {"topics": [], "tables": [], "job_id": None, "namespace": None}
    stop = threading.Event()
    commits = [0]
    try:
        start = time.perf_counter()
        build(world, args.pipelines, base_ms)
        print(f"built {args.pipelines} pipelines in {time.perf_counter() - start:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            spec = {
                "pipelines": world["pipelines"],
                "base_ms": base_ms,
                "triggers": args.triggers,
                "poke_interval": args.poke_interval,
                "seconds": args.minutes * 60,
                "out": f"{tmp}/figures.json",
            }
            Path(f"{tmp}/spec.json").write_text(json.dumps(spec))
            committer = threading.Thread(
                target=commit_loop, args=(world["tables"], stop, commits), daemon=True
            )
            committer.start()
            log = Path(tmp) / "triggerer.log"
            with log.open("w") as out:
                child = subprocess.run(
                    [sys.executable, __file__, "--triggerer", f"{tmp}/spec.json"], stdout=out, stderr=out
                )
            stop.set()
            committer.join()
            if child.returncode != 0:
                print(log.read_text()[-5000:])
                raise SystemExit(f"the triggerer process failed ({child.returncode})")
            errors = [line for line in log.read_text().splitlines() if "Error" in line][:5]
            figures = json.loads(Path(spec["out"]).read_text())
        figures["table_commits_during_run"] = commits[0]
        figures["snapshots_per_table"] = SNAPSHOTS
        figures["partitions_per_topic"] = PARTITIONS
        figures["pipelines_built"] = "20 own: topic, group and table each; one shared Flink job"
        figures["goals"] = {"p95_s": 2.0, "rss_mb": 500}
        figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
        lat = figures["latency_s"]
        print(
            f"{figures['triggers']} triggers over {figures['pipelines']} pipelines, {figures['run_s']} s: "
            f"{figures['evaluations_asked']} evaluations asked, {figures['evaluations_run']} run; "
            f"events {figures['events']}, {figures['still_waiting_at_end']} still waiting"
        )
        print(
            f"latency p50 {lat['p50']:.3f} s, p95 {lat['p95']:.3f} s, p99 {lat['p99']:.3f} s, "
            f"max {lat['max']:.3f} s (after the first interval: p95 "
            f"{figures['latency_after_first_interval_s']['p95']:.3f} s)"
        )
        print(
            f"RSS {figures['rss_mb']['before_triggers']} MB before the triggers, "
            f"peak {figures['rss_mb']['peak']} MB; "
            f"threads {figures['threads']}; CPU {figures['cpu_s']} s; load average {figures['load_average']}"
        )
        for line in errors:
            print(f"triggerer log: {line}")
        versions = stack_versions()
        print(f"wrote {write_results(__file__, figures, versions)}")
    finally:
        stop.set()
        teardown(world)


if __name__ == "__main__":
    main()
