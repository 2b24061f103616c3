"""Lake maintenance, per managed table: health report -> the actions it calls for -> report again.

One task group per table declared in the pipelines file (``[rtp] pipelines_file``, else the
stack's). The report judges the table (with an orphan dry run as its input); a branch picks
what is due; compaction runs on Flink (deferred: no worker slot is held while it runs),
then expiry, then orphan cleanup, each only when called for, one after the other so no two
maintenance commits race each other; the second report shows the effect. A table that needs
nothing skips straight to its end.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup, conf, task

from airflow_provider_rtp.completeness import load_pipelines
from airflow_provider_rtp.operators.iceberg_compaction import IcebergCompactOperator
from airflow_provider_rtp.operators.iceberg_health import IcebergHealthReportOperator
from airflow_provider_rtp.operators.iceberg_maintenance import (
    IcebergDeleteOrphanFilesOperator,
    IcebergExpireSnapshotsOperator,
)

PIPELINES = (
    conf.get("rtp", "pipelines_file", fallback=None)
    or Path(__file__).resolve().parents[1] / "stack" / "pipelines.yaml"
)
TABLES = sorted(load_pipelines(PIPELINES))
# The hour still being written is left to the writer: its files are compacted once it has
# been quiet this long (a run's conf may say otherwise: {"min_quiet_minutes": 0}).
THRESHOLDS = "{{ {'min_quiet': params.min_quiet_minutes * 60} }}"
ACTION_TASKS = {"compact": "compact", "expire": "expire", "clean": "clean_orphans"}

with DAG(
    "rtp_lake_maintenance",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    params={"min_quiet_minutes": 30},
    tags=["rtp", "example", "maintenance"],
):
    for table in TABLES:
        group = table.replace(".", "_")
        with TaskGroup(group):
            orphans = IcebergDeleteOrphanFilesOperator(task_id="find_orphans", table=table, dry_run=True)
            report = IcebergHealthReportOperator(
                task_id="report",
                table=table,
                thresholds=THRESHOLDS,
                orphans=f"{{{{ ti.xcom_pull(task_ids='{group}.find_orphans') }}}}",
            )

            @task.branch(task_id="choose")
            def choose(health: dict, group: str = group) -> list[str]:
                due = [ACTION_TASKS[v["action"]] for v in health["verdicts"] if v["due"]]
                return [f"{group}.{task_id}" for task_id in due] or [f"{group}.nothing_to_do"]

            chosen = choose(report.output)
            compact = IcebergCompactOperator(
                task_id="compact",
                table=table,
                # The partitions the report named, worst first.
                partitions=(
                    f"{{{{ (ti.xcom_pull(task_ids='{group}.report')['verdicts'] "
                    "| selectattr('action', 'equalto', 'compact') | first)['partitions'] }}"
                ),
                deferrable=True,
            )
            expire = IcebergExpireSnapshotsOperator(
                task_id="expire",
                table=table,
                older_than=timedelta(hours=6),
                retain_last=100,
                trigger_rule="none_failed",
            )
            clean = IcebergDeleteOrphanFilesOperator(
                task_id="clean_orphans", table=table, dry_run=False, trigger_rule="none_failed"
            )
            after = IcebergHealthReportOperator(
                task_id="report_after",
                table=table,
                thresholds=THRESHOLDS,
                trigger_rule="none_failed_min_one_success",
            )
            nothing = EmptyOperator(task_id="nothing_to_do")

            orphans >> report
            chosen >> [compact, expire, clean, nothing]
            compact >> expire >> clean
            [compact, expire, clean] >> after
