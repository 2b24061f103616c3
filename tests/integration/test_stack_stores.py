"""The stack's InfluxDB shards and ClickHouse shards really work."""

from __future__ import annotations

import time
import uuid

import requests
from clickhouse_driver import Client

from tests.stack import host, port, stack_env


def _influx(p: int, q: str) -> list:
    params = {"db": stack_env()["INFLUX_DB"], "q": q}
    r = requests.get(f"http://{host()}:{p}/query", params=params, timeout=10)
    r.raise_for_status()
    return r.json()["results"][0].get("series", [])


def test_influxdb_shards_accept_writes_and_answer_queries() -> None:
    tag = uuid.uuid4().hex[:8]
    for name in ("INFLUX1_PORT", "INFLUX2_PORT"):
        p = port(name)
        r = requests.post(
            f"http://{host()}:{p}/write",
            params={"db": stack_env()["INFLUX_DB"], "precision": "ms"},
            data=f"it_probe,run={tag} value=42 {int(time.time() * 1000)}",
            timeout=10,
        )
        assert r.status_code == 204, r.text
        series = _influx(p, f"SELECT value FROM it_probe WHERE run = '{tag}'")
        assert series and series[0]["values"][0][1] == 42


def test_flink_reporter_series_reach_the_influxdb_shards() -> None:
    # The JobManager reports to shard 1 and the TaskManager to shard 2 (stack/services/flink.sh).
    deadline = time.monotonic() + 60
    seen: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        for name in ("INFLUX1_PORT", "INFLUX2_PORT"):
            series = _influx(port(name), "SHOW MEASUREMENTS")
            seen[name] = [v[0] for v in series[0]["values"]] if series else []
        if all(any(m.startswith(("jobmanager_", "taskmanager_")) for m in ms) for ms in seen.values()):
            break
        time.sleep(3)
    assert any(m.startswith("jobmanager_") for m in seen["INFLUX1_PORT"]), seen["INFLUX1_PORT"][:20]
    assert any(m.startswith("taskmanager_") for m in seen["INFLUX2_PORT"]), seen["INFLUX2_PORT"][:20]


def test_clickhouse_distributed_table_spans_both_shards() -> None:
    shards = [
        Client(host=host(), port=port("CLICKHOUSE1_TCP_PORT")),
        Client(host=host(), port=port("CLICKHOUSE2_TCP_PORT")),
    ]
    table = f"it_events_{uuid.uuid4().hex[:8]}"
    try:
        for c in shards:
            c.execute(
                f"CREATE TABLE default.{table}_local (id UInt64, shard UInt8) ENGINE = MergeTree ORDER BY id"
            )
            c.execute(
                f"CREATE TABLE default.{table} AS default.{table}_local "
                f"ENGINE = Distributed(rtp_cluster, default, {table}_local, id)"
            )
        shards[0].execute(f"INSERT INTO default.{table}_local VALUES", [(1, 1), (3, 1)])
        shards[1].execute(f"INSERT INTO default.{table}_local VALUES", [(2, 2)])
        for c in shards:
            rows = c.execute(f"SELECT shard, count() FROM default.{table} GROUP BY shard ORDER BY shard")
            assert rows == [(1, 2), (2, 1)]
    finally:
        for c in shards:
            c.execute(f"DROP TABLE IF EXISTS default.{table}")
            c.execute(f"DROP TABLE IF EXISTS default.{table}_local")
            c.disconnect()
