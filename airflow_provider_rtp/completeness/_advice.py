"""The findings a report explains, each naming its fix. Kept apart so the rules stay readable."""

from __future__ import annotations

from airflow_provider_rtp.completeness._time import to_iso
from airflow_provider_rtp.completeness.observations import JobObservation
from airflow_provider_rtp.completeness.results import Advice, AdviceCode, Stage

__all__ = [
    "cdc_job_down",
    "empty_commits",
    "history_expired",
    "install_heartbeats",
    "job_down",
    "job_id_reused",
    "missing_group_offset",
    "offsets_deleted",
    "restore_skips_commits",
    "retention",
    "short_job_id",
]

_LISTED = 5  # partitions named in one finding before "and N more"


def short_job_id(job_id: str) -> str:
    """``3f2a…``: enough to tell runs apart in a report line."""
    return job_id if len(job_id) <= 4 else job_id[:4] + "…"


def _names(names: list[str]) -> str:
    more = len(names) - _LISTED
    return ", ".join(names[:_LISTED]) + (f" and {more} more" if more > 0 else "")


def install_heartbeats(cdc_name: str, *, assumed: bool) -> Advice:
    """Without heartbeats: ``assumed`` — the gauges are known but a quiet source is judged by the
    idle timeout; otherwise they are missing (or the source has emitted nothing yet)."""
    why = (
        f"{cdc_name} has no heartbeats: Flink CDC's MySQL source updates its lag gauges only on data "
        "changes, so on a quiet database its watermark stays at the last change and then advances by "
        "assumption (its latest checkpoint minus the idle timeout), and a stuck binlog reader looks "
        "quiet for that long"
        if assumed
        else f"the source lag gauges of {cdc_name} are missing or the source has emitted no change since "
        "its job started, so its watermark is unknown (never read as zero lag)"
    )
    return Advice(
        AdviceCode.INSTALL_HEARTBEATS,
        Stage.CDC,
        f"{why}. Install heartbeats for an exact watermark: a row the source database updates every few "
        "seconds (CREATE EVENT … EVERY 5 SECOND), captured by the same CDC source into a heartbeat topic",
    )


def cdc_job_down(job: JobObservation) -> Advice:
    return Advice(
        AdviceCode.CDC_JOB_DOWN,
        Stage.CDC,
        f"CDC job {job.name} ({job.job_id}) is {job.state.value}; its watermark cannot advance until it "
        "runs again",
    )


def missing_group_offset(group: str, partitions: list[str]) -> Advice:
    return Advice(
        AdviceCode.MISSING_GROUP_OFFSET,
        Stage.KAFKA,
        f"no committed offset for group {group} on {_names(partitions)}; offset commits happen on "
        "checkpoint, and a job without group.id commits none. Set the KafkaSource's group.id (and keep "
        "commit.offsets.on.checkpoint on); missing commits are never assumed",
    )


def offsets_deleted(group: str, partitions: list[str]) -> Advice:
    return Advice(
        AdviceCode.OFFSETS_DELETED,
        Stage.KAFKA,
        f"group {group}'s committed offset on {_names(partitions)} is below the log start: retention "
        "deleted records the group had not consumed. Check the topic's retention against the job's lag",
    )


def retention(group: str, partitions: list[str]) -> Advice:
    return Advice(
        AdviceCode.RETENTION,
        Stage.KAFKA,
        f"retention has deleted records before the target on {_names(partitions)}; complete there "
        f"because group {group} had consumed past the log start",
    )


def job_down(job: JobObservation, *, failing: bool) -> Advice:
    why = "finished without a commit covering its last checkpoint" if job.state == "FINISHED" else "down"
    then = (
        "Failing as the policy says (on_job_down=fail)."
        if failing
        else "Waiting as the policy says (on_job_down=wait); a restarted job gets a new job id and "
        "the sensor then waits for that job's first covering commit."
    )
    return Advice(
        AdviceCode.JOB_DOWN,
        Stage.JOB,
        f"ingestion job {job.name} ({short_job_id(job.job_id)}) is {job.state.value}: {why}. {then}",
    )


def job_id_reused(stage: Stage, job: JobObservation, count: int, top: int) -> Advice:
    return Advice(
        AdviceCode.JOB_ID_REUSED,
        stage,
        f"{count} commit(s) of job id {job.job_id} (up to checkpoint {top}) predate this run's start at "
        f"{to_iso(job.start_time)} and are ignored: the job id was reused. After a restore from an older "
        f"savepoint the sink skips every checkpoint ≤ {top} (apache/iceberg#10892); do not fix job ids, "
        "or restore from the latest savepoint",
    )


def history_expired(stage: Stage, job_id: str, oldest_snapshot: int) -> Advice:
    return Advice(
        AdviceCode.HISTORY_EXPIRED,
        stage,
        f"main's history before snapshot {oldest_snapshot} was expired and no retained snapshot is a "
        f"commit of job {job_id}; waiting for its next commit",
    )


def empty_commits(
    stage: Stage, table: str, c_star: int, setting: int | None, key: str, default: int
) -> Advice:
    shown = setting if setting is not None else f"{default}, the default"
    return Advice(
        AdviceCode.EMPTY_COMMITS,
        stage,
        f"Kafka is consumed but {table} has no commit of checkpoint {c_star} yet: the Iceberg sink skips "
        f"checkpoints without new files until {key} ({shown}) of them have passed. Set it to 1 so every "
        f"completed checkpoint moves the version: ALTER TABLE {table} SET ('{key}'='1')",
    )


def restore_skips_commits(stage: Stage, job: JobObservation, table: str, c_star: int, highest: int) -> Advice:
    restored = job.restored.checkpoint_id if job.restored else "?"
    return Advice(
        AdviceCode.RESTORE_SKIPS_COMMITS,
        stage,
        f"job {job.job_id} was restored (from checkpoint {restored}) and has no commit covering "
        f"checkpoint {c_star}, while {table} already records checkpoint {highest}: the sink may skip "
        f"every checkpoint ≤ {highest} (apache/iceberg#10892), silently losing data. Restore from the "
        "latest savepoint, or start the job without state",
    )
