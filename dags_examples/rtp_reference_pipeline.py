"""What has the reference pipeline committed to the lake?

Checks that the CDC and ingestion jobs are RUNNING, then reports the Iceberg
table's newest Flink commit: snapshot id, the checkpoint it covers, and the
row count at that snapshot (counted by a Flink batch query, since equality
deletes need a merge-on-read engine).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

TABLE = os.environ.get("RTP_DEMO_TABLE", "ods.orders")
JOBS = ("shop-cdc", "ods-orders-ingest")


@dag(
    dag_id="rtp_reference_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["rtp", "example"],
)
def rtp_reference_pipeline():
    @task
    def jobs_running() -> dict[str, str]:
        from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

        hook = RealtimePlatformHook()
        try:
            ids = {}
            for name in JOBS:
                job = hook.rest.get_running_job(name)
                stats = hook.rest.checkpoints(job.job_id)
                print(f"{name}: {job.state} job {job.job_id} checkpoint {stats.latest_completed_id}")
                ids[name] = job.job_id
            return ids
        finally:
            hook.close()

    @task
    def latest_commit(job_ids: dict[str, str]) -> dict:
        from airflow_provider_rtp.hooks.iceberg import IcebergHook

        table = IcebergHook().load_table(TABLE)
        snap = table.current_snapshot()
        if snap is None:
            raise RuntimeError(f"{TABLE} has no snapshot yet: is the ingestion job checkpointing?")
        summary = snap.summary.additional_properties if snap.summary else {}
        return {
            "snapshot_id": snap.snapshot_id,
            "committed_at": pendulum.from_timestamp(snap.timestamp_ms / 1000).isoformat(),
            "flink_job_id": summary.get("flink.job-id"),
            "checkpoint_id": summary.get("flink.max-committed-checkpoint-id"),
            "ingestion_job_matches": summary.get("flink.job-id") == job_ids["ods-orders-ingest"],
        }

    @task
    def row_count(commit: dict) -> dict:
        from airflow_provider_rtp.hooks.iceberg import IcebergHook
        from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

        catalog = IcebergHook().flink_catalog_ddl("lake")
        query = f"SELECT COUNT(*) FROM lake.{TABLE} /*+ OPTIONS('snapshot-id' = '{commit['snapshot_id']}') */"
        hook = RealtimePlatformHook()
        try:
            results = hook.sql_gateway.run_script(
                [catalog, query], session_properties={"execution.runtime-mode": "batch"}
            )
        finally:
            hook.close()
        result = {**commit, "rows": int(results[-1].rows[0][0])}
        print(
            f"{TABLE}: snapshot {result['snapshot_id']} committed {result['committed_at']} "
            f"by Flink job {result['flink_job_id']} at checkpoint {result['checkpoint_id']}: "
            f"{result['rows']} rows"
        )
        return result

    row_count(latest_commit(jobs_running()))


rtp_reference_pipeline()
