"""The stack's Kafka really works: produce/consume, group commits, offsets_for_times."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.stack import kafka_bootstrap

BASE_MS = 1_764_000_000_000  # a fixed instant: record timestamps are set explicitly


def _topic(partitions: int = 2) -> str:
    name = f"it-stack-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(30)
    return name


def _produce(topic: str, n: int, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": kafka_bootstrap(), "enable.idempotence": True})
    for i in range(n):
        producer.produce(topic, key=str(i), value=f"v{i}", partition=partition, timestamp=BASE_MS + i * 1000)
    assert producer.flush(30) == 0


def _consumer(group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": kafka_bootstrap(),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )


def test_produce_consume_and_group_commit() -> None:
    topic, group = _topic(), f"it-group-{uuid.uuid4().hex[:6]}"
    _produce(topic, 10)
    consumer = _consumer(group)
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values = []
        while len(values) < 6:
            msg = consumer.poll(10)
            assert msg is not None, "no record within 10s"
            if msg.error():
                raise KafkaException(msg.error())
            values.append(msg.value().decode())
            assert msg.timestamp()[1] == BASE_MS + (len(values) - 1) * 1000
        assert values == [f"v{i}" for i in range(6)]
        consumer.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
    finally:
        consumer.close()
    fresh = _consumer(group)
    try:
        committed = fresh.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        assert [tp.offset for tp in committed] == [6, -1001]  # -1001: nothing committed on p1
    finally:
        fresh.close()


def test_offsets_for_times_returns_first_offset_at_or_after_timestamp() -> None:
    topic = _topic()
    _produce(topic, 10)
    consumer = _consumer(f"it-oft-{uuid.uuid4().hex[:6]}")
    try:
        asked = [
            TopicPartition(topic, 0, BASE_MS + 3_000),  # exactly record 3
            TopicPartition(topic, 0, BASE_MS + 3_500),  # between 3 and 4 -> 4
            TopicPartition(topic, 0, BASE_MS + 99_000),  # after the last record -> end (-1)
            TopicPartition(topic, 1, BASE_MS),  # empty partition -> -1
        ]
        got = []
        for tp in asked:
            got.append(consumer.offsets_for_times([tp], timeout=10)[0].offset)
        assert got == [3, 4, -1, -1]
    finally:
        consumer.close()
