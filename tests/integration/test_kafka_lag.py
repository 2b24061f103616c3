"""KafkaLagReader against the real broker: offsets, time lag, transactions, bad input."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from airflow_provider_rtp.exceptions import KafkaError
from airflow_provider_rtp.kafka import KafkaLagReader, PartitionStatus
from tests.stack import kafka_bootstrap, stack_env

BASE_MS = 1_764_000_000_000


def _topic(partitions: int) -> str:
    name = f"it-lag-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(30)
    return name


def _commit(group: str, offsets: list[TopicPartition]) -> None:
    c = Consumer({"bootstrap.servers": kafka_bootstrap(), "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()


@pytest.fixture
def reader() -> KafkaLagReader:
    return KafkaLagReader({"bootstrap.servers": kafka_bootstrap()})


def test_lag_offsets_and_time_from_first_unconsumed_record(reader: KafkaLagReader) -> None:
    topic, group = _topic(3), f"it-g-{uuid.uuid4().hex[:6]}"
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(10):
        p.produce(topic, value=b"x", partition=0, timestamp=BASE_MS + i * 1000)
    for i in range(3):
        p.produce(topic, value=b"y", partition=1, timestamp=BASE_MS + i * 1000)
    p.flush(30)
    _commit(group, [TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 3)])

    lag = reader.group_lag(group, [topic], now_ms=BASE_MS + 60_000)
    by_p = {pl.partition: pl for pl in lag.partitions}
    assert (by_p[0].status, by_p[0].offset_lag, by_p[0].first_unconsumed_ms) == (
        PartitionStatus.LAGGING,
        6,
        BASE_MS + 4000,
    )
    assert by_p[0].time_lag_ms == 56_000
    assert (by_p[1].status, by_p[1].offset_lag, by_p[1].time_lag_ms) == (PartitionStatus.CAUGHT_UP, 0, 0)
    assert by_p[2].status is PartitionStatus.NO_COMMIT and by_p[2].offset_lag is None
    # An uncommitted partition sorts first: it is never taken for "caught up".
    assert lag.slowest.partition == 2 and lag.consumed_through_ms is None


def test_offset_lag_equals_kafka_consumer_groups_describe(reader: KafkaLagReader) -> None:
    topic, group = _topic(4), f"it-g-{uuid.uuid4().hex[:6]}"
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(40):
        p.produce(topic, key=str(i), value=b"v", partition=i % 4)
    p.flush(30)
    _commit(group, [TopicPartition(topic, i, i * 3) for i in range(4)])

    ours = {pl.partition: pl.offset_lag for pl in reader.group_lag(group, [topic]).partitions}
    cli = f"{stack_env()['RTP_CACHE']}/kafka-{_kafka_version()}/bin/kafka-consumer-groups"
    out = subprocess.run(
        [cli, "--bootstrap-server", kafka_bootstrap(), "--describe", "--group", group],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    theirs = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[1] == topic:
            theirs[int(cols[2])] = int(cols[5])
    assert theirs and ours == theirs


def test_caught_up_transactional_consumer_has_zero_time_lag(reader: KafkaLagReader) -> None:
    topic, group = _topic(1), f"it-g-{uuid.uuid4().hex[:6]}"
    p = Producer(
        {"bootstrap.servers": kafka_bootstrap(), "transactional.id": f"it-tx-{uuid.uuid4().hex[:6]}"}
    )
    p.init_transactions(30)
    p.begin_transaction()
    for _ in range(5):
        p.produce(topic, value=b"t", partition=0)
    p.commit_transaction(30)
    # A read_committed consumer that read all 5 records sits one control record short of the end.
    _commit(group, [TopicPartition(topic, 0, 5)])
    part = reader.group_lag(group, [topic]).partitions[0]
    assert part.end == 6 and part.committed == 5
    assert part.status is PartitionStatus.CAUGHT_UP and part.time_lag_ms == 0


def test_unknown_topic_is_named(reader: KafkaLagReader) -> None:
    with pytest.raises(KafkaError, match="no-such-topic-xyz"):
        reader.group_lag("g", ["no-such-topic-xyz"])


def test_offsets_for_times_batch(reader: KafkaLagReader) -> None:
    topic = _topic(2)
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(5):
        p.produce(topic, value=b"x", partition=0, timestamp=BASE_MS + i * 1000)
    p.flush(30)
    got = reader.offsets_for_times([topic], BASE_MS + 2500)
    assert got == {(topic, 0): 3, (topic, 1): None}


def _kafka_version() -> str:
    from tests.stack import REPO

    for line in (REPO / "stack" / "versions.env").read_text().splitlines():
        if line.startswith("KAFKA_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("KAFKA_VERSION not pinned")
