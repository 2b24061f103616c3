"""The Lake freshness API in-process (FastAPI's TestClient) on the real stack and metadata DB.

Real sensor runs write the state: one decides a past minute of lake.ods.orders (its decision
goes to the table asset's state store as every sensor's does), another fails at once on a
missing pipelines file. The API must show both windows as such, evaluate the reference
pipeline live with the sensor's evaluator, link its Flink job, and refuse strangers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


def _minute(minutes_ago: int) -> tuple[datetime, datetime]:
    # Far enough back that the other tests' recent windows (a few minutes back) are not these.
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return end - timedelta(minutes=1), end


def _answer(client: TestClient, token: str) -> dict[str, Any]:
    """The API's answer once the live evaluations have answered: on a busy machine one may take
    longer than the request waits (it goes on, and the next request gets it from the cache)."""
    deadline = time.monotonic() + 120
    while True:
        response = client.get("/api/freshness", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        late = [p for p in body["pipelines"] if "no answer within" in str(p["live"]["error"])]
        if not late or time.monotonic() > deadline:
            return body
        time.sleep(3)


def test_real_windows_live_stages_links_and_auth(client: TestClient, token: str) -> None:
    ok_start, ok_end = _minute(30)
    ok, log = run_dag(
        DAG_FILE, "rtp_it_freshness", {"pipelines": PIPELINES, "start": iso(ok_start), "end": iso(ok_end)}
    )
    assert ok, log[-3000:]
    decided = returned("rtp_it_freshness", log)
    bad_start, bad_end = _minute(40)
    missing = "/nonexistent/rtp-pipelines.yaml"
    failed, log = run_dag(
        DAG_FILE, "rtp_it_freshness", {"pipelines": missing, "start": iso(bad_start), "end": iso(bad_end)}
    )
    assert not failed, log[-3000:]

    assert client.get("/api/freshness").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/freshness", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403

    body = _answer(client, token)
    assert body["error"] is None and body["window_length_seconds"] == 60
    orders = next(p for p in body["pipelines"] if p["table"] == "ods.orders")
    assert orders["asset"] == "lake.ods.orders"
    assert len(orders["windows"]) == 49 and orders["current"]["running"] is True
    by_start = {w["window"]["start"]: w for w in orders["windows"]}

    complete = by_start[iso(ok_start)]
    assert complete["status"] == "complete" and complete["source"] == "decision"
    assert complete["snapshot_id"] == str(decided["decided_snapshot_id"])
    decided_at = datetime.fromisoformat(decided["decided_at"].replace("Z", "+00:00"))
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
