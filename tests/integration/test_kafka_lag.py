"""KafkaLagReader against the real broker: offsets, time lag, transactions, bad input."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from airflow_provider_rtp.exceptions import KafkaError
from airflow_provider_rtp.kafka import KafkaLagReader, PartitionStatus
from tests.stack import kafka_bootstrap, stack_env

# Recent: records stamped older than the topic's retention (7 days) may be deleted under the test.
BASE_MS = (int(time.time()) - 3600) * 1000


_CREATED: list[str] = []


def _topic(partitions: int) -> str:
    name = f"it-lag-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(30)
    _CREATED.append(name)
    return name


@pytest.fixture(scope="module", autouse=True)
def _delete_topics():
    yield
    if _CREATED:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.delete_topics(list(_CREATED)).values():
            fut.result(30)


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
    theirs = _cli_lags(group, topic)
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
    # The offset lag still counts the commit marker, as the CLI does; the status and time lag do not.
    assert {0: part.offset_lag} == _cli_lags(group, topic) == {0: 1}


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


def test_missing_group_is_explicit_never_lag_zero(reader: KafkaLagReader) -> None:
    topic = _topic(2)
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    p.produce(topic, value=b"x", partition=0)
    p.flush(30)
    lag = reader.group_lag(f"it-no-such-group-{uuid.uuid4().hex[:6]}", [topic])
    assert lag.group_missing and lag.group_state == "DEAD"
    assert {pl.status for pl in lag.partitions} == {PartitionStatus.NO_COMMIT}
    assert lag.consumed_through_ms is None and lag.summary()["time_lag_ms"] is None


def test_reset_is_reported(reader: KafkaLagReader) -> None:
    topic, group = _topic(1), f"it-g-{uuid.uuid4().hex[:6]}"
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(10):
        p.produce(topic, value=b"x", partition=0, timestamp=BASE_MS + i)
    p.flush(30)
    _commit(group, [TopicPartition(topic, 0, 8)])
    assert not reader.group_lag(group, [topic]).partitions[0].went_backwards
    _commit(group, [TopicPartition(topic, 0, 3)])  # e.g. kafka-consumer-groups --reset-offsets
    part = reader.group_lag(group, [topic]).partitions[0]
    assert part.went_backwards and part.offset_lag == 7
    assert reader.group_lag(group, [topic]).summary()["went_backwards"] == []  # reported once


def test_retention_gap_is_flagged_and_lag_read_from_log_start(reader: KafkaLagReader) -> None:
    topic, group = _topic(1), f"it-g-{uuid.uuid4().hex[:6]}"
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(10):
        p.produce(topic, value=b"x", partition=0, timestamp=BASE_MS + i * 1000)
    p.flush(30)
    _commit(group, [TopicPartition(topic, 0, 2)])
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
    for fut in admin.delete_records([TopicPartition(topic, 0, 6)]).values():
        fut.result(30)  # what retention does: records 0..5 are gone
    part = reader.group_lag(group, [topic], now_ms=BASE_MS + 20_000).partitions[0]
    assert (part.log_start, part.committed, part.retention_gap) == (6, 2, True)
    # The first record still there, not a reset-to-end probe that would claim "caught up".
    assert part.status is PartitionStatus.LAGGING and part.first_unconsumed_offset == 6
    assert part.first_unconsumed_ms == BASE_MS + 6000 and part.time_lag_ms == 14_000


def test_hook_on_an_official_kafka_connection_matches_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_rtp.hooks.kafka import KafkaHook

    topic, group = _topic(3), f"it-g-{uuid.uuid4().hex[:6]}"
    conn = {"conn_type": "kafka", "extra": {"bootstrap.servers": kafka_bootstrap(), "group.id": group}}
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_IT_LAG", json.dumps(conn))
    p = Producer({"bootstrap.servers": kafka_bootstrap()})
    for i in range(30):
        p.produce(topic, value=b"v", partition=i % 3, timestamp=BASE_MS + i * 1000)
    p.flush(30)
    _commit(group, [TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 2), TopicPartition(topic, 2, 5)])
    hook = KafkaHook("kafka_it_lag")
    try:
        summary = hook.group_summary([topic])
        assert summary["total_offset_lag"] == 0 + 8 + 5
        slowest = hook.slowest_partition([topic])
        # Partition 1's first unconsumed record is offset 2 = the 8th record produced (i = 7).
        assert (slowest.partition, slowest.first_unconsumed_ms) == (1, BASE_MS + 7000)
        ours = {pl.partition: pl.offset_lag for pl in hook.partition_lags([topic])}
        assert ours == _cli_lags(group, topic)
        when = datetime.fromtimestamp((BASE_MS + 20_500) / 1000, UTC)
        assert hook.offsets_for_times([topic], when) == {(topic, 0): 7, (topic, 1): 7, (topic, 2): 7}
    finally:
        hook.close()


def _cli_lags(group: str, topic: str) -> dict[int, int]:
    cli = f"{stack_env()['RTP_CACHE']}/kafka-{_kafka_version()}/bin/kafka-consumer-groups"
    out = subprocess.run(
        [cli, "--bootstrap-server", kafka_bootstrap(), "--describe", "--group", group],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {
        int(c[2]): int(c[5])
        for c in (line.split() for line in out.splitlines())
        if len(c) >= 6 and c[1] == topic
    }


def _kafka_version() -> str:
    from tests.stack import REPO

    for line in (REPO / "stack" / "versions.env").read_text().splitlines():
        if line.startswith("KAFKA_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("KAFKA_VERSION not pinned")
