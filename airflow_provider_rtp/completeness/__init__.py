"""The completeness decision: is every change made before a window's end committed in the lake?

A pure core: observations in, a :class:`Decision` (verdict, per-stage standing,
report) out. It imports neither Airflow nor any client library, so the sensor's
``poke()`` and the deferrable trigger drive the very same ``decide``; only the
I/O that gathers :class:`Observations` differs.
"""

from __future__ import annotations

from airflow_provider_rtp.completeness._time import parse_instant
from airflow_provider_rtp.completeness.cdc_watermark import MetricWatermark, metric_watermark
from airflow_provider_rtp.completeness.commit import (
    CheckpointCommitStage,
    CommitOutcome,
    CommitStage,
    IcebergCommitStage,
)
from airflow_provider_rtp.completeness.deadline import DeadlineStatus, deadline_status
from airflow_provider_rtp.completeness.decide import decide
from airflow_provider_rtp.completeness.decision import Decision, Verdict
from airflow_provider_rtp.completeness.errors import (
    CompletenessError,
    InvalidPipelineError,
    InvalidPolicyError,
    InvalidWindowError,
    MalformedObservationError,
    MalformedRecordError,
    NaiveDatetimeError,
)
from airflow_provider_rtp.completeness.models import (
    DEFAULT_CLOCK_SKEW_MARGIN,
    DEFAULT_FUTURE_WINDOW_LIMIT,
    DEFAULT_IDLE_TIMEOUT,
    JobDownBehaviour,
    Policy,
    Window,
)
from airflow_provider_rtp.completeness.observations import (
    CdcObservation,
    JobObservation,
    JobState,
    KafkaObservation,
    LagSample,
    Observations,
    PartitionObservation,
    RestoreInfo,
)
from airflow_provider_rtp.completeness.persisted import PersistedDecision
from airflow_provider_rtp.completeness.pipeline import Pipeline, load_pipelines
from airflow_provider_rtp.completeness.results import (
    FINAL_CHECKPOINT_ID,
    Advice,
    AdviceCode,
    CommitPoint,
    PartitionResult,
    Reason,
    Stage,
    StageResult,
    StageStatus,
)
from airflow_provider_rtp.completeness.snapshots import (
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    FLINK_OPERATOR_ID,
    MAX_CONTINUOUS_EMPTY_COMMITS,
    Operation,
    SnapshotObservation,
    SnapshotResolution,
    TableSnapshots,
)

__all__ = [
    "DEFAULT_CLOCK_SKEW_MARGIN",
    "DEFAULT_FUTURE_WINDOW_LIMIT",
    "DEFAULT_IDLE_TIMEOUT",
    "FINAL_CHECKPOINT_ID",
    "FLINK_JOB_ID",
    "FLINK_MAX_COMMITTED_CHECKPOINT_ID",
    "FLINK_OPERATOR_ID",
    "MAX_CONTINUOUS_EMPTY_COMMITS",
    "Advice",
    "AdviceCode",
    "CdcObservation",
    "CheckpointCommitStage",
    "CommitOutcome",
    "CommitPoint",
    "CommitStage",
    "CompletenessError",
    "DeadlineStatus",
    "Decision",
    "IcebergCommitStage",
    "InvalidPipelineError",
    "InvalidPolicyError",
    "InvalidWindowError",
    "JobDownBehaviour",
    "JobObservation",
    "JobState",
    "KafkaObservation",
    "LagSample",
    "MalformedObservationError",
    "MalformedRecordError",
    "MetricWatermark",
    "NaiveDatetimeError",
    "Observations",
    "Operation",
    "PartitionObservation",
    "PartitionResult",
    "PersistedDecision",
    "Pipeline",
    "Policy",
    "Reason",
    "RestoreInfo",
    "SnapshotObservation",
    "SnapshotResolution",
    "Stage",
    "StageResult",
    "StageStatus",
    "TableSnapshots",
    "Verdict",
    "Window",
    "deadline_status",
    "decide",
    "load_pipelines",
    "metric_watermark",
    "parse_instant",
]
