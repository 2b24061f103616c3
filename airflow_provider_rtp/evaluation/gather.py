"""One completeness evaluation against the real systems: gather, in the contract's order, then decide.

The sensor's ``poke()``, the deferrable trigger and the CLI all call
:func:`evaluate`; only how they schedule it differs. The order of the reads
is part of the proof (see :class:`~airflow_provider_rtp.completeness.Observations`):
CDC watermark, then Kafka offsets, then the ingestion job's checkpoint id,
then the Iceberg snapshot log.

A pipeline whose sink is ClickHouse (``sink: clickhouse``) has no snapshot log:
its commit is a checkpoint of J triggered after the Kafka stage held
(:class:`~airflow_provider_rtp.completeness.CheckpointCommitStage`). The Kafka
stage is known to hold from the end of the offsets reading on (or from an
earlier evaluation's ``Decision.kafka_held_at``, when the caller carries it), so
a checkpoint that completed before then never counts. When that is all that
is missing, the evaluation watches J for up to ``checkpoint_wait`` for such a
checkpoint instead of answering WAITING at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_rtp.completeness import (
    CheckpointCommitStage,
    CommitStage,
    Decision,
    IcebergCommitStage,
    JobObservation,
    KafkaObservation,
    Observations,
    PartitionObservation,
    Pipeline,
    Policy,
    Reason,
    Stage,
    Window,
    decide,
)
from airflow_provider_rtp.evaluation.cdc import observe_cdc
from airflow_provider_rtp.flink import FlinkRestClient
from airflow_provider_rtp.iceberg.snapshot_log import read_snapshot_log
from airflow_provider_rtp.kafka import KafkaLagReader, PartitionStatus

__all__ = ["DEFAULT_CHECKPOINT_WAIT", "evaluate", "observe_job", "observe_kafka"]

#: How long one evaluation of a ClickHouse-sink pipeline watches J for a checkpoint triggered
#: after the Kafka stage held (about one checkpoint interval plus its duration is enough).
DEFAULT_CHECKPOINT_WAIT = timedelta(seconds=30)
_CHECKPOINT_POLL_S = 1.0


def _utc_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None and ms >= 0 else None


def observe_job(flink: FlinkRestClient, name: str) -> JobObservation:
    """The job of that name as :meth:`FlinkRestClient.find_job` picks it (the live one, else its
    newest run, so a FAILED/CANCELED state is reported), read as every Flink wait reads it."""
    return flink.observe_job(job_name=name).for_completeness()


def observe_kafka(
    kafka: KafkaLagReader, pipeline: Pipeline, target: datetime, target_ms: int, now_ms: int
) -> KafkaObservation:
    """G's offsets over every partition of T, and ``offsets_for_times(target)``, in one reading.

    ``now_ms`` is not needed: the core reads no clock-derived lag from Kafka (kept for callers).
    """
    reading = kafka.read_group(pipeline.group, pipeline.topics, target_ms=target_ms)
    parts = []
    for p in reading.partitions:
        first_offset, first_ts = None, None
        if p.status is PartitionStatus.LAGGING:
            first_offset, first_ts = p.first_unconsumed_offset, _utc_ms(p.first_unconsumed_ms)
        elif p.status is PartitionStatus.UNKNOWN:
            # Not read in time: assume data waits at the committed offset; never "caught up".
            first_offset = p.committed
        parts.append(
            PartitionObservation(
                topic=p.topic,
                partition=p.partition,
                log_start=p.log_start,
                end=p.end,
                committed=p.committed,
                offset_for_target=p.offset_for_target,
                first_unconsumed_offset=first_offset,
                first_unconsumed_timestamp=first_ts,
            )
        )
    return KafkaObservation(
        group=pipeline.group, target=target, partitions=tuple(parts), read_at=datetime.now(tz=UTC)
    )


def evaluate(
    pipeline: Pipeline,
    window: Window,
    policy: Policy,
    *,
    kafka: KafkaLagReader,
    flink: FlinkRestClient,
    catalog: Any = None,
    now: datetime | None = None,
    kafka_held_since: datetime | None = None,
    checkpoint_wait: timedelta = DEFAULT_CHECKPOINT_WAIT,
) -> Decision:
    """Gather every observation in the contract's order and decide.

    :param catalog: the Iceberg catalog; not read for a ClickHouse-sink pipeline.
    :param kafka_held_since: ClickHouse sink only: ``Decision.kafka_held_at`` of an earlier
        evaluation of the same window and policy, in which the Kafka stage held (and has held in
        every evaluation since). ``None``: this evaluation's own reading.
    :param checkpoint_wait: ClickHouse sink only: how long to watch J for a checkpoint triggered
        after the Kafka stage held, when nothing else is missing (zero: answer at once).
    """
    now = now or datetime.now(tz=UTC)
    target = window.target(policy)
    # CDC first: heartbeats, or the CDC job's source gauges (read before its checkpoint).
    cdc = observe_cdc(pipeline, kafka=kafka, flink=flink, observe_job=observe_job)
    kafka_obs = observe_kafka(kafka, pipeline, target, window.target_ms(policy), int(now.timestamp() * 1000))
    job = observe_job(flink, pipeline.ingestion_job)  # c* is read after the offsets
    commit: CommitStage
    if pipeline.sink == "clickhouse":
        held = kafka_obs.read_at
        if kafka_held_since is not None and held is not None:
            held = min(kafka_held_since, held)
        commit = CheckpointCommitStage(target=pipeline.commit_target, kafka_held_since=held)
    else:
        commit = IcebergCommitStage(table=read_snapshot_log(catalog, pipeline.table))
    observations = Observations(window=window, kafka=kafka_obs, job=job, commit=commit, cdc=cdc)
    decision = decide(observations, policy, now)
    deadline = time.monotonic() + checkpoint_wait.total_seconds()
    while _awaits_checkpoint(decision) and time.monotonic() < deadline:
        # Only a checkpoint of J triggered after the Kafka stage held is missing: a re-read of J
        # is still a read after the offsets, so the proof's order holds.
        time.sleep(_CHECKPOINT_POLL_S)
        job = observe_job(flink, pipeline.ingestion_job)
        observations = Observations(window=window, kafka=kafka_obs, job=job, commit=commit, cdc=cdc)
        decision = decide(observations, policy, now)
    return decision


def _awaits_checkpoint(decision: Decision) -> bool:
    stage = decision.stage(Stage.CLICKHOUSE)
    return (
        stage is not None
        and decision.blocking is Stage.CLICKHOUSE
        and stage.reason is Reason.COMMIT_BEHIND
        and decision.kafka_held_at is not None
        and all(s.ok for s in decision.stages if s.stage is not Stage.CLICKHOUSE)
    )
