"""The completeness sensor on the reference pipeline, driven by real `airflow dags test` runs.

Windows are seconds long so that a test sees them open, fill and complete. The
covering snapshot is checked against MariaDB with a Flink batch query at that
snapshot: every row whose last change lies before the window end is there, as is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
import pytest

from airflow_provider_rtp.flink import HttpSettings, SqlGatewayClient
from tests.integration.dagrun import asset_events, returned, run_dag, start_dag, warm_runners
from tests.integration.test_reference_pipeline import lake_session_statements
from tests.stack import sql_gateway_url

pytestmark = pytest.mark.usefixtures("stack")

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_completeness.py"
ASSET = "lake.ods.orders"
CHECKPOINT_INTERVAL = 10  # ods-orders-ingest, stack/pipeline/ods-orders.sql
POKE_INTERVAL = 3  # the test DAGs'
CLOCK_SKEW_MARGIN = 5  # the sensor's default


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def change_rows(db: pymysql.connections.Connection, count: int) -> dict[str, list[int]]:
    """Inserts, then updates and deletes some of them: each its own transaction."""
    ids: dict[str, list[int]] = {"inserted": [], "deleted": []}
    with db.cursor() as cur:
        for i in range(count):
            cur.execute(
                "INSERT INTO orders (customer_id, amount, status) VALUES (%s, %s, 'new')", (9000 + i, 10 + i)
            )
            ids["inserted"].append(cur.lastrowid)
        for row_id in ids["inserted"][::2]:
            cur.execute("UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id = %s", (row_id,))
        victim = ids["inserted"][-1]
        cur.execute("DELETE FROM orders WHERE id = %s", (victim,))
        ids["deleted"].append(victim)
    return ids


def rows_changed_before(db: pymysql.connections.Connection, end: datetime) -> dict[int, tuple[str, str]]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT id, status, CAST(amount AS CHAR) FROM orders WHERE updated_at < FROM_UNIXTIME(%s)",
            (end.timestamp(),),
        )
        return {int(r[0]): (str(r[1]), str(r[2])) for r in cur.fetchall()}


def lake_rows_at(*snapshot_ids: int) -> dict[int, dict[int, list[tuple[str, str]]]]:
    """Each snapshot's rows as Flink reads them, {snapshot: {id: [(status, amount)]}}: one batch
    job for all of them."""
    reads = [
        f"SELECT CAST({int(sid)} AS BIGINT) AS snap, id, status, CAST(amount AS STRING) AS amount "
        f"FROM lake.ods.orders /*+ OPTIONS('snapshot-id'='{int(sid)}') */"
        for sid in snapshot_ids
    ]
    gateway = SqlGatewayClient(HttpSettings(sql_gateway_url()))
    try:
        results = gateway.run_script(
            [*lake_session_statements(), " UNION ALL ".join(reads)],
            session_properties={"execution.runtime-mode": "batch"},
            timeout=120,
        )
    finally:
        gateway.close()
    out: dict[int, dict[int, list[tuple[str, str]]]] = {int(sid): {} for sid in snapshot_ids}
    for snap, row_id, status, amount in results[-1].rows:
        out[int(snap)].setdefault(int(row_id), []).append((str(status), str(amount)))
    return out


def assert_snapshot_holds_window(
    db: pymysql.connections.Connection, snapshot_id: int, end: datetime, ids, lake=None
) -> None:
    """``lake``: the snapshot's rows when already read (lake_rows_at), else they are read here."""
    expected = rows_changed_before(db, end)
    lake = lake if lake is not None else lake_rows_at(snapshot_id)[int(snapshot_id)]
    missing = {i: v for i, v in expected.items() if lake.get(i) != [v]}
    assert not missing, (
        f"snapshot {snapshot_id} lacks or differs for rows changed before {iso(end)}: {missing}"
    )
    for row_id in ids["deleted"]:
        assert row_id not in lake, (
            f"row {row_id} was deleted before {iso(end)} but is in snapshot {snapshot_id}"
        )


def wait_until(t: datetime) -> None:
    delay = (t - datetime.now(tz=UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def test_consecutive_windows_complete_promptly_and_hold_their_rows(mariadb, tmp_path: Path) -> None:
    """Happy path: each window completes within poke + 2 checkpoints after its target, with its rows."""
    # Runners with Airflow imported start a task within seconds, on a busy machine within half a
    # minute: its window must still be open at the sensor's first look.
    warm_runners(DAG_FILE, 2)
    t0 = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=25)
    length = timedelta(seconds=30)
    windows = [(t0 + k * length, t0 + (k + 1) * length) for k in range(2)]
    # Both sensors start now, while their windows are open: they must wait, then complete.
    runs = [
        start_dag(DAG_FILE, "rtp_it_complete_poke", {"start": iso(s), "end": iso(e)}, tmp_path / f"w{i}.log")
        for i, (s, e) in enumerate(windows)
    ]
    changed = []
    for start, end in windows:
        wait_until(start + timedelta(seconds=5))
        changed.append(change_rows(mariadb, 4))
        wait_until(end - timedelta(seconds=10))
        changed[-1]["inserted"] += change_rows(mariadb, 2)["inserted"]
    decided = []
    for i, proc in enumerate(runs):
        assert proc.wait(timeout=300) == 0
        log = (tmp_path / f"w{i}.log").read_text()
        assert "state=success" in log, log[-3000:]
        assert "→ WAITING" in log, "the sensor answered before its window closed"
        start, end = windows[i]
        xcom = returned("rtp_it_complete_poke", log)
        assert (parse(xcom["window"]["start"]), parse(xcom["window"]["end"])) == (start, end)
        delay = (parse(xcom["decided_at"]) - end).total_seconds()
        assert delay >= CLOCK_SKEW_MARGIN, f"decided {delay:.1f}s after the window end, before its target"
        bound = CLOCK_SKEW_MARGIN + POKE_INTERVAL + 2 * CHECKPOINT_INTERVAL
        assert delay <= bound, f"window {i} decided {delay:.1f}s after its end (bound {bound}s)"
        decided.append((xcom["snapshot_id"], end, changed[i]))
    lake = lake_rows_at(*{snapshot_id for snapshot_id, _, _ in decided})
    for snapshot_id, end, ids in decided:
        assert_snapshot_holds_window(mariadb, snapshot_id, end, ids, lake[snapshot_id])


@pytest.mark.parametrize("mode", ["deferrable", "reschedule"])
def test_other_modes_wait_then_complete_with_the_same_evaluator(mode: str, tmp_path: Path) -> None:
    # The window closes well after the task's first evaluation, even on a busy machine (Airflow is
    # imported before the window is placed).
    warm_runners(DAG_FILE, 1)
    start = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=30)
    end = start + timedelta(seconds=25)
    dag_id = f"rtp_it_complete_{mode}"
    proc = start_dag(DAG_FILE, dag_id, {"start": iso(start), "end": iso(end)}, tmp_path / "run.log")
    assert proc.wait(timeout=300) == 0
    log = (tmp_path / "run.log").read_text()
    assert "state=success" in log, log[-3000:]
    assert "→ WAITING" in log and "→ COMPLETE" in log
    if mode == "deferrable":
        assert "IngestionCompleteTrigger" in log or "deferred" in log.lower(), log[-3000:]
    xcom = returned(dag_id, log)
    assert (parse(xcom["decided_at"]) - end).total_seconds() >= CLOCK_SKEW_MARGIN


def _window_with_changes(db: pymysql.connections.Connection) -> dict[str, str]:
    """A window that holds changes, ending now. A window without any record owes no commit and
    is complete whatever the group's name (e.g. minutes before a fresh stack's pipeline started):
    a misspelt group shows only where a commit is owed."""
    now = datetime.now(tz=UTC)
    change_rows(db, 2)
    return {"start": iso(now - timedelta(minutes=1)), "end": iso(datetime.now(tz=UTC))}


def _future_window() -> dict[str, str]:
    start = datetime.now(tz=UTC) + timedelta(days=30)
    return {"start": iso(start), "end": iso(start + timedelta(hours=1))}


BAD_INPUT = {
    "unknown table": ({"table": "ods.no_such_table"}, ["ods.no_such_table"]),
    "unknown topic": ({"topic": "shop.no_such_topic"}, ["shop.no_such_topic"]),
    "unknown group": ({"group": "rtp-no-such-group"}, ["rtp-no-such-group"]),
    "unknown job": ({"job": "no-such-ingest-job"}, ["no-such-ingest-job"]),
    "naive datetimes": (
        {"start": "2026-11-24T10:00:00", "end": "2026-11-24T11:00:00"},
        ["window start", "has no timezone"],
    ),
    "window far in the future": ({}, ["after now"]),
}


class TestPastMinutes:
    """Whole past minutes of lake.ods.orders: these tests run one after the other in one test
    process (a class is one unit of parallel runs): side by side, one's decisions and asset
    events would show in the other's."""

    def test_decided_window_run_again_gets_the_same_snapshot_and_one_partitioned_event_each(
        self,
        tmp_path: Path,
    ) -> None:
        end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
        conf = {"start": iso(end - timedelta(minutes=1)), "end": iso(end)}
        since = datetime.now(tz=UTC)
        ok, first_log = run_dag(DAG_FILE, "rtp_it_complete_poke", conf)
        assert ok, first_log[-3000:]
        first = returned("rtp_it_complete_poke", first_log)
        ok, again_log = run_dag(DAG_FILE, "rtp_it_complete_poke", conf)
        assert ok, again_log[-3000:]
        again = returned("rtp_it_complete_poke", again_log)
        assert again["snapshot_id"] == first["snapshot_id"]
        assert again["decided_at"] == first["decided_at"] and "reused" in again_log
        events = [e for e in asset_events(ASSET, since) if e["extra"].get("window") == first["window"]]
        assert [e["partition_key"] for e in events] == [
            (end - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
        ] * 2
        assert all(e["extra"]["snapshot_id"] == first["snapshot_id"] for e in events)

    def test_catchup_over_six_past_windows_completes_each_with_its_rows(self, mariadb) -> None:
        """Backfill: runs for six past minutes (data intervals) complete without waiting for new data."""
        # The newest window ended at least 40 s ago: its changes (plus the clock-skew margin) are
        # past the CDC watermark by now, so no run has a reason to wait.
        newest_end = (datetime.now(tz=UTC) - timedelta(seconds=40)).replace(second=0, microsecond=0)
        last = newest_end - timedelta(minutes=1)
        decided: list[tuple[int, datetime]] = []
        for k in range(6, 0, -1):
            start = last - timedelta(minutes=k - 1)
            began = time.monotonic()
            # A data-interval timetable's run for [start, start + 1m) is dated at its end.
            end = start + timedelta(minutes=1)
            ok, log = run_dag(DAG_FILE, "rtp_it_complete_catchup", {}, logical_date=end.isoformat())
            assert ok, log[-3000:]
            xcom = returned("rtp_it_complete_catchup", log)
            assert (parse(xcom["window"]["start"]), parse(xcom["window"]["end"])) == (start, end)
            assert "→ WAITING" not in log or "reused" in log, "a past window waited for new data"
            assert time.monotonic() - began < 90
            decided.append((xcom["snapshot_id"], end))
        lake = lake_rows_at(*{snapshot_id for snapshot_id, _ in decided})
        for snapshot_id, end in decided:
            assert_snapshot_holds_window(mariadb, snapshot_id, end, {"deleted": []}, lake[snapshot_id])

    def test_bad_input_fails_the_task_fast_naming_the_problem(self, mariadb, tmp_path: Path) -> None:
        """All cases run at once: each task fails within two minutes, its log naming the problem."""
        began = time.monotonic()
        changed = _window_with_changes(mariadb)
        runs = {}
        for i, (case, (conf, _)) in enumerate(BAD_INPUT.items()):
            window = _future_window() if case == "window far in the future" else changed
            runs[case] = start_dag(
                DAG_FILE, "rtp_it_complete_named", {**window, **conf}, tmp_path / f"{i}.log"
            )
        for i, (case, (_, needles)) in enumerate(BAD_INPUT.items()):
            code = runs[case].wait(timeout=240)
            log = (tmp_path / f"{i}.log").read_text()
            assert code != 0 or "state=failed" in log, f"{case}: the task did not fail\n{log[-3000:]}"
            assert "state=success" not in log, case
            for needle in needles:
                assert needle in log, f"{case}: {needle!r} not in the failure:\n{log[-3000:]}"
        assert time.monotonic() - began < 180, "bad input must fail fast, not wait"
