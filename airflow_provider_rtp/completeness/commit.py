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
    covering_commit,
    flink_commits,
    main_ancestry,
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
        commits = flink_commits(main_ancestry(self.table), self.operator_id)
        own = [c for c in commits if c.job_id == job.job_id]
        advice: list[Advice] = []
        if job.start_time is not None:
            # A job id reused across runs: the previous run's checkpoint ids say nothing about this run.
            not_before = ceil_epoch_ms(job.start_time + policy.clock_skew_margin)
            earlier = [c for c in own if c.snapshot.timestamp_ms < not_before]
            if earlier:
                own = [c for c in own if c.snapshot.timestamp_ms >= not_before]
                top = max(c.checkpoint_id for c in earlier)
                advice.append(_advice.job_id_reused(self.stage, job, len(earlier), top))
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
        cover = covering_commit(own, job.job_id, c_star)
        if cover is not None:
            result = _replace(
                base, status=StageStatus.OK, reason=Reason.OK, checkpoint_id=cover.checkpoint_id
            )
            point = CommitPoint(job.job_id, cover.checkpoint_id, cover.snapshot.snapshot_id)
            return CommitOutcome(result, point, tuple(advice))

        others = [c for c in commits if c.job_id != job.job_id]
        lag_in_checkpoints = None
        if own:
            result = _replace(base, reason=Reason.COMMIT_BEHIND, checkpoint_id=own[-1].checkpoint_id)
            lag_in_checkpoints = c_star - own[-1].checkpoint_id
        elif others:
            last = others[-1]
            note = f"table last committed by job {short_job_id(last.job_id)} checkpoint {last.checkpoint_id}"
            result = _replace(base, reason=Reason.NEW_JOB_NO_COMMIT, note=note)
        else:
            result = _replace(base, reason=Reason.NO_COMMIT)
            if self.table.history_truncated:
                oldest = main_ancestry(self.table)[0].snapshot_id
                advice.append(_advice.history_expired(self.stage, job.job_id, oldest))
        setting = self.table.max_continuous_empty_commits
        if upstream_held and setting != 1 and (lag_in_checkpoints is None or lag_in_checkpoints >= 2):
            key, default = MAX_CONTINUOUS_EMPTY_COMMITS, DEFAULT_MAX_CONTINUOUS_EMPTY_COMMITS
            advice.append(_advice.empty_commits(self.stage, self.name, c_star, setting, key, default))
        # After a restore the sink skips every checkpoint id up to the highest one the table records.
        own_ids = {c.snapshot.snapshot_id for c in own}  # a set: logs run to tens of thousands
        others_ids = (c.checkpoint_id for c in commits if c.snapshot.snapshot_id not in own_ids)
        highest = max(others_ids, default=None)
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
        earlier evaluation). When given, c* must also have been triggered at or after it, which
        covers sinks whose offsets are not committed on checkpoints.
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
        if self.kafka_held_since is not None and (trigger is None or trigger < self.kafka_held_since):
            note = f"needs a checkpoint triggered at or after {to_iso(self.kafka_held_since)}"
            behind = _replace(result, reason=Reason.COMMIT_BEHIND, checkpoint_id=c_star, note=note)
            return CommitOutcome(behind)
        ok = _replace(result, status=StageStatus.OK, reason=Reason.OK, checkpoint_id=c_star)
        return CommitOutcome(ok, CommitPoint(job.job_id, c_star, None))
