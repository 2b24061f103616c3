"""The lag exporter CLI against the reference pipeline, Kafka and both real InfluxDB shards.

Each test declares the reference pipeline (group rtp-ods-orders, topic shop.orders, heartbeat
topic shop.rtp_heartbeat) under a unique pipeline name, so its series are its own and are
dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from airflow_provider_rtp.cli.lag_exporter import main
from airflow_provider_rtp.kafka import KafkaLagReader
from airflow_provider_rtp.monitoring.exporter import CDC_WATERMARK, GROUP_LAG, MEASUREMENTS, PARTITION_LAG
from airflow_provider_rtp.monitoring.influx import InfluxSettings, Shard, ShardedInfluxClient
from airflow_provider_rtp.monitoring.line_protocol import quote_identifier, quote_literal
from tests.integration.test_influxdb_shards import shard_urls
from tests.stack import kafka_bootstrap, stack_env

pytestmark = pytest.mark.pipeline

GROUP, TOPIC, HEARTBEAT = "rtp-ods-orders", "shop.orders", "shop.rtp_heartbeat"


def _shards_text() -> str:
    return ",".join(f"{n}={u}" for n, u in shard_urls().items())


def open_store() -> ShardedInfluxClient:
    return ShardedInfluxClient(
        [Shard(n, u) for n, u in shard_urls().items()], InfluxSettings(stack_env()["INFLUX_DB"])
    )


def _with_commits() -> None:
    """Changes in shop.orders, consumed and committed by the ingestion job's group: on a fresh
    stack the topic may still be empty, and a measurement of nothing proves nothing."""
    from tests.integration.conftest import connect_mariadb
    from tests.integration.test_ingestion_sensor import change_rows

    with connect_mariadb() as db:
        change_rows(db, 6)
    reader = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()})
    try:
        deadline = time.monotonic() + 120
        while not any(p.committed for p in reader.group_lag(GROUP, [TOPIC]).partitions):
            assert time.monotonic() < deadline, f"group {GROUP} committed no offset of {TOPIC} within 120 s"
            time.sleep(1)
    finally:
        reader.close()


@contextmanager
def reference_pipeline(directory: Path) -> Iterator[tuple[str, Path]]:
    """The reference pipeline under a unique name in a pipelines YAML; its series dropped afterwards."""
    _with_commits()
    name = f"it.orders_{uuid.uuid4().hex[:10]}"
    path = directory / "pipelines.yaml"
    path.write_text(
        f"pipelines:\n  {name}:\n    topics: [{TOPIC}]\n    group: {GROUP}\n"
        f"    ingestion_job: ods-orders-ingest\n    cdc_job: shop-cdc\n    heartbeat_topic: {HEARTBEAT}\n"
    )
    try:
        yield name, path
    finally:
        with open_store() as store:
            for shard in store.shards:
                for m in MEASUREMENTS:
                    store.query_shard(
                        shard,
                        f"DROP SERIES FROM {quote_identifier(m)} WHERE pipeline = {quote_literal(name)}",
                    )


@pytest.fixture
def store() -> Iterator[ShardedInfluxClient]:
    with open_store() as client:
        yield client


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with reference_pipeline(tmp_path) as value:
        yield value


def _rows(store: ShardedInfluxClient, shard: str, measurement: str, name: str) -> list[dict]:
    q = f"SELECT * FROM {quote_identifier(measurement)} WHERE pipeline = {quote_literal(name)}"
    return [
        dict(zip(s["columns"], row, strict=True)) for s in store.query_shard(shard, q) for row in s["values"]
    ]


def _check_points_in_owner_only(store: ShardedInfluxClient, name: str, before: dict, after: dict) -> None:
    owner = store.owner(name).name
    other = next(s for s in store.shards if s != owner)
    for m in (PARTITION_LAG, GROUP_LAG, CDC_WATERMARK):
        assert _rows(store, other, m, name) == [], f"{m} of {name} reached {other}, not only {owner}"

    parts = _rows(store, owner, PARTITION_LAG, name)
    assert sorted(int(r["partition"]) for r in parts) == sorted(p for _, p in before["ends"])
    for r in parts:
        key = (r["topic"], int(r["partition"]))
        assert r["group"] == GROUP
        assert before["ends"][key] <= r["end_offset"] <= after["ends"][key]
        if r["committed_offset"] is not None:
            assert r["offset_lag"] == max(0, r["end_offset"] - r["committed_offset"])
        else:
            assert r["status"] == "no_commit" and r["offset_lag"] is None  # never "lag 0"

    (group,) = _rows(store, owner, GROUP_LAG, name)
    assert group["partitions"] == len(parts)
    assert group["total_offset_lag"] == sum(r["offset_lag"] or 0 for r in parts)
    assert (group["slowest_topic"], group["slowest_partition"]) in before["ends"]
    if group["consumed_through_ms"] is not None:
        assert group["slowest_time_lag_ms"] == group["time"] - group["consumed_through_ms"]

    (wm,) = _rows(store, owner, CDC_WATERMARK, name)
    assert wm["known"] is True and wm["topic"] == HEARTBEAT and wm["cdc_job"] == "shop-cdc"
    assert before["heartbeat"] <= wm["watermark_ms"] <= after["heartbeat"]
    assert wm["lag_ms"] == wm["time"] - wm["watermark_ms"]


def _look(reader: KafkaLagReader) -> dict:
    tps = reader.partitions([TOPIC])
    return {"ends": reader.end_offsets(tps), "heartbeat": reader.newest_committed_timestamp(HEARTBEAT)}


def test_cli_once_writes_the_reference_pipeline_to_its_owning_shard(
    pipeline: tuple[str, Path], store: ShardedInfluxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    name, path = pipeline
    reader = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()})
    before = _look(reader)
    code = main(
        [
            "--pipelines",
            str(path),
            "--kafka-bootstrap",
            kafka_bootstrap(),
            "--shards",
            _shards_text(),
            "--once",
        ]
    )
    after = _look(reader)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"{name} -> {store.owner(name).name}:" in out.out
    _check_points_in_owner_only(store, name, before, after)


def test_cli_reports_an_unknown_topic_and_still_writes_the_others(
    pipeline: tuple[str, Path], store: ShardedInfluxClient
) -> None:
    _, path = pipeline
    bogus = f"rtp-it-missing-{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        [str(Path(sys.executable).parent / "rtp-lag-exporter"), "--group", GROUP, "--topic", bogus,
         "--kafka-bootstrap", kafka_bootstrap(), "--shards", _shards_text(), "--once"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    assert f"{GROUP}: FAILED" in out.stderr and bogus in out.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "airflow_provider_rtp.cli.lag_exporter", "--pipelines", str(path), "--once"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "RTP_KAFKA_BOOTSTRAP": ""},
    )  # fmt: skip
    assert bad.returncode == 2 and "--kafka-bootstrap" in bad.stderr
