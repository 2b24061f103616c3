"""The sharded InfluxDB hook against the stack's two real InfluxDB instances."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_rtp.exceptions import InfluxError
from airflow_provider_rtp.hooks.influxdb import ShardedInfluxDBHook
from airflow_provider_rtp.monitoring.influx import InfluxSettings, Shard, ShardedInfluxClient, ShardWriteError
from airflow_provider_rtp.monitoring.line_protocol import Point, quote_identifier, quote_literal
from tests.stack import host, port, stack_env

SHARDS = {"influxdb1": "INFLUX1_PORT", "influxdb2": "INFLUX2_PORT"}


def shard_urls() -> dict[str, str]:
    return {name: f"http://{host()}:{port(var)}" for name, var in SHARDS.items()}


def dead_url() -> str:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((host(), 0))
        return f"http://{host()}:{s.getsockname()[1]}"


@pytest.fixture
def measurement() -> Iterator[str]:
    name = f"rtp_it_shards_{uuid.uuid4().hex[:10]}"
    yield name
    with _raw() as raw:
        for shard in raw.shards:
            raw.query_shard(shard, f"DROP MEASUREMENT {quote_identifier(name)}")


def _raw() -> ShardedInfluxClient:
    return ShardedInfluxClient(
        [Shard(n, u) for n, u in shard_urls().items()], InfluxSettings(stack_env()["INFLUX_DB"])
    )


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[ShardedInfluxDBHook]:
    shards = ", ".join(f"{n}={u}" for n, u in shard_urls().items())
    conn = {"conn_type": "rtp_influxdb", "schema": stack_env()["INFLUX_DB"], "extra": {"shards": shards}}
    monkeypatch.setenv("AIRFLOW_CONN_RTP_INFLUXDB_IT", json.dumps(conn))
    h = ShardedInfluxDBHook("rtp_influxdb_it")
    yield h
    h.close()


def _keys_on(raw: ShardedInfluxClient, measurement: str) -> dict[str, set[str]]:
    q = f'SHOW TAG VALUES FROM {quote_identifier(measurement)} WITH KEY = "pipeline"'
    return {
        name: {row[1] for s in series for row in s["values"]} for name, series in raw.query_all(q).items()
    }


def test_every_key_lands_in_exactly_one_real_instance_and_reads_back(
    hook: ShardedInfluxDBHook, measurement: str
) -> None:
    keys = [f"pipeline-{i}" for i in range(40)]
    points = {k: [Point(measurement, {"value": i, "step": j}, {"pipeline": k}, time=1_000 + j)
                  for j in range(3)] for i, k in enumerate(keys)}  # fmt: skip
    written = hook.write_many(points)
    assert sum(written.values()) == 120 and set(written) == set(SHARDS)

    with _raw() as raw:
        on = _keys_on(raw, measurement)
    assert on["influxdb1"] | on["influxdb2"] == set(keys)
    assert not on["influxdb1"] & on["influxdb2"], "a key's points reached both instances"
    for k in keys:
        assert k in on[hook.owner(k).name]
        series = hook.query(
            k, f"SELECT step, value FROM {quote_identifier(measurement)} WHERE pipeline = {quote_literal(k)}"
        )
        assert [row[1:] for row in series[0]["values"]] == [[j, keys.index(k)] for j in range(3)]


def test_hostile_names_round_trip_through_a_real_instance(
    hook: ShardedInfluxDBHook, measurement: str
) -> None:
    hostile = "x\" OR 1=1; DROP MEASUREMENT m, y=z 'q'"
    name = f"{measurement} {hostile}"
    try:
        hook.write(hostile, [Point(name, {hostile: "v " + hostile}, {"pipeline": hostile}, time=5)])
        series = hook.query(
            hostile, f"SELECT * FROM {quote_identifier(name)} WHERE pipeline = {quote_literal(hostile)}"
        )
        assert series[0]["name"] == name
        row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
        assert row == {"time": 5, hostile: "v " + hostile, "pipeline": hostile}
    finally:
        hook.client.query(hostile, f"DROP MEASUREMENT {quote_identifier(name)}")


def test_one_shard_down_fails_only_its_keys_loudly(measurement: str) -> None:
    dead = dead_url()
    shards = [Shard(n, u) for n, u in shard_urls().items()] + [Shard("influxdb3", dead)]
    settings = InfluxSettings(stack_env()["INFLUX_DB"], retries=1, backoff=0.05, connect_timeout=2)
    keys = [f"pipeline-{i}" for i in range(30)]
    with ShardedInfluxClient(shards, settings) as client:
        owners = {k: client.owner(k).name for k in keys}
        assert set(owners.values()) == {"influxdb1", "influxdb2", "influxdb3"}
        doomed = {k for k, o in owners.items() if o == "influxdb3"}
        with pytest.raises(ShardWriteError) as info:
            client.write_many({k: [Point(measurement, {"v": 1}, {"pipeline": k}, time=7)] for k in keys})
        err = info.value
        assert [f.shard for f in err.failures] == ["influxdb3"]
        assert err.failed_keys == doomed
        text = str(err)
        assert "influxdb3" in text and dead in text and all(k in text for k in doomed)
        assert sum(err.written.values()) == len(keys) - len(doomed)

        # The live shards took theirs, and keep taking writes.
        with _raw() as raw:
            on = _keys_on(raw, measurement)
            assert on["influxdb1"] | on["influxdb2"] == set(keys) - doomed
        alive = next(k for k in keys if k not in doomed)
        assert (
            client.write(alive, [Point(measurement, {"v": 2}, {"pipeline": alive}, time=8)]).name
            != "influxdb3"
        )


def test_real_server_refusals_are_not_retried_and_name_the_shard(hook: ShardedInfluxDBHook) -> None:
    with (
        ShardedInfluxClient(
            [Shard("influxdb1", shard_urls()["influxdb1"])],
            InfluxSettings(f"no_such_db_{uuid.uuid4().hex[:6]}"),
        ) as client,
        pytest.raises(ShardWriteError, match=r"influxdb1 .*HTTP 404: database not found"),
    ):
        client.write("k", [Point("m", {"v": 1})])
    with pytest.raises(InfluxError, match="influxdb"):
        hook.query("k", "SELECT FROM WHERE")


def test_test_connection_names_the_shards(hook: ShardedInfluxDBHook) -> None:
    ok, message = hook.test_connection()
    assert ok, message
    assert "influxdb1" in message and "influxdb2" in message
