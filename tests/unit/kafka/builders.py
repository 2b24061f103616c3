"""Plain-data readings of one partition, for the Kafka reader's and the evaluation's unit tests."""

from __future__ import annotations

from typing import Any

from airflow_provider_rtp.kafka import PartitionReading, PartitionStatus

NOW = 1_800_000_000_000


def reading(status: PartitionStatus, committed: int | None, **kw: Any) -> PartitionReading:
    """Partition t[3] with offsets 2..10; ``kw`` overrides any field."""
    fields: dict[str, Any] = {
        "topic": "t",
        "partition": 3,
        "log_start": 2,
        "end": 10,
        "committed": committed,
        "status": status,
        "first_unconsumed_offset": None,
        "first_unconsumed_ms": None,
        "offset_for_target": None,
    }
    return PartitionReading(**(fields | kw))
