"""What the lag reader observes for one consumer group, per partition."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["GroupLag", "PartitionLag", "PartitionStatus"]


class PartitionStatus(enum.StrEnum):
    CAUGHT_UP = "caught_up"  # no data record in [committed, end)
    LAGGING = "lagging"  # data records wait in [committed, end)
    NO_COMMIT = "no_commit"  # the group committed nothing for this partition: never "lag 0"
    UNKNOWN = "unknown"  # the first unconsumed record could not be read in time


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
    def total_offset_lag(self) -> int:
        return sum(p.offset_lag or 0 for p in self.partitions)

    @property
    def consumed_through_ms(self) -> int | None:
        """Every partition is consumed through this time; None while any is unknown."""
        slowest = self.slowest
        return slowest.consumed_through_ms if slowest else None
