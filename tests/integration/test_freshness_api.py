"""The Lake freshness API in-process (FastAPI's TestClient) on the real stack and metadata DB.

Real sensor runs write the state: one decides a past minute of lake.ods.orders (its decision
goes to the table asset's state store as every sensor's does), another fails at once on a
missing pipelines file. The API must show both windows as such, evaluate the reference
pipeline live with the sensor's evaluator, link its Flink job, and refuse strangers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.dagrun import returned, run_dag
from tests.stack import REPO

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_freshness.py"
PIPELINES = str(REPO / "stack" / "pipelines.yaml")


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("AIRFLOW__RTP__PIPELINES_FILE", PIPELINES)
    monkeypatch.setenv("AIRFLOW__RTP__FRESHNESS_WINDOW", "PT1M")  # the stack's minute windows
    from airflow_provider_rtp.plugins.freshness_app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def token() -> str:
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager: Any = create_auth_manager()
    return str(manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin")))


#: The grid this test asks for (minute windows): far enough back to find minutes nobody decided.
GRID = 720


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _two_free_minutes(client: TestClient, token: str) -> list[tuple[datetime, datetime]]:
    """Two past minutes of lake.ods.orders, an hour back or more, that nothing decided or failed
    yet: other tests and runs decide minutes of this table, and a decision of the window this
    test fails would win over its failed task."""
    response = client.get(
        "/api/freshness",
        params={"table": "ods.orders", "windows": GRID},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["pipelines"][0]["windows"][60:]
    free = [w["window"] for w in rows if w["source"] == "none"]
    assert len(free) >= 2, "no undecided minutes left in the grid"
    return [(_parse(w["start"]), _parse(w["end"])) for w in random.sample(free, 2)]


def _answer(client: TestClient, token: str, **params: Any) -> dict[str, Any]:
    """The API's answer once the live evaluations have answered: the first request waits only its
    budget (the live part is then "running"); the evaluation goes on and a later request gets it."""
    deadline = time.monotonic() + 120
    while True:
        response = client.get("/api/freshness", params=params, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        late = [p for p in body["pipelines"] if p["live"]["running"]]
        if not late or time.monotonic() > deadline:
            return body
        time.sleep(1)


def test_real_windows_live_stages_links_and_auth(client: TestClient, token: str) -> None:
    (ok_start, ok_end), (bad_start, bad_end) = _two_free_minutes(client, token)
    ok, log = run_dag(
        DAG_FILE, "rtp_it_freshness", {"pipelines": PIPELINES, "start": iso(ok_start), "end": iso(ok_end)}
    )
    assert ok, log[-3000:]
    decided = returned("rtp_it_freshness", log)
    missing = "/nonexistent/rtp-pipelines.yaml"
    failed, log = run_dag(
        DAG_FILE, "rtp_it_freshness", {"pipelines": missing, "start": iso(bad_start), "end": iso(bad_end)}
    )
    assert not failed, log[-3000:]

    assert client.get("/api/freshness").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/freshness", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403

    body = _answer(client, token, windows=GRID)
    assert body["error"] is None and body["window_length_seconds"] == 60
    orders = next(p for p in body["pipelines"] if p["table"] == "ods.orders")
    assert orders["asset"] == "lake.ods.orders"
    assert len(orders["windows"]) == GRID + 1 and orders["current"]["running"] is True
    by_start = {w["window"]["start"]: w for w in orders["windows"]}

    complete = by_start[iso(ok_start)]
    assert complete["status"] == "complete" and complete["source"] == "decision"
    assert complete["snapshot_id"] == str(decided["decided_snapshot_id"])
    decided_at = _parse(decided["decided_at"])
    assert complete["delay_seconds"] == pytest.approx((decided_at - ok_end).total_seconds())
    assert {"end": iso(ok_end), "delay_seconds": complete["delay_seconds"]} in orders["chart"]
    assert orders["delay"]["count"] >= 1

    gone = by_start[iso(bad_start)]
    assert gone["status"] == "failed", gone
    assert gone["failed_task"]["dag_id"] == "rtp_it_freshness"
    assert gone["failed_task"]["task_id"] == "ods_orders_in_lake"

    live = orders["live"]
    assert live["error"] is None, live
    assert live["window"]["start"] in by_start
    assert [s["stage"] for s in live["stages"]] == ["cdc", "kafka", "job", "iceberg"]
    assert all(s["line"] for s in live["stages"])
    assert live["report"].splitlines()[0].startswith("window ")
    if live["verdict"] == "waiting":
        assert live["blocker"] in [s["line"] for s in live["stages"]]
    else:
        assert live["verdict"] == "complete" and live["blocker"] is None
    job_stage = next(s for s in live["stages"] if s["stage"] == "job")
    assert job_stage["name"] == "ods-orders-ingest" and job_stage["job_state"] == "RUNNING"
    assert orders["links"]["flink_job"].endswith(f"/#/job/running/{job_stage['subject']}/overview")
    hops = {h["hop"]: h for h in live["hops"]}
    assert hops["source -> cdc"]["lag_seconds"] is not None

    # The page's own fetches carry the session cookie the UI's login sets, not a header.
    client.cookies.set("_token", token)
    page = client.get("/")
    assert page.status_code == 200 and "api/freshness" in page.text
    again = client.get("/api/freshness", params={"table": "ods.orders", "windows": 5})
    assert again.status_code == 200
    assert [p["table"] for p in again.json()["pipelines"]] == ["ods.orders"]
    assert len(again.json()["pipelines"][0]["windows"]) == 6
    client.cookies.clear()


def test_an_undeclared_table_is_named_not_a_server_error(client: TestClient, token: str) -> None:
    response = client.get(
        "/api/freshness", params={"table": "ods.nope"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert "ods.nope" in response.json()["error"] and response.json()["pipelines"] == []


def test_the_first_answer_waits_at_most_the_live_budget_and_fills_in_later(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_rtp.plugins import freshness_app

    freshness_app._evaluations().close()
    freshness_app._evaluations.cache_clear()  # a new process: no live answer yet, no clients
    headers = {"Authorization": f"Bearer {token}"}
    params = {"table": "ods.orders", "windows": 5}
    monkeypatch.setenv("AIRFLOW__RTP__FRESHNESS_LIVE_BUDGET", "soon")
    refused = client.get("/api/freshness", params=params, headers=headers).json()
    assert "freshness_live_budget" in refused["error"] and refused["pipelines"] == []

    monkeypatch.setenv("AIRFLOW__RTP__FRESHNESS_LIVE_BUDGET", "0")  # no wait: Kafka and Flink are slower
    first = client.get("/api/freshness", params=params, headers=headers).json()["pipelines"][0]
    live = first["live"]
    assert live["running"] is True and live["verdict"] is None and live["error"] is None, live
    assert live["evaluated_at"] is None and live["age_seconds"] is None
    row = next(w for w in first["windows"] if w["window"] == live["window"])
    if row["source"] == "none":
        assert row["blocker"] == "live evaluation running"

    monkeypatch.delenv("AIRFLOW__RTP__FRESHNESS_LIVE_BUDGET")
    filled = next(p for p in _answer(client, token)["pipelines"] if p["table"] == "ods.orders")["live"]
    assert filled["running"] is False and filled["error"] is None
    assert filled["verdict"] in ("waiting", "complete") and filled["age_seconds"] >= 0
