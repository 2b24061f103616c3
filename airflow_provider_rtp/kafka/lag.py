"""Read a consumer group's exact lag with batched requests.

Round trips do not grow with the partition count: topic metadata, committed
offsets and the group's state are one admin request each; log start offsets,
read_committed end offsets (LSO) and timestamp lookups are one ListOffsets
request each (librdkafka groups them per partition leader). Only lagging
partitions are read record-wise, all at once through a single consumer, to find
the timestamp of the first unconsumed data record.

Offsets are listed through a consumer (``offsets_for_times``, which takes
librdkafka's special timestamps for the log start and the end), not the admin
client's ``list_offsets``: that one hands back a future per partition (a
``Future`` with its condition, lock and lists, plus a result object), about
30,000 objects for three lookups over 1,024 partitions, enough to make the
cyclic collector run full collections of the whole process every few readings.
Each reading uses one consumer of its own for both (offsets first, then the
records), closed at its end: nothing is kept from one reading to the next, and
concurrent readings (triggers share a reader) never share an assignment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka import KafkaError as CKafkaError
from confluent_kafka.admin import AdminClient

from airflow_provider_rtp.exceptions import InvalidInputError, KafkaError
from airflow_provider_rtp.kafka.models import (
    GroupLag,
    GroupReading,
    PartitionLag,
    PartitionReading,
    PartitionStatus,
)

__all__ = ["KafkaLagReader"]

NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: nothing committed


class KafkaLagReader:
    """Measures consumer-group lag; ``config`` is a librdkafka client config (bootstrap, security)."""

    def __init__(
        self, config: Mapping[str, Any], *, request_timeout: float = 15.0, fetch_timeout: float = 10.0
    ) -> None:
        if "bootstrap.servers" not in config:
            raise InvalidInputError("Kafka config needs 'bootstrap.servers'")
        self.config = dict(config)
        self.request_timeout = request_timeout
        self.fetch_timeout = fetch_timeout
        self._admin = AdminClient(self.config)
        self._previous: dict[tuple[str, str, int], int] = {}

    # -- batched metadata --------------------------------------------------
    def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """Every partition of ``topics``, sorted, read afresh (a partition added since is listed)."""
        if not topics:
            raise InvalidInputError("at least one topic is needed")
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

    def _list_offsets(self, consumer: Consumer, query: list[TopicPartition], spec: int) -> list[int]:
        """One ListOffsets lookup of every partition of ``query`` (in its order): ``spec`` is a
        timestamp (ms), OFFSET_BEGINNING (log start) or OFFSET_END (the LSO under read_committed).
        A timestamp after every record gives -1. ``query``'s offsets are overwritten."""
        if not query:
            return []
        for tp in query:
            tp.offset = spec
        try:
            got = consumer.offsets_for_times(query, timeout=self.request_timeout)
        except KafkaException as exc:
            raise KafkaError(f"Kafka list offsets failed: {exc}") from exc
        return _offsets_in_order(query, got)

    def _offsets(
        self, tps: Iterable[TopicPartition], spec: int, consumer: Consumer | None = None
    ) -> dict[tuple[str, int], int]:
        query = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        with _probing(self, "offsets", consumer) as probe:
            offsets = self._list_offsets(probe, query, spec)
        return {(tp.topic, tp.partition): off for tp, off in zip(query, offsets, strict=True)}

    def log_start_offsets(self, tps: Iterable[TopicPartition]) -> dict[tuple[str, int], int]:
        return self._offsets(tps, OFFSET_BEGINNING)

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[tuple[str, int], int]:
        """read_committed end offsets: the last stable offset (LSO) of each partition."""
        return self._offsets(tps, OFFSET_END)

    def offsets_for_times(
        self, topics: Sequence[str], timestamp_ms: int
    ) -> dict[tuple[str, int], int | None]:
        """The first offset whose timestamp is >= ``timestamp_ms``, per partition; None if there is none."""
        if timestamp_ms < 0:
            raise InvalidInputError(f"timestamp_ms must be an epoch time, not {timestamp_ms}")
        raw = self._offsets(self.partitions(topics), timestamp_ms)
        return {k: (v if v >= 0 else None) for k, v in raw.items()}

    def committed_offsets(
        self, group: str, tps: Sequence[TopicPartition]
    ) -> dict[tuple[str, int], int | None]:
        return self._committed_result(group, self._committed_request(group, tps))

    def _committed_request(self, group: str, tps: Sequence[TopicPartition]) -> dict[str, Future]:
        return self._admin.list_consumer_group_offsets(
            # The request takes partitions without offsets; those of partitions() are used as they are.
            [ConsumerGroupTopicPartitions(group, [tp if tp.offset == NO_OFFSET else _tp(tp) for tp in tps])],
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
    def read_group(self, group: str, topics: Sequence[str], *, target_ms: int | None = None) -> GroupReading:
        """Every partition of ``topics`` for ``group``, read afresh: log start, read_committed end,
        committed offset, the first unconsumed data record where data may wait and, with
        ``target_ms``, the first offset stamped at or after it (``offsets_for_times``).

        The partitions are described on every reading (a partition added since the last one is
        read like the others); no offset is kept from one reading to the next.
        """
        tps = self.partitions(topics)
        # Committed offsets and the group's state travel while the offsets are listed.
        committed_req = self._committed_request(group, tps)
        state_req = self._state_request(group)
        query = [TopicPartition(tp.topic, tp.partition) for tp in tps]  # reused by each lookup
        consumer = self._probe_consumer("lag")
        try:
            starts = self._list_offsets(consumer, query, OFFSET_BEGINNING)
            ends = self._list_offsets(consumer, query, OFFSET_END)
            read_at_ms = int(time.time() * 1000)
            for_target = None if target_ms is None else self._list_offsets(consumer, query, target_ms)
            committed = self._committed_result(group, committed_req)
            state = self._state_result(group, state_req)
            firsts = self._first_records(consumer, *_lagging(tps, starts, ends, committed))
        finally:
            consumer.close()
        parts = []
        for i, tp in enumerate(tps):
            key = (tp.topic, tp.partition)
            end = ends[i]
            target = None if for_target is None or for_target[i] < 0 else for_target[i]
            c = committed.get(key)
            status, first_offset, first_ms = _status(c, end, firsts.get(key, (end, -1)))
            parts.append(
                PartitionReading(key[0], key[1], starts[i], end, c, status, first_offset, first_ms, target)
            )
        return GroupReading(state, read_at_ms, tuple(parts))

    def group_lag(self, group: str, topics: Sequence[str], now_ms: int | None = None) -> GroupLag:
        reading = self.read_group(group, topics)
        now_ms = now_ms if now_ms is not None else reading.read_at_ms
        return GroupLag(
            group=group,
            topics=tuple(topics),
            group_state=reading.group_state,
            measured_at_ms=now_ms,
            partitions=tuple(self._partition(group, p, now_ms) for p in reading.partitions),
        )

    def _partition(self, group: str, p: PartitionReading, now_ms: int) -> PartitionLag:
        """The partition's lag; a committed offset lower than at this reader's last look is a reset."""
        prev = self._previous.get((group, p.topic, p.partition))
        if p.committed is not None:
            self._previous[(group, p.topic, p.partition)] = p.committed
        return _lag(
            p, now_ms, went_backwards=p.committed is not None and prev is not None and p.committed < prev
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
                # A fetch of partitions already read to the end (not yet paused) would otherwise
                # hold the broker's answer, and the next fetch with it, for 500 ms.
                "fetch.wait.max.ms": 10,
            }
        )

    def first_records(
        self, positions: Mapping[tuple[str, int], int], end: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], tuple[int, int] | None]:
        """For each partition, (offset, timestamp) of the first committed data record at or after the
        position, or (end, -1) when only control records lie before ``end``; None if not read in time."""
        if not positions:
            return {}
        with _probing(self, "lag", None) as consumer:
            return self._first_records(consumer, positions, end)

    def _first_records(
        self, consumer: Consumer, positions: Mapping[tuple[str, int], int], end: Mapping[tuple[str, int], int]
    ) -> dict[tuple[str, int], tuple[int, int] | None]:
        """:meth:`first_records` through ``consumer``, which must have no assignment yet."""
        if not positions:
            return {}
        found: dict[tuple[str, int], tuple[int, int] | None] = dict.fromkeys(positions)
        pending = set(positions)
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
            # Paused, its records still queued are dropped: the next poll serves another partition.
            consumer.pause([TopicPartition(*key)])
        return found

    def newest_committed_timestamp(self, topic: str, tail: int = 20) -> int | None:
        """Timestamp (ms) of the newest committed data record of ``topic``, over all partitions.

        Used for heartbeat topics: records are read under read_committed from a
        few offsets before each partition's LSO, so an open or aborted
        transaction's heartbeat never counts.
        """
        tps = self.partitions([topic])
        consumer = self._probe_consumer("heartbeat")  # lists the offsets, then reads the records
        newest: int | None = None
        try:
            start = self._offsets(tps, OFFSET_BEGINNING, consumer)
            end = self._offsets(tps, OFFSET_END, consumer)
            wanted = {k: max(start[k], end[k] - tail) for k in end if end[k] > start[k]}
            if not wanted:
                return None
            pending = set(wanted)
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


def _lagging(
    tps: Sequence[TopicPartition],
    starts: Sequence[int],
    ends: Sequence[int],
    committed: Mapping[tuple[str, int], int | None],
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """Where data may wait: each such partition's read position and end offset.

    The position is the log start where retention deleted the committed offset: a probe assigned
    below it would be reset to the end by librdkafka and see no lag at all.
    """
    positions: dict[tuple[str, int], int] = {}
    end_of: dict[tuple[str, int], int] = {}
    for tp, start, end in zip(tps, starts, ends, strict=True):
        key = (tp.topic, tp.partition)
        c = committed.get(key)
        if c is not None and c < end:
            positions[key] = max(c, start)
            end_of[key] = end
    return positions, end_of


@contextmanager
def _probing(reader: KafkaLagReader, purpose: str, consumer: Consumer | None) -> Iterator[Consumer]:
    """``consumer`` if given (its owner closes it), else a new probe consumer closed on exit."""
    if consumer is not None:
        yield consumer
        return
    probe = reader._probe_consumer(purpose)
    try:
        yield probe
    finally:
        probe.close()


def _status(
    committed: int | None, end: int, first: tuple[int, int] | None
) -> tuple[PartitionStatus, int | None, int | None]:
    """A partition's status and, when LAGGING, its first unconsumed data record (offset, ms).

    ``first`` is what :meth:`KafkaLagReader.first_records` found at or after the committed offset
    ((end, -1) when it was not read because committed >= end); None: not read in time.
    """
    if committed is None:
        return PartitionStatus.NO_COMMIT, None, None
    if first is None:
        return PartitionStatus.UNKNOWN, None, None
    offset, ts = first
    if offset >= end:
        # Only control records (transaction markers, aborted data) lie in [committed, end).
        return PartitionStatus.CAUGHT_UP, None, None
    return PartitionStatus.LAGGING, offset, ts


def _lag(p: PartitionReading, now_ms: int, *, went_backwards: bool) -> PartitionLag:
    """A reading of one partition as lag at ``now_ms`` (a caught-up partition is consumed through it)."""
    if p.committed is None:
        return PartitionLag(p.topic, p.partition, p.log_start, p.end, None, PartitionStatus.NO_COMMIT, None)
    base = partial(
        PartitionLag,
        p.topic,
        p.partition,
        p.log_start,
        p.end,
        p.committed,
        p.status,
        max(0, p.end - p.committed),
        retention_gap=p.committed < p.log_start,
        went_backwards=went_backwards,
    )
    if p.status is PartitionStatus.UNKNOWN:
        return base()
    if p.status is PartitionStatus.CAUGHT_UP:
        return base(consumed_through_ms=now_ms, time_lag_ms=0)
    ts = p.first_unconsumed_ms
    assert ts is not None  # LAGGING carries its first unconsumed record's timestamp
    return base(
        first_unconsumed_offset=p.first_unconsumed_offset,
        first_unconsumed_ms=ts,
        consumed_through_ms=ts,
        time_lag_ms=max(0, now_ms - ts),
    )


def _offsets_in_order(query: Sequence[TopicPartition], got: Sequence[TopicPartition]) -> list[int]:
    """The offsets of a ListOffsets answer, in the order asked; a partition's error is raised."""
    if len(got) != len(query):
        raise KafkaError(f"Kafka list offsets answered {len(got)} partitions for {len(query)} asked")
    out = []
    for asked, tp in zip(query, got, strict=True):
        if tp.topic != asked.topic or tp.partition != asked.partition:
            raise KafkaError(
                f"Kafka list offsets answered {tp.topic}[{tp.partition}] where "
                f"{asked.topic}[{asked.partition}] was asked"
            )
        if tp.error is not None:
            # librdkafka's error is kept as the cause: it tells a restarting broker (wait) from bad input.
            raise KafkaError(
                f"Kafka list offsets failed for {tp.topic}[{tp.partition}]: {tp.error.str()}"
            ) from KafkaException(tp.error)
        out.append(tp.offset)
    return out


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
