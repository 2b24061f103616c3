"""Lake maintenance on the real stack: what compaction and expiry buy the readers and the sensor.

    ./dev shell
    python bench/lake_maintenance.py         # --minutes M of changes (default 4), --runs N (default 3)

One run, two parts; every name is private and removed at the end.

Compaction, on both reference table kinds written by live Flink jobs: a private pipeline (CDC
job, changelog ingestion ``ods-orders.sql`` and upsert mirror ``ods-orders-mirror.sql``, 2 s
checkpoints) receives M minutes of inserts, updates and deletes (25 a second, each its own
transaction). Then, with the ingestion jobs still running:
- live data and delete files of each table (read from its manifests), before and after;
- the Flink batch full-scan time of each table (``SELECT COUNT(*), SUM(id) ...`` through the
  SQL Gateway: wall time and the Flink job's own duration, median of N), before and after, with
  the same count and sum both times (the compaction lost and added nothing);
- ``IcebergCompactOperator`` compacting every partition on Flink: the job's duration, the rows
  it read (records of the data files it replaced) and wrote, rows/s.

Expiry, and the sensor's evaluation time as a table ages: the sensor reads the table's whole
snapshot log, so without expiry its work grows with the table's age. Measured on
- the real tables above: metadata bytes and the cold evaluation time (a fresh worker: no log in
  memory) of a complete window, before and after ``expire_snapshots`` (older than 1 minute);
- tables a day and four days old at one snapshot per 10 s checkpoint (8,640 and 34,560
  snapshots of an earlier job, then 100 of a running one; built as bench/completeness_eval.py
  builds its table), before and after ``expire_snapshots`` with a 6-hour retention: the time
  should depend on the retention, not on the age.
Figures go to bench/results/lake_maintenance.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyiceberg.manifest import DataFileContent

from airflow_provider_rtp.completeness import Pipeline, Policy, Verdict, Window
from airflow_provider_rtp.evaluation import CompletenessCheck, run_check
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, SqlGatewayClient
from airflow_provider_rtp.hooks.completeness import CheckClients
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.expiry import ExpiryPolicy
from airflow_provider_rtp.iceberg.maintenance import expire_snapshots
from airflow_provider_rtp.operators.iceberg_compaction import IcebergCompactOperator
from bench._results import write_results
from bench.completeness_eval import (
    MINUTE_MS,
    SyntheticTable,
    catalog,
    cleanup,
    iceberg_metadata,
    make_topic,
    stack_versions,
    start_job,
)
from tests.integration.lake_maintenance_fixture import ChangeWriter
from tests.integration.private_pipeline import PrivatePipeline
from tests.stack import flink_rest_url, sql_gateway_url, stack_env

CHECKPOINT_S = 2
SNAPSHOT_EVERY_S = 10  # the reference ingestion's checkpoint interval
DAY_SNAPSHOTS = 24 * 3600 // SNAPSHOT_EVERY_S
RETENTION = timedelta(hours=6)
POLICY = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=2))


# -- files and scans ------------------------------------------------------------------------


def live_files(table: Any) -> dict[str, int]:
    """Live files of the current snapshot by kind, and the records of its data files."""
    counts = {"data_files": 0, "equality_delete_files": 0, "position_delete_files": 0, "data_records": 0}
    snapshot = table.current_snapshot()
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            content = entry.data_file.content
            if content == DataFileContent.DATA:
                counts["data_files"] += 1
                counts["data_records"] += entry.data_file.record_count
            elif content == DataFileContent.EQUALITY_DELETES:
                counts["equality_delete_files"] += 1
            else:
                counts["position_delete_files"] += 1
    return counts


class FullScan:
    """A Flink batch query reading every live row of a table, through the SQL Gateway."""

    def __init__(self, hook: IcebergHook) -> None:
        self.gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
        self.rest = FlinkRestClient(HttpSettings(flink_rest_url()))
        self.ddl = hook.flink_catalog_ddl("lake")

    def once(self, table: str) -> tuple[float, float, list[Any]]:
        """(wall s, Flink job duration s, the row of count and sums)."""
        query = f"SELECT COUNT(*), SUM(id), SUM(amount) FROM lake.{table}"
        props = {"execution.runtime-mode": "batch", "table.local-time-zone": "UTC"}
        with self.gateway.session(props, name="rtp-bench-scan") as session:
            self.gateway.execute(session, self.ddl)
            start = time.perf_counter()
            result = self.gateway.execute(session, query, timeout=900)
            wall = time.perf_counter() - start
        job_s = wall
        if result.job_id:
            job_s = self.rest.http.request("GET", f"/jobs/{result.job_id}")["duration"] / 1000
        return wall, job_s, [float(v) if v is not None else None for v in result.rows[0]]

    def median(self, table: str, runs: int) -> dict[str, Any]:
        scans = [self.once(table) for _ in range(runs)]
        rows = {tuple(r) for _, _, r in scans}
        if len(rows) != 1:
            raise SystemExit(f"{table}: the scans disagree while nothing is written: {rows}")
        return {
            "wall_s": round(statistics.median(w for w, _, _ in scans), 3),
            "flink_job_s": round(statistics.median(j for _, j, _ in scans), 3),
            "all_wall_s": [round(w, 3) for w, _, _ in scans],
            # Exact: the decimal sum as Flink prints it (a double's sum depends on the order).
            "count_sum_id_sum_amount": [str(v) for v in rows.pop()],
        }

    def close(self) -> None:
        self.gateway.close()
        self.rest.close()


class _TaskInstance:
    """What the operator needs of a task instance outside a DAG run: somewhere to push its link."""

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def compact(table: str, jar: str, rest: FlinkRestClient) -> dict[str, Any]:
    op = IcebergCompactOperator(task_id="bench_compact", table=table, partitions="all", jar=jar)
    start = time.perf_counter()
    result = op.execute({"ti": _TaskInstance()})
    wall = time.perf_counter() - start
    job_s = rest.http.request("GET", f"/jobs/{result['job_id']}")["duration"] / 1000
    return {**result, "wall_s": round(wall, 2), "flink_job_s": round(job_s, 2)}


# -- the sensor's evaluation ------------------------------------------------------------------


def cold_evaluations(check: CompletenessCheck, window: Window, runs: int) -> dict[str, Any]:
    """A complete window evaluated as a fresh worker would: no snapshot log in memory."""
    clients = CheckClients(check)
    try:
        times = []
        for _ in range(runs):
            iceberg_metadata._LATEST.clear()
            start = time.perf_counter()
            result = run_check(check, window, clients)
            times.append(time.perf_counter() - start)
            if result.verdict is not Verdict.COMPLETE:
                raise SystemExit(f"{check.pipeline.table}: expected a complete window\n{result.report}")
        return {"median_s": round(statistics.median(times), 4), "all_s": [round(t, 4) for t in times]}
    finally:
        clients.close()


def metadata_bytes(hook: IcebergHook, table: str) -> dict[str, int]:
    loaded = hook.load_table(table)
    return {
        "metadata_file_bytes": Path(urlparse(loaded.metadata_location).path).stat().st_size,
        "snapshots": len(loaded.metadata.snapshots),
    }


def expiry_step(
    hook: IcebergHook, table: str, policy: ExpiryPolicy, evaluate: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    before = {**metadata_bytes(hook, table), "evaluation": evaluate()}
    start = time.perf_counter()
    expired = expire_snapshots(hook.catalog, table, policy)
    took = time.perf_counter() - start
    after = {**metadata_bytes(hook, table), "evaluation": evaluate()}
    return {
        "before": before,
        "after": after,
        "expire_s": round(took, 2),
        "expired": len(expired.plan.to_expire) if expired.committed else 0,
        "deleted_files": len(expired.deleted),
    }


# -- the two parts ----------------------------------------------------------------------------


def compaction_part(hook: IcebergHook, minutes: float, runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    jar = str(Path(stack_env()["RTP_CACHE"]) / "jobs" / "rtp-maintenance.jar")
    pp = PrivatePipeline(checkpoint_interval_s=CHECKPOINT_S)
    scan = FullScan(hook)
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    try:
        pp.up(mirror=True)
        tables = {
            "changelog": (pp.table, pp.pipeline()),
            "upsert_mirror": (pp.mirror_table, pp.mirror_pipeline()),
        }
        writer = ChangeWriter(pp, rate=25).start()
        print(f"writing changes for {minutes:g} minutes into {pp.database}.orders ...")
        time.sleep(minutes * 60)
        changes = writer.stop()
        # A window ending just after the last change: once complete, every change is in both tables.
        end = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=2)
        window = Window(end - timedelta(minutes=1), end)
        for _, pipeline in tables.values():
            wait_complete(pipeline, window)
        figures: dict[str, Any] = {"changes_written": changes, "checkpoint_interval_s": CHECKPOINT_S}
        for kind, (table, _) in tables.items():
            before = {"files": live_files(hook.load_table(table)), "full_scan": scan.median(table, runs)}
            print(f"{kind}: before {before}")
            compacted = compact(table, jar, rest)
            after = {"files": live_files(hook.load_table(table)), "full_scan": scan.median(table, runs)}
            print(f"{kind}: after {after}")
            if (
                after["full_scan"]["count_sum_id_sum_amount"]
                != before["full_scan"]["count_sum_id_sum_amount"]
            ):
                raise SystemExit(f"{table}: the compaction changed what a full scan reads")
            rows_read = before["files"]["data_records"]
            figures[kind] = {
                "before": before,
                "after": after,
                "compaction": {
                    key: compacted.get(key)
                    for key in (
                        "partitions",
                        "replaced_data_files",
                        "replaced_delete_files",
                        "added_data_files",
                        "rewritten_records",
                        "attempts",
                        "wall_s",
                        "flink_job_s",
                    )
                },
                "compaction_rows_read": rows_read,
                "compaction_rows_read_per_s": round(rows_read / compacted["flink_job_s"]),
                "compaction_rows_written_per_s": round(
                    compacted["rewritten_records"] / compacted["flink_job_s"]
                ),
                "full_scan_speedup": round(
                    before["full_scan"]["flink_job_s"] / after["full_scan"]["flink_job_s"], 2
                ),
                "full_scan_wall_speedup": round(
                    before["full_scan"]["wall_s"] / after["full_scan"]["wall_s"], 2
                ),
            }
        expiry: dict[str, Any] = {}
        policy = ExpiryPolicy(older_than=timedelta(minutes=1))
        for kind, (table, pipeline) in tables.items():
            check = CompletenessCheck(pipeline, POLICY)
            expiry[kind] = expiry_step(hook, table, policy, lambda c=check: cold_evaluations(c, window, runs))
            print(f"{kind}: expiry {expiry[kind]}")
        return figures, expiry
    finally:
        scan.close()
        rest.close()
        pp.down()


def wait_complete(pipeline: Pipeline, window: Window) -> None:
    check = CompletenessCheck(pipeline, POLICY)
    clients = CheckClients(check)
    deadline = time.monotonic() + 300
    try:
        while True:
            result = run_check(check, window, clients)
            if result.verdict is Verdict.COMPLETE:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{pipeline.table}: window not complete in 300 s\n{result.report}")
            time.sleep(2)
    finally:
        clients.close()


def aging_part(hook: IcebergHook, runs: int) -> dict[str, Any]:
    """Tables one and four days old (one snapshot per 10 s checkpoint), expired to 6 hours."""
    base_ms = (int(time.time()) // 60 - 30) * MINUTE_MS
    window = Window(
        datetime.fromtimestamp(base_ms / 1000 + 240, tz=UTC),
        datetime.fromtimestamp(base_ms / 1000 + 300, tz=UTC),
    )
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=1))
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    cat = catalog()
    namespace = f"bench_lake_{uuid.uuid4().hex[:8]}"
    topics: list[str] = []
    tables: list[SyntheticTable] = []
    job_id = None
    try:
        topic, group = make_topic(8, base_ms)
        topics.append(topic)
        job_name, job_id = start_job(gateway, rest)
        job_start = next(j.start_time_ms for j in rest.list_jobs() if j.job_id == job_id)
        cat.create_namespace(namespace)
        out: dict[str, Any] = {"retention_hours": RETENTION.total_seconds() / 3600}
        for days in (1, 4):
            identifier = f"{namespace}.aged_{days}d"
            start = time.perf_counter()
            table = SyntheticTable(
                cat,
                identifier,
                days * DAY_SNAPSHOTS + 100,
                job_id,
                job_start,
                old_step_ms=SNAPSHOT_EVERY_S * 1000,
                current=100,
            )
            tables.append(table)
            print(f"built {identifier} in {time.perf_counter() - start:.1f} s")
            check = CompletenessCheck(Pipeline(identifier, (topic,), group, job_name), policy)
            step = expiry_step(
                hook,
                identifier,
                ExpiryPolicy(older_than=RETENTION),
                lambda c=check: cold_evaluations(c, window, runs),
            )
            out[f"{days}_day"] = step
            print(f"{days} day(s) old: {step}")
        return out
    finally:
        cleanup(cat, namespace, tables, topics, rest, job_id)
        rest.close()
        gateway.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="minutes of changes before compacting")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    for conn in ("AIRFLOW_CONN_RTP_DEFAULT", "AIRFLOW_CONN_KAFKA_DEFAULT", "AIRFLOW_CONN_ICEBERG_DEFAULT"):
        if conn not in os.environ:
            raise SystemExit(f"{conn} is not set: run this from `./dev shell`")
    hook = IcebergHook()
    compaction, expiry = compaction_part(hook, args.minutes, args.runs)
    aging = aging_part(hook, args.runs)
    figures = {
        "runs": args.runs,
        "minutes_of_changes": args.minutes,
        "compaction": compaction,
        "expiry_real_tables": expiry,
        "expiry_aged_tables": aging,
        "goals": {"full_scan_speedup": 3.0, "evaluation_time": "flat across table ages after expiry"},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for kind in ("changelog", "upsert_mirror"):
        c = compaction[kind]
        print(
            f"{kind:<14} files data {c['before']['files']['data_files']} -> "
            f"{c['after']['files']['data_files']}, "
            f"eq deletes {c['before']['files']['equality_delete_files']} -> "
            f"{c['after']['files']['equality_delete_files']}; full scan (Flink job) "
            f"{c['before']['full_scan']['flink_job_s']} s -> {c['after']['full_scan']['flink_job_s']} s "
            f"({c['full_scan_speedup']}x); compaction {c['compaction_rows_read_per_s']:,} rows read/s"
        )
    for days in (1, 4):
        step = aging[f"{days}_day"]
        print(
            f"{days} day(s) old: metadata {step['before']['metadata_file_bytes']:,} -> "
            f"{step['after']['metadata_file_bytes']:,} bytes, evaluation "
            f"{step['before']['evaluation']['median_s']} s -> {step['after']['evaluation']['median_s']} s"
        )
    print(f"wrote {write_results(__file__, figures, stack_versions())}")


if __name__ == "__main__":
    main()
