"""The example DAGs in a real deployment: scheduler, dag-processor, triggerer, api-server, LocalExecutor.

Everything is asked through the public REST API and the CLI. The runs are started together at the
session's beginning (conftest.scenario); each test judges its own. The tests run in this order:
the triggerer is killed while the sensors are deferred, so the others see its restart too.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.deployment.conftest import (
    BATCH,
    DEFERRABLE,
    HOURLY,
    ON_EVENT,
    SENSOR,
    AirflowApi,
    Deployment,
    Scenario,
    wait_for,
)
from tests.integration.conftest import connect_mariadb
from tests.integration.test_ingestion_sensor import assert_snapshot_holds_window, lake_rows_at, parse

pytestmark = pytest.mark.deployment

TABLE_ASSET = "lake.ods.orders"
EVENTS_ASSET = "lake.ods.orders.events"
KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"  # partition keys: the window start, UTC


def succeeded(api: AirflowApi, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
    run = wait_for(f"{dag_id} {run_id} over", lambda: api.finished(dag_id, run_id), timeout)
    tasks = api.task_states(dag_id, run_id)
    assert run["state"] == "success", f"{dag_id} {run_id}: {run['state']}, tasks {tasks}"
    return run


def decided(api: AirflowApi, dag_id: str, run_id: str, window: tuple[datetime, datetime]) -> dict[str, Any]:
    """The sensor's XCom for the run: its window is the one asked for, decided after the window's end;
    the batch task got the same snapshot."""
    decision = api.returned(dag_id, run_id, SENSOR)
    assert (parse(decision["window"]["start"]), parse(decision["window"]["end"])) == window
    assert parse(decision["decided_at"]) > window[1], decision
    batch = api.returned(dag_id, run_id, BATCH)
    assert batch["snapshot_id"] == decision["snapshot_id"], (batch, decision)
    assert batch["window"] == decision["window"]
    return decision


def table_events(api: AirflowApi, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    return api.asset_events(TABLE_ASSET, source_dag_id=dag_id, source_run_id=run_id)


def test_killed_triggerer_the_deferred_sensor_still_succeeds_once(
    deployment: Deployment, scenario: Scenario
) -> None:
    api = deployment.api
    run_id = scenario.killed_run
    wait_for(
        "the sensor deferred", lambda: api.task_states(DEFERRABLE, run_id).get(SENSOR) == "deferred", 120, 1
    )
    # The watcher records an hour as done seconds after announcing it: killed in between, it
    # announces that hour again (README). Its past hours are announced first, while the sensor waits.
    keys = {(deployment.events_start + timedelta(hours=k)).strftime(KEY_FORMAT) for k in range(3)}
    wait_for(
        "the watcher's past hours announced",
        lambda: keys <= {e["extra"]["payload"]["partition_key"] for e in api.asset_events(EVENTS_ASSET)},
        60,
    )
    time.sleep(5)
    assert api.task_states(DEFERRABLE, run_id).get(SENSOR) == "deferred"
    deployment.kill_triggerer()
    # A crashed triggerer's triggers go to the next one once its heartbeat is stale.
    deployment.up()
    succeeded(api, DEFERRABLE, run_id, 300)
    decision = decided(api, DEFERRABLE, run_id, scenario.killed_window)
    events = table_events(api, DEFERRABLE, run_id)
    assert [e["partition_key"] for e in events] == [scenario.killed_window[0].strftime(KEY_FORMAT)], events
    assert events[0]["extra"]["snapshot_id"] == decision["snapshot_id"]


def test_deferrable_sensor_waits_in_the_triggerer_and_hands_over_its_snapshot(
    deployment: Deployment, scenario: Scenario
) -> None:
    api = deployment.api
    run_id = scenario.deferred_run
    succeeded(api, DEFERRABLE, run_id, 300)
    seen = scenario.states.get(run_id, [])
    assert "deferred" in seen, f"sensor states seen: {seen}"
    assert seen[-1] == "success" and seen.index("deferred") < len(seen) - 1, seen
    decision = decided(api, DEFERRABLE, run_id, scenario.deferred_window)
    # It waited: decided no earlier than the window's end plus lateness and clock-skew margin.
    assert parse(decision["decided_at"]) >= scenario.deferred_window[1] + timedelta(seconds=15), decision
    assert len(table_events(api, DEFERRABLE, run_id)) == 1


def test_reschedule_mode_holds_no_worker_slot_while_waiting(
    deployment: Deployment, scenario: Scenario
) -> None:
    api = deployment.api
    run_id = scenario.reschedule_run
    succeeded(api, HOURLY, run_id, 300)
    seen = scenario.states.get(run_id, [])
    # up_for_reschedule: no process runs the task between pokes (a poke-mode sensor stays running).
    assert "up_for_reschedule" in seen, f"sensor states seen: {seen}"
    assert "deferred" not in seen, seen
    ti = api.task_instance(HOURLY, run_id, SENSOR)
    assert ti["try_number"] == 1, f"pokes were retries, not reschedules: {ti}"
    decided(api, HOURLY, run_id, scenario.reschedule_window)


def test_backfill_of_the_last_three_hours_decides_each_window_for_itself(
    deployment: Deployment, scenario: Scenario
) -> None:
    api = deployment.api
    hours = scenario.backfill_hours

    def backfill_runs() -> list[dict[str, Any]] | None:
        runs = [r for r in api.runs(HOURLY, run_type="backfill") if parse(r["data_interval_start"]) in hours]
        return runs if len(runs) == len(hours) else None

    runs = wait_for(f"backfill runs of {hours}: {scenario.backfill_output[-500:]}", backfill_runs, 120)
    decisions: dict[datetime, dict[str, Any]] = {}
    for run in runs:
        succeeded(api, HOURLY, run["dag_run_id"], 300)
        start = parse(run["data_interval_start"])
        assert parse(run["data_interval_end"]) == start + timedelta(hours=1)
        decisions[start] = decided(api, HOURLY, run["dag_run_id"], (start, start + timedelta(hours=1)))
    assert sorted(decisions) == hours
    # Each snapshot holds every row whose last change lies before its own window's end.
    lake = lake_rows_at(*{d["snapshot_id"] for d in decisions.values()})
    db = connect_mariadb()
    try:
        for start, decision in decisions.items():
            snapshot_id = int(decision["snapshot_id"])
            end = start + timedelta(hours=1)
            assert_snapshot_holds_window(db, snapshot_id, end, {"deleted": []}, lake[snapshot_id])
    finally:
        db.close()


def test_asset_watcher_announces_each_hour_once_and_its_consumer_runs_once_per_hour(
    deployment: Deployment, scenario: Scenario
) -> None:
    api = deployment.api
    hours = [deployment.events_start + timedelta(hours=k) for k in range(3)]
    keys = {h.strftime(KEY_FORMAT) for h in hours}

    def watcher_running() -> bool:
        if api.asset(EVENTS_ASSET).get("watchers"):
            return True
        api.reparse(ON_EVENT)  # its asset became active after the file's last parse
        return False

    wait_for("the asset watcher registered", watcher_running, 180, 15)

    def announced() -> list[dict[str, Any]] | None:
        events = [e for e in api.asset_events(EVENTS_ASSET) if e["extra"]["payload"]["partition_key"] in keys]
        return events if {e["extra"]["payload"]["partition_key"] for e in events} == keys else None

    events = wait_for(f"events for {sorted(keys)}", announced, 180)
    by_key = sorted(e["extra"]["payload"]["partition_key"] for e in events)
    assert by_key == sorted(keys), f"an hour announced twice (or missing): {by_key}"
    for event in events:
        payload = event["extra"]["payload"]
        start = datetime.strptime(payload["partition_key"], KEY_FORMAT).replace(tzinfo=UTC)
        assert (parse(payload["window"]["start"]), parse(payload["window"]["end"])) == (
            start,
            start + timedelta(hours=1),
        )
        assert payload["snapshot_id"] and parse(payload["decided_at"]) > start + timedelta(hours=1)
    event_ids = {e["id"] for e in events}

    def consumed() -> dict[int, str] | None:
        runs: dict[int, str] = {}
        for run in api.runs(ON_EVENT, run_type="asset_triggered"):
            upstream = api.get(f"/dags/{ON_EVENT}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
            for e in upstream["asset_events"]:
                if e["id"] in event_ids:
                    assert e["id"] not in runs, f"event {e['id']} consumed by two runs"
                    runs[e["id"]] = run["dag_run_id"]
        return runs if set(runs) == event_ids else None

    runs = wait_for("a consumer run for each announced hour", consumed, 120)
    assert len(set(runs.values())) == len(hours), f"one run for several hours: {runs}"
    for run_id in set(runs.values()):
        succeeded(api, ON_EVENT, run_id, 120)


def test_freshness_page_shows_the_backfilled_hours_complete(
    deployment: Deployment, scenario: Scenario
) -> None:
    """The provider's Lake freshness page (plugin) in the deployment: the hours the backfill decided are
    complete there with the snapshot their sensors handed out; no token, no page."""
    api = deployment.api
    snapshots = backfilled_snapshots(api, scenario)
    answer = api.session.get(
        f"{api.base}/rtp-freshness/api/freshness", params={"windows": 8, "table": "ods.orders"}, timeout=60
    )
    assert answer.ok, answer.text[:500]
    (pipeline,) = answer.json()["pipelines"]
    shown = {
        w["window"]["start"]: (w["status"], w["snapshot_id"])
        for w in pipeline["windows"]
        if w["window"]["start"] in snapshots
    }
    assert shown == {start: ("complete", snapshot) for start, snapshot in snapshots.items()}, pipeline
    assert requests.get(f"{api.base}/rtp-freshness/", timeout=30).status_code in (401, 403)


def backfilled_snapshots(api: AirflowApi, scenario: Scenario) -> dict[str, str]:
    """{window start: snapshot id} of the backfilled hours, as their sensors handed them out, once
    their runs succeeded; starts as the freshness page and its JSON write them."""
    snapshots = {}
    for run in api.runs(HOURLY, run_type="backfill"):
        start = parse(run["data_interval_start"])
        if start in scenario.backfill_hours:
            succeeded(api, HOURLY, run["dag_run_id"], 300)
            snapshots[iso_hour(start)] = str(api.returned(HOURLY, run["dag_run_id"], SENSOR)["snapshot_id"])
    assert len(snapshots) == len(scenario.backfill_hours), snapshots
    return snapshots


def iso_hour(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
