"""KafkaLagExporterOperator through a real `airflow dags test` run: the reference pipeline's lag and
CDC watermark land in the owning real InfluxDB shard only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_rtp.kafka import KafkaLagReader
from airflow_provider_rtp.monitoring.influx import ShardedInfluxClient
from tests.integration.test_lag_exporter import (
    _check_points_in_owner_only,
    _look,
    _shards_text,
    open_store,
    reference_pipeline,
)
from tests.stack import kafka_bootstrap, stack_env

pytestmark = pytest.mark.pipeline

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_lag_exporter.py"


def test_operator_exports_through_a_real_task_run(
    tmp_path: Path,
) -> None:
    with reference_pipeline(tmp_path) as (name, path), open_store() as store:
        _run_and_check(name, path, store)


def _run_and_check(name: str, path: Path, store: ShardedInfluxClient) -> None:
    reader = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()})
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW_CONN_RTP_IT_KAFKA": json.dumps(
            {"conn_type": "kafka", "extra": {"bootstrap.servers": kafka_bootstrap()}}
        ),
        "AIRFLOW_CONN_RTP_IT_INFLUXDB": json.dumps(
            {
                "conn_type": "rtp_influxdb",
                "schema": stack_env()["INFLUX_DB"],
                "extra": {"shards": _shards_text()},
            }
        ),
    }
    before = _look(reader)
    exe = Path(sys.executable).parent / "airflow"
    conf = {"pipelines_file": str(path)}
    out = subprocess.run(
        [str(exe), "dags", "test", "rtp_it_lag_exporter", "-f", str(DAG_FILE), "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    after = _look(reader)
    log = out.stdout + out.stderr
    assert out.returncode == 0 and "state=success" in log, log[-4000:]
    assert f"{name} -> {store.owner(name).name}:" in log
    _check_points_in_owner_only(store, name, before, after)
