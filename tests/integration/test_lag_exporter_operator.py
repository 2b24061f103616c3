"""KafkaLagExporterOperator through a real `airflow dags test` run: the reference pipeline's lag and
CDC watermark land in the owning real InfluxDB shard only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from airflow_provider_rtp.kafka import KafkaLagReader
from airflow_provider_rtp.monitoring.exporter import GROUP_LAG
from airflow_provider_rtp.monitoring.line_protocol import quote_identifier, quote_literal
from tests.integration.test_lag_exporter import (
    GROUP,
    _check_points_in_owner_only,
    _look,
    _shards_text,
    open_store,
    reference_pipeline,
)
from tests.stack import kafka_bootstrap, stack_env

pytestmark = pytest.mark.pipeline

DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_lag_exporter.py"


def _run(conf: dict) -> tuple[bool, str]:
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
    exe = Path(sys.executable).parent / "airflow"
    out = subprocess.run(
        [str(exe), "dags", "test", "rtp_it_lag_exporter", "-f", str(DAG_FILE), "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    log = out.stdout + out.stderr
    return out.returncode == 0 and "state=success" in log, log


def test_operator_exports_through_a_real_task_run(tmp_path: Path) -> None:
    with reference_pipeline(tmp_path) as (name, path), open_store() as store:
        reader = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()})
        before = _look(reader)
        ok, log = _run({"pipelines_file": str(path)})
        after = _look(reader)
        assert ok, log[-4000:]
        assert f"{name} -> {store.owner(name).name}:" in log
        _check_points_in_owner_only(store, name, before, after)


def test_operator_fails_naming_the_bad_pipeline_after_writing_the_good_one(tmp_path: Path) -> None:
    bogus = f"rtp-it-missing-{uuid.uuid4().hex[:8]}"
    target = {"name": f"it.bogus_{uuid.uuid4().hex[:8]}", "group": GROUP, "topics": [bogus]}
    with reference_pipeline(tmp_path) as (name, path), open_store() as store:
        ok, log = _run({"pipelines_file": str(path), "targets": [target]})
        assert not ok
        assert f"lag export failed for {target['name']}: measuring failed" in log and bogus in log
        q = f"SELECT * FROM {quote_identifier(GROUP_LAG)} WHERE pipeline = {quote_literal(name)}"
        assert store.query(name, q), "the good pipeline was not written"
