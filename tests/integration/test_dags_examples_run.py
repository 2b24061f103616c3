"""The example DAGs without a run elsewhere, run green on the stack through `airflow dags test`.

Each run is quick and leaves the stack as found: the Flink examples cancel the jobs they
start (their last task, and this test again should a run stop early), the lag example writes
under a pipeline name of its own (dropped afterwards), the table properties example changes
nothing on tables that already carry its properties.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from airflow_provider_rtp.flink import FlinkRestClient
from tests.integration.dagrun import returned, run_dag
from tests.integration.test_lag_exporter import _shards_text, reference_pipeline
from tests.integration.test_stack_flink import cancel_by_name, smoke_jar
from tests.stack import stack_env

pytestmark = pytest.mark.usefixtures("stack")

EXAMPLES = Path(__file__).parents[2] / "dags_examples"


def test_flink_job_lifecycle_example(rest: FlinkRestClient) -> None:
    name = f"it-example-life-{uuid.uuid4().hex[:6]}"
    dag_id = "rtp_flink_job_lifecycle"
    try:
        ok, log = run_dag(EXAMPLES / "rtp_flink_job_lifecycle.py", dag_id, {"job_name": name}, timeout=600)
        assert ok, log[-4000:]
        submitted = returned(dag_id, log, "submit")["job_id"]
        stopped = returned(dag_id, log, "stop_with_savepoint")
        resumed = returned(dag_id, log, "resume")
        assert resumed["restored_from"] == stopped["savepoint"] and resumed["job_id"] != submitted
        assert returned(dag_id, log, "savepoint")["savepoint"]
        rescaled = returned(dag_id, log, "rescale")
        assert rescaled["job_id"] != resumed["job_id"]
        assert returned(dag_id, log, "diagnose")
        assert returned(dag_id, log, "cancel")["state"] == "CANCELED"
        assert rest.find_running_job(name) is None
    finally:
        cancel_by_name(rest, name)


def test_flink_jar_job_example(rest: FlinkRestClient) -> None:
    name = f"it-example-jar-{uuid.uuid4().hex[:6]}"
    dag_id = "rtp_flink_jar_job"
    try:
        conf = {"job_name": name, "jar": str(smoke_jar())}
        ok, log = run_dag(EXAMPLES / "rtp_flink_job_lifecycle.py", dag_id, conf, timeout=400)
        assert ok, log[-4000:]
        assert returned(dag_id, log, "running")["state"] == "RUNNING"
        assert returned(dag_id, log, "cancel")["state"] == "CANCELED"
        assert rest.find_running_job(name) is None
    finally:
        cancel_by_name(rest, name)


@pytest.mark.pipeline
def test_kafka_lag_example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RTP_INFLUXDB_DEFAULT",
        json.dumps(
            {
                "conn_type": "rtp_influxdb",
                "schema": stack_env()["INFLUX_DB"],
                "extra": {"shards": _shards_text()},
            }
        ),
    )
    with reference_pipeline(tmp_path) as (name, path):
        ok, log = run_dag(EXAMPLES / "rtp_kafka_lag.py", "rtp_kafka_lag", {"pipelines_file": str(path)})
        assert ok, log[-4000:]
        assert f"{name} -> " in log, log[-4000:]


@pytest.mark.pipeline
def test_lake_table_properties_example() -> None:
    dag_id = "rtp_lake_table_properties"
    ok, log = run_dag(EXAMPLES / "rtp_lake_table_properties.py", dag_id, {})
    assert ok, log[-4000:]
    result = returned(dag_id, log, "properties_ods_orders")
    # The reference table is created with these properties: the run finds them and commits nothing.
    assert result["table"] == "ods.orders" and result["changed"] == {}, result
    assert "write.metadata.previous-versions-max" in result["unchanged"]
