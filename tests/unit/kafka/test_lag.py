"""A group reading on plain data: statuses, lag from a reading, offsets answers."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from confluent_kafka import TopicPartition

from airflow_provider_rtp.exceptions import KafkaError
from airflow_provider_rtp.kafka import PartitionStatus
from airflow_provider_rtp.kafka.lag import _lag, _lagging, _offsets_in_order, _status
from tests.unit.kafka.builders import NOW
from tests.unit.kafka.builders import reading as _reading


def test_status_from_the_first_record_after_the_committed_offset() -> None:
    assert _status(None, 10, (10, -1)) == (PartitionStatus.NO_COMMIT, None, None)
    assert _status(4, 10, None) == (PartitionStatus.UNKNOWN, None, None)  # not read in time
    assert _status(10, 10, (10, -1)) == (PartitionStatus.CAUGHT_UP, None, None)  # nothing to read
    # Only a transaction marker before the end: caught up, not lagging.
    assert _status(9, 10, (10, -1)) == (PartitionStatus.CAUGHT_UP, None, None)
    assert _status(4, 10, (5, NOW - 7)) == (PartitionStatus.LAGGING, 5, NOW - 7)


def test_lagging_partitions_are_read_from_the_log_start_where_retention_deleted_the_commit() -> None:
    tps = [TopicPartition("t", p) for p in range(4)]
    committed = {("t", 0): 1, ("t", 1): 6, ("t", 2): 9}  # partition 3: no commit
    positions, ends = _lagging(tps, [5, 5, 0, 0], [9, 9, 9, 9], committed)
    assert positions == {("t", 0): 5, ("t", 1): 6}  # 2 is caught up, 3 committed nothing
    assert ends == {("t", 0): 9, ("t", 1): 9}


def test_lag_of_each_status() -> None:
    caught_up = _lag(_reading(PartitionStatus.CAUGHT_UP, 9), NOW, went_backwards=False)
    assert (caught_up.offset_lag, caught_up.consumed_through_ms, caught_up.time_lag_ms) == (1, NOW, 0)
    lagging = _lag(
        _reading(PartitionStatus.LAGGING, 4, first_unconsumed_offset=5, first_unconsumed_ms=NOW - 900),
        NOW,
        went_backwards=True,
    )
    assert (lagging.first_unconsumed_offset, lagging.consumed_through_ms, lagging.time_lag_ms) == (
        5,
        NOW - 900,
        900,
    )
    assert lagging.went_backwards and not lagging.retention_gap
    unknown = _lag(_reading(PartitionStatus.UNKNOWN, 1), NOW, went_backwards=False)
    assert unknown.consumed_through_ms is None and unknown.retention_gap and unknown.offset_lag == 9
    missing = _lag(_reading(PartitionStatus.NO_COMMIT, None), NOW, went_backwards=False)
    assert missing.offset_lag is None and missing.consumed_through_ms is None


class _Answer(NamedTuple):  # what offsets_for_times hands back per partition
    topic: str
    partition: int
    offset: int
    error: Any = None


class _Error:
    def str(self) -> str:
        return "Broker: Not leader for partition"


def test_offsets_answer_is_taken_in_the_order_asked_and_checked() -> None:
    asked = [TopicPartition("t", 0), TopicPartition("t", 1)]
    assert _offsets_in_order(asked, [_Answer("t", 0, 7), _Answer("t", 1, -1)]) == [7, -1]  # type: ignore[list-item]
    with pytest.raises(KafkaError, match=r"t\[1\] where t\[0\] was asked"):
        _offsets_in_order(asked, [_Answer("t", 1, 7), _Answer("t", 0, 7)])  # type: ignore[list-item]
    with pytest.raises(KafkaError, match="1 partitions for 2 asked"):
        _offsets_in_order(asked, [_Answer("t", 0, 7)])  # type: ignore[list-item]
    with pytest.raises(KafkaError, match=r"t\[1\]: Broker: Not leader"):
        _offsets_in_order(asked, [_Answer("t", 0, 7), _Answer("t", 1, -1, _Error())])  # type: ignore[list-item]


def test_a_partition_error_while_a_broker_restarts_is_transient() -> None:
    from confluent_kafka import KafkaError as CKafkaError
    from confluent_kafka import TopicPartition

    from airflow_provider_rtp.exceptions import KafkaError
    from airflow_provider_rtp.kafka import is_transient_kafka_error
    from airflow_provider_rtp.kafka.lag import _offsets_in_order

    class Answer:  # what offsets_for_times hands back for one partition
        topic, partition, offset = "t", 0, -1
        error = CKafkaError(CKafkaError.UNKNOWN_LEADER_EPOCH)

    failed = Answer()
    try:
        _offsets_in_order([TopicPartition("t", 0)], [failed])  # type: ignore[list-item]
    except KafkaError as exc:
        assert is_transient_kafka_error(exc)
    else:
        raise AssertionError("a partition error must raise")
