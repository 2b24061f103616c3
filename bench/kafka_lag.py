"""Consumer-group lag over 1,024 partitions: our Kafka hook vs ``kafka-consumer-groups --describe``.

    python bench/kafka_lag.py            # needs the local stack (stack/rtp-stack up)

Creates a topic with 1,024 partitions (unique name), produces records with known
timestamps, commits offsets for a group partway (about half the partitions lag),
then measures the group's lag five times with each tool in the same run and
compares the offset lags partition by partition (they must be identical). Our
hook is timed cold (a new hook and clients per measurement, as the CLI starts a
new JVM each time) and warm (one hook reused, as an exporter does).

Broker round trips are counted from librdkafka's own statistics (requests sent,
by type, over every client the reader opens), for 64 and for 1,024 partitions:
the batched admin requests must not grow with the partition count. The topics
are deleted at the end. Figures go to bench/results/kafka_lag.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench._kafka_requests import RequestCountingReader
from bench._results import write_results
from tests.stack import REPO, kafka_bootstrap, stack_env

RUNS = 5
RECORDS_PER_PARTITION = 20
BASE_MS = (int(time.time()) - 3600) * 1000  # within retention, so nothing is deleted under us


def _versions_env() -> dict[str, str]:
    lines = (REPO / "stack" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _cli() -> str:
    return f"{stack_env()['RTP_CACHE']}/kafka-{_versions_env()['KAFKA_VERSION']}/bin/kafka-consumer-groups"


def make_topic(partitions: int) -> tuple[str, str, dict[int, int]]:
    """A topic, a group that committed partway, and the expected offset lag per partition."""
    topic = f"bench-lag-{partitions}-{uuid.uuid4().hex[:8]}"
    group = f"bench-lag-group-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=120).values():
        fut.result(180)
    # Idempotent: a retried batch on a busy broker must not add duplicates to the known offsets.
    producer = Producer({"bootstrap.servers": kafka_bootstrap(), "linger.ms": 50, "enable.idempotence": True})
    for p in range(partitions):
        for i in range(RECORDS_PER_PARTITION):
            producer.produce(topic, value=b"r", partition=p, timestamp=BASE_MS + i * 1000 + p)
        producer.poll(0)
    if producer.flush(300):
        raise RuntimeError(f"producing to {topic} did not finish")
    # Even partitions are caught up, odd ones committed somewhere in the middle.
    committed = {
        p: RECORDS_PER_PARTITION if p % 2 == 0 else (p * 7) % RECORDS_PER_PARTITION for p in range(partitions)
    }
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap(), "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in committed.items()], asynchronous=False
        )
    finally:
        consumer.close()
    return topic, group, {p: RECORDS_PER_PARTITION - o for p, o in committed.items()}


def delete_topics(topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.delete_topics(topics, operation_timeout=120).values():
        fut.result(180)


def cli_lags(group: str, topic: str) -> dict[int, int]:
    out = subprocess.run(
        [_cli(), "--bootstrap-server", kafka_bootstrap(), "--describe", "--group", group],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return {int(c[2]): int(c[5]) for c in rows if len(c) >= 6 and c[1] == topic}


def hook_lags(hook: Any, group: str, topic: str) -> dict[int, int | None]:
    return {pl.partition: pl.offset_lag for pl in hook.group_lag([topic], group).partitions}


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - start, 4), out


def count_requests(group: str, topic: str) -> dict[str, Any]:
    """Requests of one lag measurement: admin calls made, and requests sent to the brokers by type
    as librdkafka's statistics count them (summed over the admin client and the probe consumer;
    its counters leave out the OffsetFetch that list_consumer_group_offsets sends)."""
    reader = RequestCountingReader({"bootstrap.servers": kafka_bootstrap()})
    try:
        reader.group_lag(group, [topic])
        return {"admin_calls": reader.admin_calls(), "protocol_requests": reader.protocol_requests()}
    finally:
        reader.close()


# Connection set-up, not measurement: ApiVersion once per connection, and FindCoordinator, which
# the probe consumer repeats on its own timer for its (unused) group id, so its count varies with
# timing from run to run at any partition count.
_SETUP_REQUESTS = ("ApiVersion", "FindCoordinator")


def _comparable(requests: dict[str, Any]) -> dict[str, Any]:
    protocol = {k: v for k, v in requests["protocol_requests"].items() if k not in _SETUP_REQUESTS}
    return {"admin_calls": requests["admin_calls"], "protocol_requests": protocol}


def main() -> None:
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    conn = {"conn_type": "kafka", "extra": {"bootstrap.servers": kafka_bootstrap()}}
    os.environ["AIRFLOW_CONN_BENCH_KAFKA"] = json.dumps(conn)
    from airflow_provider_rtp.hooks.kafka import KafkaHook

    created: list[str] = []
    try:
        t_create, (topic, group, expected) = timed(lambda: make_topic(1024))
        created.append(topic)
        small_topic, small_group, _ = make_topic(64)
        created.append(small_topic)
        print(f"topic {topic}: 1,024 partitions, {1024 * RECORDS_PER_PARTITION:,} records ({t_create:.1f} s)")

        cold: list[float] = []
        warm: list[float] = []
        cli: list[float] = []
        warm_hook = KafkaHook("bench_kafka")
        hook_lags(warm_hook, group, topic)  # first use opens the clients
        identical = True
        ours: dict[int, int | None] = {}
        theirs: dict[int, int] = {}
        for _ in range(RUNS):  # interleaved, so both tools see the same broker load
            hook = KafkaHook("bench_kafka")
            secs, ours = timed(lambda h=hook: hook_lags(h, group, topic))
            hook.close()
            cold.append(secs)
            secs, warm_ours = timed(lambda: hook_lags(warm_hook, group, topic))
            warm.append(secs)
            secs, theirs = timed(lambda: cli_lags(group, topic))
            cli.append(secs)
            identical = identical and ours == theirs == warm_ours
        warm_hook.close()
        assert len(theirs) == 1024, f"the CLI listed {len(theirs)} partitions"
        assert ours == theirs, "offset lags differ from kafka-consumer-groups --describe"
        assert ours == expected, "offset lags differ from what was committed"

        requests = {"64": count_requests(small_group, small_topic), "1024": count_requests(group, topic)}
        same = _comparable(requests["64"]) == _comparable(requests["1024"])

        figures = {
            "partitions": 1024,
            "records": 1024 * RECORDS_PER_PARTITION,
            "lagging_partitions": sum(1 for v in expected.values() if v),
            "runs": RUNS,
            "hook_cold_s": {"median": statistics.median(cold), "all": cold},
            "hook_warm_s": {"median": statistics.median(warm), "all": warm},
            "kafka_consumer_groups_describe_s": {"median": statistics.median(cli), "all": cli},
            "speedup_cold": round(statistics.median(cli) / statistics.median(cold), 1),
            "speedup_warm": round(statistics.median(cli) / statistics.median(warm), 1),
            "offset_lags_identical": identical,
            "total_offset_lag": sum(v or 0 for v in ours.values()),
            "requests_by_partition_count": requests,
            "requests_grow_with_partitions": not same,
            "requests_compared_without": list(_SETUP_REQUESTS),
        }
        for label, key, runs in (
            ("hook (cold)", "hook_cold_s", cold),
            ("hook (warm)", "hook_warm_s", warm),
            ("CLI", "kafka_consumer_groups_describe_s", cli),
        ):
            print(f"{label:<12} median {figures[key]['median']:.3f} s  of {[round(x, 3) for x in runs]}")
        print(f"speedup      {figures['speedup_cold']:.1f}x cold, {figures['speedup_warm']:.1f}x warm")
        print(f"offset lags identical to the CLI on all 1,024 partitions: {identical}")
        for n in ("64", "1024"):
            print(f"requests, {n:>4} partitions: {requests[n]}")
        print(f"requests grow with the partition count (set-up requests aside): {not same}")
        versions = {
            "kafka_broker": _versions_env()["KAFKA_VERSION"],
            "confluent_kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0],
        }
        print(f"wrote {write_results(__file__, figures, versions)}")
    finally:
        if created:
            delete_topics(created)


if __name__ == "__main__":
    main()
