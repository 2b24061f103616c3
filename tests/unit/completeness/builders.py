"""Small builders for example worlds: one default world that is complete, tweaked per test.

The default: window 10:00-11:00 on 2026-11-24, lateness 2m, no clock-skew margin
(target 11:02:00), evaluated at 11:05; CDC heartbeat at 11:03:41; one partition
consumed past the target; job J RUNNING at checkpoint 8812; the table holds J's
commits of 8809 and 8812.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    CdcObservation,
    CommitStage,
    Decision,
    IcebergCommitStage,
    JobObservation,
    KafkaObservation,
    Observations,
    PartitionObservation,
    Policy,
    SnapshotObservation,
    TableSnapshots,
    Window,
    decide,
)

DAY = datetime(2026, 11, 24, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


WINDOW = Window(at(10), at(11))
POLICY = Policy(allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(0))
TARGET = at(11, 2)
NOW = at(11, 5)
JOB_ID = "3f2a" + "9c" * 14
OLD_JOB_ID = "7b1c" + "0d" * 14
TABLE = "ods.orders"


def part(
    partition: int = 0,
    *,
    topic: str = "orders",
    log_start: int = 0,
    end: int = 100,
    committed: int | None = 100,
    b_p: int | None = 90,
    fuo: int | None = None,
    fut: datetime | None = None,
) -> PartitionObservation:
    """A partition; by default caught up (committed = end) past its offset for the target."""
    return PartitionObservation(topic, partition, log_start, end, committed, b_p, fuo, fut)


def kafka(
    *parts: PartitionObservation, group: str = "orders-sink", target: datetime = TARGET
) -> KafkaObservation:
    return KafkaObservation(group, target, parts or (part(),))


def job(
    state: str = "RUNNING", checkpoint: int | None = 8812, job_id: str = JOB_ID, **kw: Any
) -> JobObservation:
    return JobObservation(job_id, "orders-sink", state, checkpoint, **kw)  # type: ignore[arg-type]


def snap(
    sid: int,
    parent: int | None,
    checkpoint: int | None,
    *,
    job_id: str | None = JOB_ID,
    ts: int | None = None,
    op: str = "append",
    operator: str | None = None,
    **extra: str,
) -> SnapshotObservation:
    """A snapshot; with ``checkpoint`` it is a Flink commit of ``job_id``, else a plain one."""
    summary: dict[str, str] = dict(extra)
    if checkpoint is not None and job_id is not None:
        summary[FLINK_JOB_ID] = job_id
        summary[FLINK_MAX_COMMITTED_CHECKPOINT_ID] = str(checkpoint)
    if operator is not None:
        summary[FLINK_OPERATOR_ID] = operator
    return SnapshotObservation(sid, parent, ts if ts is not None else 1_700_000_000_000 + sid, op, summary)  # type: ignore[arg-type]


def chain(*specs: tuple[int | None, str | None] | int | None, start: int = 1) -> list[SnapshotObservation]:
    """Snapshots 1, 2, 3, … each the parent of the next. A spec is a checkpoint id of J, ``None`` for a
    compaction (``replace``), or ``(checkpoint, job_id)``."""
    out: list[SnapshotObservation] = []
    for i, spec in enumerate(specs):
        sid = start + i
        parent = sid - 1 if i else None
        if spec is None:
            out.append(snap(sid, parent, None, op="replace"))
        elif isinstance(spec, tuple):
            out.append(snap(sid, parent, spec[0], job_id=spec[1]))
        else:
            out.append(snap(sid, parent, spec))
    return out


def table(
    *snaps: SnapshotObservation, current: int | None = -1, properties: Mapping[str, str] | None = None
) -> TableSnapshots:
    snapshots = snaps or tuple(chain(8809, 8812))
    head = snapshots[-1].snapshot_id if current == -1 else current
    return TableSnapshots(TABLE, head, tuple(snapshots), properties or {})


HEARTBEAT = at(11, 3, 41)


def heartbeat(value: datetime = HEARTBEAT, **kw: Any) -> CdcObservation:
    return CdcObservation("shop-cdc", heartbeat=value, **kw)


_DEFAULT: Any = object()


def observe(
    *,
    kafka_obs: KafkaObservation | None = None,
    job_obs: JobObservation | None = None,
    tbl: TableSnapshots | None = None,
    commit: CommitStage | None = None,
    cdc: CdcObservation | None = _DEFAULT,
    window: Window = WINDOW,
) -> Observations:
    return Observations(
        window=window,
        kafka=kafka_obs or kafka(),
        job=job_obs or job(),
        commit=commit or IcebergCommitStage(tbl or table()),
        cdc=heartbeat() if cdc is _DEFAULT else cdc,
    )


def run(
    obs: Observations | None = None, *, policy: Policy = POLICY, now: datetime = NOW, **kw: Any
) -> Decision:
    return decide(obs or observe(**kw), policy, now)
