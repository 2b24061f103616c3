"""Read a consumer group's exact lag with batched admin requests.

Round trips do not grow with the partition count: topic metadata, log start
offsets, read_committed end offsets (LSO), timestamp lookups and committed
offsets are each one batched admin request (librdkafka groups them per
broker). Only lagging partitions are read record-wise, all at once through a
single consumer, to find the timestamp of the first unconsumed data record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka import KafkaError as CKafkaError
from confluent_kafka.admin import AdminClient, OffsetSpec

from airflow_provider_rtp.exceptions import KafkaError
from airflow_provider_rtp.kafka.models import GroupLag, PartitionLag, PartitionStatus

__all__ = ["KafkaLagReader"]

NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: nothing committed


class KafkaLagReader:
    """Measures consumer-group lag; ``config`` is a librdkafka client config (bootstrap, security)."""

    def __init__(
        self, config: Mapping[str, Any], *, request_timeout: float = 15.0, fetch_timeout: float = 10.0
    ) -> None:
        if "bootstrap.servers" not in config:
            raise ValueError("Kafka config needs 'bootstrap.servers'")
        self.config = dict(config)
        self.request_timeout = request_timeout
        self.fetch_timeout = fetch_timeout
        self._admin = AdminClient(self.config)
        self._previous: dict[tuple[str, str, int], int] = {}

    # -- batched metadata --------------------------------------------------
    def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        if not topics:
            raise ValueError("at least one topic is needed")
        futures = self._admin.describe_topics(
            TopicCollection(list(topics)), request_timeout=self.request_timeout
        )
        out: list[TopicPartition] = []
        for name, fut in futures.items():
            try:
                desc = fut.result()
            except KafkaException as exc:
                if exc.args and exc.args[0].code() == CKafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise KafkaError(f"Kafka topic {name!r} does not exist") from exc
                raise KafkaError(f"cannot describe Kafka topic {name!r}: {exc}") from exc
            out.extend(TopicPartition(name, p.id) for p in desc.partitions)
        return sorted(out, key=lambda tp: (tp.topic, tp.partition))

    def _list_offsets(self, specs: Mapping[TopicPartition, OffsetSpec]) -> dict[tuple[str, int], int]:
        return self._offsets_result(self._offsets_request(specs))

    def _offsets_request(self, specs: Mapping[TopicPartition, OffsetSpec]) -> dict[TopicPartition, Future]:
        if not specs:
            return {}
        return self._admin.list_offsets(
            dict(specs), isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=self.request_timeout
        )

    @staticmethod
    def _offsets_result(futures: Mapping[TopicPartition, Future]) -> dict[tuple[str, int], int]:
        try:
            return {(tp.topic, tp.partition): fut.result().offset for tp, fut in futures.items()}
        except KafkaException as exc:
            raise KafkaError(f"Kafka list_offsets failed: {exc}") from exc

    def log_start_offsets(self, tps: Iterable[TopicPartition]) -> dict[tuple[str, int], int]:
        return self._list_offsets({_tp(tp): OffsetSpec.earliest() for tp in tps})

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[tuple[str, int], int]:
        """read_committed end offsets: the last stable offset (LSO) of each partition."""
        return self._list_offsets({_tp(tp): OffsetSpec.latest() for tp in tps})

    def offsets_for_times(
        self, topics: Sequence[str], timestamp_ms: int
    ) -> dict[tuple[str, int], int | None]:
        """The first offset whose timestamp is >= ``timestamp_ms``, per partition; None if there is none."""
        tps = self.partitions(topics)
        raw = self._list_offsets({_tp(tp): OffsetSpec.for_timestamp(timestamp_ms) for tp in tps})
        return {k: (v if v >= 0 else None) for k, v in raw.items()}

    def committed_offsets(
        self, group: str, tps: Sequence[TopicPartition]
    ) -> dict[tuple[str, int], int | None]:
        return self._committed_result(group, self._committed_request(group, tps))

    def _committed_request(self, group: str, tps: Sequence[TopicPartition]) -> dict[str, Future]:
        return self._admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, [_tp(tp) for tp in tps])],
            request_timeout=self.request_timeout,
        )

    @staticmethod
    def _committed_result(group: str, futures: Mapping[str, Future]) -> dict[tuple[str, int], int | None]:
        try:
            result = futures[group].result()
        except KafkaException as exc:
            raise KafkaError(f"cannot read committed offsets of group {group!r}: {exc}") from exc
        return {
            (tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None)
            for tp in result.topic_partitions
        }

    def group_state(self, group: str) -> str:
        return self._state_result(group, self._state_request(group))

    def _state_request(self, group: str) -> dict[str, Future]:
        return self._admin.describe_consumer_groups([group], request_timeout=self.request_timeout)

    @staticmethod
    def _state_result(group: str, futures: Mapping[str, Future]) -> str:
        try:
            return str(futures[group].result().state.name)
        except KafkaException as exc:
            return f"UNKNOWN ({exc.args[0].str() if exc.args else exc})"

    # -- the measurement ---------------------------------------------------
    def group_lag(self, group: str, topics: Sequence[str], now_ms: int | None = None) -> GroupLag:
        tps = self.partitions(topics)
        # Independent requests, all in flight at once: the wait is the slowest one, not the sum.
        start_req = self._offsets_request({_tp(tp): OffsetSpec.earliest() for tp in tps})
        end_req = self._offsets_request({_tp(tp): OffsetSpec.latest() for tp in tps})
        committed_req = self._committed_request(group, tps)
        state_req = self._state_request(group)
        start = self._offsets_result(start_req)
        end = self._offsets_result(end_req)
        committed = self._committed_result(group, committed_req)
        state = self._state_result(group, state_req)
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        # Read from the log start where retention deleted the committed offset: a probe assigned
        # below it would be reset to the end by librdkafka and see no lag at all.
        lagging = {k: max(c, start[k]) for k, c in committed.items() if c is not None and c < end[k]}
        firsts = self.first_records(lagging, end)
        parts = []
        for tp in tps:
            key = (tp.topic, tp.partition)
            parts.append(
                self._partition(group, key, start[key], end[key], committed.get(key), firsts, now_ms)
            )
        return GroupLag(
            group=group,
            topics=tuple(topics),
            group_state=state,
            measured_at_ms=now_ms,
            partitions=tuple(parts),
        )

    def _partition(
        self,
        group: str,
        key: tuple[str, int],
        log_start: int,
        end: int,
        committed: int | None,
        firsts: Mapping[tuple[str, int], tuple[int, int] | None],
        now_ms: int,
    ) -> PartitionLag:
        topic, partition = key
        prev = self._previous.get((group, *key))
        went_backwards = committed is not None and prev is not None and committed < prev
        if committed is not None:
            self._previous[(group, *key)] = committed
        if committed is None:
            return PartitionLag(topic, partition, log_start, end, None, PartitionStatus.NO_COMMIT, None)
        offset_lag = max(0, end - committed)
        base = partial(
            PartitionLag,
            topic,
            partition,
            log_start,
            end,
            committed,
            offset_lag=offset_lag,
            went_backwards=went_backwards,
        )
        first = firsts.get(key, (end, -1))  # absent: committed >= end, nothing left to consume
        if first is None:
            return base(PartitionStatus.UNKNOWN, retention_gap=committed < log_start)
        offset, ts = first
        if offset >= end:
            # Only control records (transaction markers, aborted data) lie in [committed, end).
            return base(
                PartitionStatus.CAUGHT_UP,
                consumed_through_ms=now_ms,
                time_lag_ms=0,
                retention_gap=committed < log_start,
            )
        return base(
            PartitionStatus.LAGGING,
            first_unconsumed_offset=offset,
            first_unconsumed_ms=ts,
            consumed_through_ms=ts,
            time_lag_ms=max(0, now_ms - ts),
            retention_gap=committed < log_start,
        )

    def _probe_consumer(self, purpose: str) -> Consumer:
        """A read_committed consumer that only assign()s: it never joins a group and never commits."""
        return Consumer(
            {
                **self.config,
                "group.id": f"rtp-{purpose}-probe-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "max.partition.fetch.bytes": 64 << 10,
            }
        )

    def first_records(
        self, positions: Mapping[tuple[str, int], int], end: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], tuple[int, int] | None]:
        """For each partition, (offset, timestamp) of the first committed data record at or after the
        position, or (end, -1) when only control records lie before ``end``; None if not read in time."""
        if not positions:
            return {}
        consumer = self._probe_consumer("lag")
        found: dict[tuple[str, int], tuple[int, int] | None] = {k: None for k in positions}
        pending = set(positions)
        try:
            consumer.assign([TopicPartition(t, p, off) for (t, p), off in positions.items()])
            deadline = time.monotonic() + self.fetch_timeout
            while pending and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                key = _key(msg)
                if key not in pending:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() == CKafkaError._PARTITION_EOF:
                        found[key] = (end[key], -1)  # reached the end: no data record in range
                        pending.discard(key)
                        consumer.pause([TopicPartition(*key)])
                        continue
                    raise KafkaError(f"reading {key[0]}[{key[1]}] failed: {error}") from KafkaException(error)
                found[key] = (_offset(msg), msg.timestamp()[1])
                pending.discard(key)
                consumer.pause([TopicPartition(*key)])
        finally:
            consumer.close()
        return found

    def newest_committed_timestamp(self, topic: str, tail: int = 20) -> int | None:
        """Timestamp (ms) of the newest committed data record of ``topic``, over all partitions.

        Used for heartbeat topics: records are read under read_committed from a
        few offsets before each partition's LSO, so an open or aborted
        transaction's heartbeat never counts.
        """
        tps = self.partitions([topic])
        start = self.log_start_offsets(tps)
        end = self.end_offsets(tps)
        wanted = {k: max(start[k], end[k] - tail) for k in end if end[k] > start[k]}
        if not wanted:
            return None
        consumer = self._probe_consumer("heartbeat")
        newest: int | None = None
        pending = set(wanted)
        try:
            consumer.assign([TopicPartition(t, p, off) for (t, p), off in wanted.items()])
            deadline = time.monotonic() + self.fetch_timeout
            while pending and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                key = _key(msg)
                error = msg.error()
                if error is not None:
                    if error.code() == CKafkaError._PARTITION_EOF:
                        pending.discard(key)
                        continue
                    raise KafkaError(f"reading {key[0]}[{key[1]}] failed: {error}") from KafkaException(error)
                offset = _offset(msg)
                if offset < end[key]:
                    ts = msg.timestamp()[1]
                    newest = ts if newest is None else max(newest, ts)
                if offset >= end[key] - 1:
                    pending.discard(key)
        finally:
            consumer.close()
        if pending:
            raise KafkaError(
                f"could not read the end of heartbeat topic {topic!r} within {self.fetch_timeout}s"
            )
        return newest

    def topic_names(self) -> list[str]:
        """Every topic of the cluster (one metadata request): a connection test."""
        try:
            return sorted(self._admin.list_topics(timeout=self.request_timeout).topics)
        except KafkaException as exc:
            raise KafkaError(f"cannot list Kafka topics: {exc}") from exc

    def close(self) -> None:
        # AdminClient has no close(); dropping the reference releases librdkafka's handle.
        self._admin = None  # type: ignore[assignment]


def _key(msg: Message) -> tuple[str, int]:
    """A fetched record's partition (a fetched record always has one)."""
    topic, partition = msg.topic(), msg.partition()
    assert topic is not None and partition is not None
    return topic, partition


def _offset(msg: Message) -> int:
    offset = msg.offset()
    assert offset is not None  # fetched records carry their offset
    return offset


def _tp(tp: TopicPartition) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)
