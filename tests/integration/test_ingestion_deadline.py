"""The completeness sensor's deadline on the reference pipeline, driven by real `airflow dags test` runs.

A window whose deadline passes while the sensor waits alerts exactly once (poke and
deferrable mode: there the trigger hands the miss to the worker); a window that completes
before its deadline never alerts. Both runs' logs state where the window stood.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.dagrun import start_dag, warm_runners

pytestmark = pytest.mark.usefixtures("stack")

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_deadline.py"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stored(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_missed_deadline_alerts_once_and_a_kept_one_never(tmp_path: Path) -> None:
    warm_runners(DAG_FILE, 3)
    # Open well after each task's first evaluation, even on a busy machine.
    first = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=30)
    # One window each: a window's miss is alerted once per table, whichever run saw it. The
    # deferrable run's window ends well after its first evaluation (slow on a busy machine), so
    # the miss is seen in the trigger and handed to the worker.
    windows = {}
    runs = {}
    offsets = {
        "rtp_it_deadline_missed_poke": 0,
        "rtp_it_deadline_missed_deferrable": 25,
        "rtp_it_deadline_kept": 1,
    }
    for dag_id, offset in offsets.items():
        start = first + timedelta(seconds=offset)
        windows[dag_id] = (start, start + timedelta(seconds=15))
        conf = {
            "start": iso(start),
            "end": iso(windows[dag_id][1]),
            "alerts": str(tmp_path / f"{dag_id}.alerts"),
        }
        runs[dag_id] = start_dag(DAG_FILE, dag_id, conf, tmp_path / f"{dag_id}.log")
    for dag_id, run in runs.items():
        start, end = windows[dag_id]
        assert run.wait(timeout=400) == 0, dag_id
        log = (tmp_path / f"{dag_id}.log").read_text()
        assert "state=success" in log, log[-3000:]
        alerts_file = tmp_path / f"{dag_id}.alerts"
        alerts = (
            [json.loads(line) for line in alerts_file.read_text().splitlines()]
            if alerts_file.exists()
            else []
        )
        if dag_id == "rtp_it_deadline_kept":
            assert alerts == [], alerts
            assert re.search(r"deadline \S+ in \d", log) and "missed by" not in log, log[-3000:]
            continue
        # Missed at the window end, and still waited on for the clock-skew margin and a checkpoint.
        assert len(alerts) == 1, alerts
        alert = alerts[0]
        assert alert["window"] == {"start": stored(start), "end": stored(end)}
        assert alert["missed"] is True and alert["missed_by_seconds"] >= 0
        assert "→ WAITING" in alert["report"] and "missed by" in alert["report"]
        assert "on_deadline_missed callback(s)" in log and "missed by" in log, log[-3000:]
        assert log.count("on_deadline_missed callback(s)") == 1, log[-3000:]
        if dag_id == "rtp_it_deadline_missed_deferrable":
            deferred = log.find("Pausing task as DEFERRED")
            assert 0 <= deferred < log.find("on_deadline_missed callback(s)"), log[-3000:]
