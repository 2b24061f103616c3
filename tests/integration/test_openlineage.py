"""OpenLineage events of a real task run: the completeness sensor on the reference pipeline, run
through `airflow dags test` with the OpenLineage provider writing its events to a file."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.dagrun import run_dag

pytestmark = pytest.mark.usefixtures("stack")

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_completeness.py"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sensor_run_emits_the_pipelines_topics_in_and_its_table_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    monkeypatch.setenv(
        "AIRFLOW__OPENLINEAGE__TRANSPORT",
        json.dumps({"type": "file", "log_file_path": str(events_file), "append": True}),
    )
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "rtp-it")
    # A past minute: decided (or reused) at the first look.
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    ok, log = run_dag(
        DAG_FILE, "rtp_it_complete_poke", {"start": iso(end - timedelta(minutes=1)), "end": iso(end)}
    )
    assert ok, log[-3000:]
    assert events_file.exists(), f"no OpenLineage events written\n{log[-3000:]}"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = [
        e
        for e in events
        if e.get("eventType") == "COMPLETE" and e["job"]["name"] == "rtp_it_complete_poke.ods_orders_complete"
    ]
    assert len(complete) == 1, [(e.get("eventType"), e["job"]["name"]) for e in events]
    event = complete[0]
    servers = json.loads(os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]["bootstrap.servers"]
    kafka = f"kafka://{servers.split(',')[0]}"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(kafka, "shop.orders")]
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [("iceberg://lake", "ods.orders")]
    # The catalog's database password is in the Iceberg connection; never in an event.
    password = json.loads(os.environ["AIRFLOW_CONN_ICEBERG_DEFAULT"])["password"]
    assert password not in events_file.read_text()
