"""The last stage: has J's sink made the consumed records visible in the target store?

The stage is pluggable. :class:`IcebergCommitStage` looks for a snapshot of J
covering checkpoint c*; :class:`CheckpointCommitStage` serves sinks that flush
on every checkpoint (ClickHouse), where a checkpoint completed after the Kafka
stage held is the proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import datetime

from airflow_provider_rtp.completeness import _advice
from airflow_provider_rtp.completeness._advice import short_job_id
from airflow_provider_rtp.completeness._time import ceil_epoch_ms, require_utc_or_none, to_iso
from airflow_provider_rtp.completeness.models import Policy
from airflow_provider_rtp.completeness.observations import CommitOutcome, CommitStage, JobObservation
from airflow_provider_rtp.completeness.results import (
    Advice,
    CommitPoint,
    Reason,
    Stage,
    StageResult,
    StageStatus,
)
from airflow_provider_rtp.completeness.snapshots import (
    DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS,
    MAX_CONTINUOUS_EMPTY_COMMITS,
    TableSnapshots,
    main_commits,
)

__all__ = ["CheckpointCommitStage", "CommitOutcome", "CommitStage", "IcebergCommitStage"]


@dataclass(frozen=True)
class IcebergCommitStage:
    """A snapshot in main's history with ``flink.job-id`` = J and max committed checkpoint ≥ c*.

    :param operator_id: the sink's ``flink.operator-id``, when one table has several writers.
    """

    table: TableSnapshots
    operator_id: str | None = None

    @property
    def stage(self) -> Stage:
        return Stage.ICEBERG

    @property
    def name(self) -> str:
        return self.table.table

    def evaluate(self, job: JobObservation, *, upstream_held: bool, policy: Policy) -> CommitOutcome:
        # The log's commits are indexed once per log (tens of thousands of snapshots): this reads
        # J's commits, binary-searches c* among them, and looks at other jobs only when waiting.
        commits = main_commits(self.table, self.operator_id)
        not_before = None
        if job.start_time is not None:
            # A job id reused across runs: the previous run's checkpoint ids say nothing about this run.
            not_before = ceil_epoch_ms(job.start_time + policy.clock_skew_margin)
        own = commits.of_job(job.job_id, not_before)
        advice: list[Advice] = []
        if own.earlier_top is not None and job.start_time is not None:
            # Commits within the margin after the start may be this run's first ones, stamped by
            # a clock a little behind: ignored all the same (never early), but only commits
            # clearly before the start prove that the job id was reused.
            clearly = commits.of_job(job.job_id, ceil_epoch_ms(job.start_time - policy.clock_skew_margin))
            if clearly.earlier_top is not None:
                advice.append(
                    _advice.job_id_reused(self.stage, job, len(clearly.earlier), clearly.earlier_top)
                )
        c_star = job.latest_checkpoint_id
        base = StageResult(
            stage=self.stage,
            name=self.name,
            status=StageStatus.WAITING,
            reason=Reason.NO_CHECKPOINT,
            needed_checkpoint_id=c_star,
            subject=job.job_id,
        )
        if c_star is None:
            return CommitOutcome(base, None, tuple(advice))
        cover = own.covering(c_star)
        if cover is not None:
            checkpoint_id = commits.checkpoint_ids[cover]
            result = _replace(base, status=StageStatus.OK, reason=Reason.OK, checkpoint_id=checkpoint_id)
            point = CommitPoint(job.job_id, checkpoint_id, commits.snapshot_ids[cover])
            return CommitOutcome(result, point, tuple(advice))

        lag_in_checkpoints = None
        last_other = commits.last_not_of(job.job_id)
        if own.indices:
            last = own.checkpoint_ids[-1]
            result = _replace(base, reason=Reason.COMMIT_BEHIND, checkpoint_id=last)
            lag_in_checkpoints = c_star - last
        elif last_other is not None:
            other_job, other_checkpoint = commits.job_ids[last_other], commits.checkpoint_ids[last_other]
            note = f"table last committed by job {short_job_id(other_job)} checkpoint {other_checkpoint}"
            result = _replace(base, reason=Reason.NEW_JOB_NO_COMMIT, note=note)
        else:
            result = _replace(base, reason=Reason.NO_COMMIT)
            oldest = self.table.oldest_main_snapshot_id
            if self.table.history_truncated and oldest is not None:
                advice.append(_advice.history_expired(self.stage, job.job_id, oldest))
        setting = self.table.max_continuous_empty_commits
        if upstream_held and setting != 1 and (lag_in_checkpoints is None or lag_in_checkpoints >= 2):
            key, default = MAX_CONTINUOUS_EMPTY_COMMITS, DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS
            advice.append(_advice.empty_commits(self.stage, self.name, c_star, setting, key, default))
        # After a restore the sink skips every checkpoint id up to the highest one the table records
        # (other jobs' commits, and this job id's commits from before its start).
        highest = max(
            (h for h in (commits.highest_not_of(job.job_id), own.earlier_top) if h is not None), default=None
        )
        if job.restored is not None and highest is not None and highest > c_star:
            advice.append(_advice.restore_skips_commits(self.stage, job, self.name, c_star, highest))
        return CommitOutcome(result, None, tuple(advice))


@dataclass(frozen=True)
class CheckpointCommitStage:
    """For sinks that flush in every checkpoint (ClickHouse): a completed checkpoint of J is the commit.

    Sound when the sink writes its buffer synchronously while snapshotting (a failed flush fails the
    checkpoint) and G's offsets are committed on checkpoint completion: then the checkpoint that
    committed the observed offsets, and c* (read after them), flushed every consumed row.

    :param kafka_held_since: when the Kafka stage first held (``Decision.kafka_held_at`` of an
        earlier evaluation, or the time this evaluation's offsets were read). When given, c* must
        also have been triggered at or after it plus the policy's clock-skew margin (the trigger
        time is the JobManager's clock), which covers sinks whose offsets are not committed on
        checkpoints: a checkpoint that completed before the Kafka stage held never counts.
    """

    target: str
    kafka_held_since: datetime | None = None

    def __post_init__(self) -> None:
        held = require_utc_or_none(self.kafka_held_since, "kafka_held_since")
        object.__setattr__(self, "kafka_held_since", held)

    @property
    def stage(self) -> Stage:
        return Stage.CLICKHOUSE

    @property
    def name(self) -> str:
        return self.target

    def evaluate(self, job: JobObservation, *, upstream_held: bool, policy: Policy) -> CommitOutcome:
        c_star = job.latest_checkpoint_id
        result = StageResult(
            stage=self.stage,
            name=self.name,
            status=StageStatus.WAITING,
            reason=Reason.NO_CHECKPOINT,
            needed_checkpoint_id=c_star,
            subject=job.job_id,
        )
        if c_star is None:
            return CommitOutcome(result)
        trigger = job.latest_checkpoint_trigger
        needed = None if self.kafka_held_since is None else self.kafka_held_since + policy.clock_skew_margin
        if needed is not None and (trigger is None or trigger < needed):
            note = f"needs a checkpoint triggered at or after {to_iso(needed)}"
            behind = _replace(result, reason=Reason.COMMIT_BEHIND, checkpoint_id=c_star, note=note)
            return CommitOutcome(behind)
        ok = _replace(result, status=StageStatus.OK, reason=Reason.OK, checkpoint_id=c_star)
        return CommitOutcome(ok, CommitPoint(job.job_id, c_star, None))
