"""ClickHouseHook on the stack's two ClickHouse 18.16 shards (cluster rtp_cluster)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from airflow.sdk import Connection

from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError
from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
from tests.stack import host, port

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClickHouseHook]:
    conn = Connection(
        conn_id="it_clickhouse",
        conn_type="clickhouse",
        host=host(),
        port=port("CLICKHOUSE1_HTTP_PORT"),
        extra=json.dumps({"native_port": port("CLICKHOUSE1_TCP_PORT"), "compression": "true"}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_IT_CLICKHOUSE", conn.as_json())
    h = ClickHouseHook("it_clickhouse")
    yield h
    h.close()


def test_topology_from_system_clusters(hook: ClickHouseHook) -> None:
    cluster = hook.cluster("rtp_cluster")
    assert [(s.num, s.weight) for s in cluster.shards] == [(1, 1), (2, 1)]
    ports = [r.port for s in cluster.shards for r in s.replicas]
    assert ports == [port("CLICKHOUSE1_TCP_PORT"), port("CLICKHOUSE2_TCP_PORT")]
    assert cluster.slot_to_shard == (0, 1)
    # Each shard answers for itself through its own client.
    for shard in cluster.shards:
        client = hook.replica_client(shard.replicas[0])
        try:
            local = "SELECT shard_num FROM system.clusters WHERE cluster = 'rtp_cluster' AND is_local"
            assert hook.execute(local, client=client) == [(shard.num,)]
        finally:
            client.disconnect()


def test_bad_input_names_what_is_wrong(hook: ClickHouseHook) -> None:
    with pytest.raises(InvalidInputError, match=r"no cluster 'nope'.*'rtp_cluster'"):
        hook.cluster("nope")
    with pytest.raises(InvalidInputError, match=r"default\.no_such_table does not exist"):
        hook.table_columns("default", "no_such_table")
    where = f"{host()}:{port('CLICKHOUSE1_TCP_PORT')}"
    with pytest.raises(ClickHouseError, match=rf"(?s)ClickHouse at {where}: .*Syntax error"):
        hook.execute("SELEC 1")


def test_columnar_insert_through_a_distributed_table(hook: ClickHouseHook) -> None:
    table = f"it_hook_{uuid.uuid4().hex[:8]}"
    cluster = hook.cluster("rtp_cluster")
    clients = [hook.replica_client(s.replicas[0]) for s in cluster.shards]
    try:
        for client in clients:
            hook.execute(
                f"CREATE TABLE default.{table}_local (id UInt64, `odd name` String, amount Decimal(12, 2)) "
                "ENGINE = MergeTree ORDER BY id",
                client=client,
            )
            hook.execute(
                f"CREATE TABLE default.{table} AS default.{table}_local "
                f"ENGINE = Distributed(rtp_cluster, default, {table}_local, id)",
                client=client,
            )
        assert hook.table_columns("default", table) == [
            ("id", "UInt64"),
            ("odd name", "String"),
            ("amount", "Decimal(12, 2)"),
        ]
        engine = hook.table_engine("default", table)
        assert engine["engine"] == "Distributed" and "rtp_cluster" in engine["engine_full"]
        ids = list(range(1, 101))
        hook.execute(
            f"INSERT INTO default.{table} (id, `odd name`, amount) VALUES",
            [ids, [f"r{i}" for i in ids], [Decimal(i) / 4 for i in ids]],
            columnar=True,
            settings={"insert_distributed_sync": 1},
        )
        # id % 2 picks the shard: odd ids on shard 2, even on shard 1.
        per_shard = [
            hook.execute(f"SELECT count(), sum(id) FROM default.{table}_local", client=c) for c in clients
        ]
        assert per_shard == [[(50, sum(range(2, 101, 2)))], [(50, sum(range(1, 101, 2)))]]
        assert (
            hook.insert_columns(
                f"default.{table}_local",
                ["id", "odd name", "amount"],
                [[1000], ["x"], [Decimal("1.5")]],
                client=clients[0],
            )
            == 1
        )
    finally:
        for client in clients:
            hook.execute(f"DROP TABLE IF EXISTS default.{table}", client=client)
            hook.execute(f"DROP TABLE IF EXISTS default.{table}_local", client=client)
            client.disconnect()


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    sentinel = "s3cr3t-sentinel-" + uuid.uuid4().hex[:6]
    conn = Connection(
        conn_id="it_clickhouse_pw",
        conn_type="clickhouse",
        host=host(),
        login="no_such_user",
        password=sentinel,
        extra=json.dumps({"native_port": port("CLICKHOUSE1_TCP_PORT")}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_IT_CLICKHOUSE_PW", conn.as_json())
    hook = ClickHouseHook("it_clickhouse_pw")
    caplog.set_level(logging.DEBUG)
    assert sentinel not in repr(hook.settings())
    with pytest.raises(ClickHouseError) as info:
        hook.execute("SELECT 1")
    ok, message = hook.test_connection()
    assert not ok
    for text in (str(info.value), message, caplog.text):
        assert sentinel not in text
