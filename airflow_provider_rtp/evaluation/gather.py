"""One completeness evaluation against the real systems: gather, in the contract's order, then decide.

The sensor's ``poke()``, the deferrable trigger and the CLI all call
:func:`evaluate`; only how they schedule it differs. The order of the reads
is part of the proof (see :class:`~airflow_provider_rtp.completeness.Observations`):
CDC watermark, then Kafka offsets, then the ingestion job's checkpoint id,
then the Iceberg snapshot log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtp.completeness import (
    Decision,
    IcebergCommitStage,
    JobObservation,
    KafkaObservation,
    Observations,
    PartitionObservation,
    Pipeline,
    Policy,
    Window,
    decide,
)
from airflow_provider_rtp.evaluation.cdc import observe_cdc
from airflow_provider_rtp.flink import FlinkRestClient
from airflow_provider_rtp.iceberg.snapshot_log import read_snapshot_log
from airflow_provider_rtp.kafka import KafkaLagReader, PartitionStatus

__all__ = ["evaluate", "observe_job", "observe_kafka"]


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
    return KafkaObservation(group=pipeline.group, target=target, partitions=tuple(parts))


def evaluate(
    pipeline: Pipeline,
    window: Window,
    policy: Policy,
    *,
    kafka: KafkaLagReader,
    flink: FlinkRestClient,
    catalog: Any,
    now: datetime | None = None,
) -> Decision:
    """Gather every observation in the contract's order and decide."""
    now = now or datetime.now(tz=UTC)
    target = window.target(policy)
    # CDC first: heartbeats, or the CDC job's source gauges (read before its checkpoint).
    cdc = observe_cdc(pipeline, kafka=kafka, flink=flink, observe_job=observe_job)
    kafka_obs = observe_kafka(kafka, pipeline, target, window.target_ms(policy), int(now.timestamp() * 1000))
    job = observe_job(flink, pipeline.ingestion_job)  # c* is read after the offsets
    table = read_snapshot_log(catalog, pipeline.table)
    observations = Observations(
        window=window, kafka=kafka_obs, job=job, commit=IcebergCommitStage(table=table), cdc=cdc
    )
    return decide(observations, policy, now)
