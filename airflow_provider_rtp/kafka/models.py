"""What the lag reader observes for one consumer group, per partition."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

__all__ = ["GroupLag", "GroupReading", "PartitionLag", "PartitionReading", "PartitionStatus"]

# Group states (librdkafka's names) in which the group has live members.
_GROUP_WITH_MEMBERS = frozenset({"STABLE", "PREPARING_REBALANCING", "COMPLETING_REBALANCING"})


class PartitionStatus(enum.StrEnum):
    CAUGHT_UP = "caught_up"  # no data record in [committed, end)
    LAGGING = "lagging"  # data records wait in [committed, end)
    NO_COMMIT = "no_commit"  # the group committed nothing for this partition: never "lag 0"
    UNKNOWN = "unknown"  # the first unconsumed record could not be read in time


class PartitionReading(NamedTuple):
    """One partition as one reading of a group found it: the facts, nothing derived from a clock.

    A tuple, not a dataclass: a reading holds one per partition (thousands), and it is what
    both the lag report (:class:`PartitionLag`) and the completeness evaluation are built from.
    """

    topic: str
    partition: int
    log_start: int
    end: int  # read_committed end offset (the LSO)
    committed: int | None  # None: the group committed nothing here
    status: PartitionStatus
    first_unconsumed_offset: int | None  # LAGGING only: the first data record at or after committed
    first_unconsumed_ms: int | None  # LAGGING only: its timestamp
    offset_for_target: int | None  # first offset stamped at or after the asked time; None: none or not asked


class GroupReading(NamedTuple):
    """Every partition of a group's topics, read once: see :meth:`KafkaLagReader.read_group`."""

    group_state: str
    read_at_ms: int  # wall time once the end offsets were read: "now" for caught-up partitions
    partitions: tuple[PartitionReading, ...]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    log_start: int
    end: int  # read_committed end offset (the LSO)
    committed: int | None
    status: PartitionStatus
    offset_lag: int | None
    first_unconsumed_offset: int | None = None
    first_unconsumed_ms: int | None = None  # timestamp of the first unconsumed data record
    consumed_through_ms: int | None = None  # first unconsumed timestamp, or "now" when caught up
    time_lag_ms: int | None = None
    retention_gap: bool = False  # records in the lag range were deleted: time lag understates
    went_backwards: bool = False  # committed offset is lower than at the previous look (a reset)

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class GroupLag:
    group: str
    topics: tuple[str, ...]
    group_state: str
    measured_at_ms: int
    partitions: tuple[PartitionLag, ...] = field(default_factory=tuple)

    @property
    def slowest(self) -> PartitionLag | None:
        """The partition consumed through the earliest time; unknowns and missing commits first."""
        if not self.partitions:
            return None
        return min(
            self.partitions,
            key=lambda p: (
                p.consumed_through_ms is not None,
                p.consumed_through_ms or 0,
                p.topic,
                p.partition,
            ),
        )

    @property
    def group_missing(self) -> bool:
        """The group has no members and committed nothing for these topics: it does not exist here
        (a typo, expired offsets, or a consumer that never committed)."""
        return self.group_state not in _GROUP_WITH_MEMBERS and all(
            p.committed is None for p in self.partitions
        )

    @property
    def total_offset_lag(self) -> int:
        return sum(p.offset_lag or 0 for p in self.partitions)

    @property
    def consumed_through_ms(self) -> int | None:
        """Every partition is consumed through this time; None while any is unknown."""
        slowest = self.slowest
        return slowest.consumed_through_ms if slowest else None

    def summary(self) -> dict[str, Any]:
        """The group in one JSON-able dict: what a task pushes to XCom or an exporter writes."""
        slowest = self.slowest
        counts: dict[str, int] = {}
        for p in self.partitions:
            counts[p.status.value] = counts.get(p.status.value, 0) + 1
        return {
            "group": self.group,
            "topics": list(self.topics),
            "group_state": self.group_state,
            "group_missing": self.group_missing,
            "measured_at_ms": self.measured_at_ms,
            "partitions": len(self.partitions),
            "partitions_by_status": counts,
            "total_offset_lag": self.total_offset_lag,
            "consumed_through_ms": self.consumed_through_ms,
            "time_lag_ms": (
                None if self.consumed_through_ms is None else self.measured_at_ms - self.consumed_through_ms
            ),
            "slowest": None if slowest is None else asdict(slowest),
            "retention_gaps": [list(p.key) for p in self.partitions if p.retention_gap],
            "went_backwards": [list(p.key) for p in self.partitions if p.went_backwards],
        }
