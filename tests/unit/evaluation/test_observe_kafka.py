"""observe_kafka on plain data: a group reading becomes the core's partition observations."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_rtp.completeness import Pipeline
from airflow_provider_rtp.evaluation.gather import observe_kafka
from airflow_provider_rtp.kafka import GroupReading, PartitionStatus
from tests.unit.kafka.builders import NOW
from tests.unit.kafka.builders import reading as _reading


class _Reader:
    """Hands back a fixed reading: observe_kafka's translation, without a broker."""

    def __init__(self, reading: GroupReading) -> None:
        self.reading = reading
        self.asked: list[tuple[str, tuple[str, ...], int | None]] = []

    def read_group(
        self, group: str, topics: tuple[str, ...], *, target_ms: int | None = None
    ) -> GroupReading:
        self.asked.append((group, topics, target_ms))
        return self.reading


def test_observe_kafka_translates_each_status_for_the_core() -> None:
    parts = (
        _reading(PartitionStatus.CAUGHT_UP, 10, partition=0, offset_for_target=8),
        _reading(
            PartitionStatus.LAGGING, 4, partition=1, first_unconsumed_offset=5, first_unconsumed_ms=NOW - 900
        ),
        _reading(PartitionStatus.UNKNOWN, 6, partition=2),
        _reading(PartitionStatus.NO_COMMIT, None, partition=3),
    )
    reader = _Reader(GroupReading("STABLE", NOW, parts))
    target = datetime.fromtimestamp(NOW / 1000, tz=UTC)
    obs = observe_kafka(reader, Pipeline("db.t", ("t",), "g", "job"), target, NOW, NOW)  # type: ignore[arg-type]
    assert reader.asked == [("g", ("t",), NOW)]  # one reading, offsets_for_times included
    by_p = {p.partition: p for p in obs.partitions}
    assert (by_p[0].offset_for_target, by_p[0].first_unconsumed_offset) == (8, None)
    assert by_p[1].first_unconsumed_offset == 5
    assert by_p[1].first_unconsumed_timestamp == datetime.fromtimestamp((NOW - 900) / 1000, tz=UTC)
    # Not read in time: data is assumed to wait at the committed offset, never "caught up".
    assert (by_p[2].first_unconsumed_offset, by_p[2].first_unconsumed_timestamp) == (6, None)
    assert (by_p[3].committed, by_p[3].first_unconsumed_offset) == (None, None)
    assert obs.group == "g" and obs.target == target
