"""The Airflow deployment of `./dev airflow`, started once per session and driven only through its
public REST API (/api/v2, a JWT from the simple auth manager's /auth/token) and its CLI.

The session starts every run the tests judge right away (``scenario``), so their waits overlap:
the open windows of the deferrable, the killed-triggerer and the reschedule runs, the backfill
of the last three closed hours and the asset watcher's hours all progress at the same time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.integration.test_ingestion_sensor import iso
from tests.stack import REPO, host, port, stack_env

T = TypeVar("T")
DEV = str(REPO / "dev")
HOURLY = "rtp_orders_hourly"
DEFERRABLE = "rtp_orders_hourly_deferrable"
ON_EVENT = "rtp_orders_on_event"
SENSOR = "orders_hour_in_lake"
BATCH = "hourly_batch"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 2) -> T:
    """``probe()`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


class AirflowApi:
    """The public REST API with a token of the deployment's admin."""

    def __init__(self) -> None:
        env = stack_env()
        self.base = f"http://{host()}:{port('AIRFLOW_API_PORT')}"
        answer = requests.post(
            f"{self.base}/auth/token",
            json={"username": env["AIRFLOW_ADMIN_USER"], "password": env["AIRFLOW_ADMIN_PASSWORD"]},
            timeout=30,
        )
        answer.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
        return answer.json() if answer.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    # -- what the tests ask --------------------------------------------------
    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})[
            "dag_run_id"
        ]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=100, **params)["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def returned(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")[
            "value"
        ]

    def asset_id(self, name: str) -> int:
        assets = self.get("/assets", name_pattern=name)["assets"]
        return next(a["id"] for a in assets if a["name"] == name)

    def asset(self, name: str) -> dict[str, Any]:
        return self.get(f"/assets/{self.asset_id(name)}")

    def asset_events(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self.get("/assets/events", asset_id=self.asset_id(name), limit=500, **params)["asset_events"]

    def finished(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        run = self.run(dag_id, run_id)
        return run if run["state"] in ("success", "failed") else None

    def reparse(self, dag_id: str) -> None:
        token = self.get(f"/dags/{dag_id}/details")["file_token"]
        self.call("PUT", f"/parseDagFile/{token}")


def dev_airflow(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    out = subprocess.run(
        [DEV, "airflow", *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    assert out.returncode == 0, f"./dev airflow {' '.join(args)}: {out.stdout[-2000:]}{out.stderr[-3000:]}"
    return out.stdout + out.stderr


@dataclass
class Deployment:
    api: AirflowApi
    env: dict[str, str]
    #: the watcher's first window: three closed hours are behind it when the session starts
    events_start: datetime
    started_at: datetime

    def cli(self, *args: str) -> str:
        return dev_airflow("cli", *args, env=self.env)

    def kill_triggerer(self) -> None:
        """SIGKILL, as a crash: no cleanup, its triggers are left assigned to a dead triggerer."""
        pid = int((Path(stack_env()["RTP_STATE"]) / "run" / "airflow-triggerer.pid").read_text())
        os.killpg(pid, signal.SIGKILL)

    def up(self) -> str:
        return dev_airflow("up", env=self.env)


@pytest.fixture(scope="session")
def deployment(stack: None) -> Iterator[Deployment]:
    """`./dev airflow up` with the example DAGs unpaused; `./dev airflow down` at the end."""
    now = datetime.now(tz=UTC)
    events_start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    env = {**os.environ, "RTP_ORDERS_EVENTS_START": iso(events_start)}
    dev_airflow("down", env=env)  # a deployment started by hand has another watcher start
    try:
        dev_airflow("up", env=env)
        api = AirflowApi()
        wanted = {HOURLY, DEFERRABLE, ON_EVENT}
        wait_for(
            "the example DAGs parsed",
            lambda: wanted <= {d["dag_id"] for d in api.get("/dags", limit=100)["dags"]},
            180,
        )
        for dag_id in (HOURLY, DEFERRABLE, ON_EVENT):
            api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        yield Deployment(api, env, events_start, now)
    finally:
        dev_airflow("down", env=env)


@dataclass
class Scenario:
    """The runs started at the session's beginning, by the test that judges them."""

    deferred_window: tuple[datetime, datetime]
    deferred_run: str
    killed_window: tuple[datetime, datetime]
    killed_run: str
    reschedule_window: tuple[datetime, datetime]
    reschedule_run: str
    backfill_hours: list[datetime]
    backfill_output: str
    #: every state the sensor of each open-window run was seen in, polled every second
    states: dict[str, list[str]] = field(default_factory=dict)


def watch_sensor_states(runs: dict[str, str], states: dict[str, list[str]], timeout: float = 420) -> None:
    """Record the sensor states of ``runs`` ({run_id: dag_id}) in the background until they end."""
    api = AirflowApi()

    def poll() -> None:
        deadline = time.monotonic() + timeout
        pending = dict(runs)
        while pending and time.monotonic() < deadline:
            for run_id, dag_id in list(pending.items()):
                try:
                    state = api.task_states(dag_id, run_id).get(SENSOR)
                    over = api.finished(dag_id, run_id)
                except (requests.RequestException, AssertionError):
                    continue  # the api-server is busy: ask again
                seen = states.setdefault(run_id, [])
                if state and (not seen or seen[-1] != state):
                    seen.append(state)
                if over:
                    del pending[run_id]
            time.sleep(1)

    threading.Thread(target=poll, daemon=True).start()


@pytest.fixture(scope="session")
def scenario(deployment: Deployment) -> Scenario:
    api = deployment.api
    # Open windows: they start 40 s from now (a task's first look falls inside them even on a busy
    # machine) and last 30 s, so each sensor must wait, then completes within a minute of the end.
    t0 = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=40)
    deferred = (t0, t0 + timedelta(seconds=30))
    killed = (t0 + timedelta(seconds=5), t0 + timedelta(seconds=35))
    rescheduled = (t0 + timedelta(seconds=10), t0 + timedelta(seconds=40))

    def start(dag_id: str, window: tuple[datetime, datetime]) -> str:
        return api.trigger(dag_id, {"window_start": iso(window[0]), "window_end": iso(window[1])})

    deferred_run = start(DEFERRABLE, deferred)
    killed_run = start(DEFERRABLE, killed)
    reschedule_run = start(HOURLY, rescheduled)
    states: dict[str, list[str]] = {}
    watch_sensor_states({deferred_run: DEFERRABLE, killed_run: DEFERRABLE, reschedule_run: HOURLY}, states)
    # The watcher starts once its asset is active and the file parsed again (test_asset_watcher).
    api.reparse(ON_EVENT)
    # The backfill: the last three closed hours. Unpaused, the DAG has run the last one on its own;
    # the backfill runs it again (reprocess completed runs), so that run must be over first.
    hour = deployment.started_at.replace(minute=0, second=0, microsecond=0)
    hours = [hour - timedelta(hours=k) for k in (3, 2, 1)]

    def last_hour_run_over() -> bool:
        # Created by the scheduler after the unpause (on a new database: seconds later); a session
        # earlier in the same hour has backfilled it already (its run type is then "backfill").
        runs = api.runs(HOURLY, logical_date_gte=iso(hours[-1]))
        runs = [r for r in runs if r["run_type"] in ("scheduled", "backfill")]
        return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)

    wait_for("the scheduled run of the last closed hour is over", last_hour_run_over, 180)
    output = deployment.cli(
        "backfill", "create", "--dag-id", HOURLY,
        "--from-date", iso(hours[0]), "--to-date", iso(hours[-1]),
        "--reprocess-behavior", "completed",
    )  # fmt: skip
    return Scenario(
        deferred, deferred_run, killed, killed_run, rescheduled, reschedule_run, hours, output, states
    )
