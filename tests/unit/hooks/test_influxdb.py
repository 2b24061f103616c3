"""ShardedInfluxDBHook reads its membership and settings from the connection (plain data, no server)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.influxdb import ShardedInfluxDBHook
from airflow_provider_rtp.monitoring.influx import Shard


def _hook(monkeypatch: pytest.MonkeyPatch, **conn: object) -> ShardedInfluxDBHook:
    monkeypatch.setenv("AIRFLOW_CONN_RTP_INFLUXDB_UNIT", json.dumps({"conn_type": "rtp_influxdb", **conn}))
    return ShardedInfluxDBHook("rtp_influxdb_unit")


def test_shards_from_the_extra_text_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _hook(monkeypatch, extra={"shards": "a=http://h1:8086, b=http://h2:8086"})
    assert hook.shards() == [Shard("a", "http://h1:8086"), Shard("b", "http://h2:8086")]
    hook = _hook(monkeypatch, extra={"shards": [{"name": "a", "url": "http://h1:8086", "weight": 3}]})
    assert hook.shards() == [Shard("a", "http://h1:8086", 3.0)]


def test_host_and_port_are_the_one_shard_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _hook(monkeypatch, host="influx1", port=8086).shards() == [Shard("influx1", "http://influx1:8086")]
    with pytest.raises(InvalidInputError, match="neither a 'shards' extra nor a host"):
        _hook(monkeypatch).shards()


def test_settings_basic_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    basic = _hook(monkeypatch, login="u", password="pw", extra={"shards": "a=http://h"}).settings()
    assert (basic.database, basic.username, basic.password, basic.token) == ("rtp_metrics", "u", "pw", None)
    token = _hook(
        monkeypatch, schema="metrics", password="tok", extra={"shards": "a=http://h", "auth_type": "token"}
    ).settings()
    assert (token.database, token.username, token.token) == ("metrics", None, "tok")
    with pytest.raises(InvalidInputError, match="auth_type"):
        _hook(monkeypatch, extra={"auth_type": "kerberos"}).settings()
    with pytest.raises(InvalidInputError, match="needs the password"):
        _hook(monkeypatch, extra={"auth_type": "token"}).settings()


def test_routing_is_the_rings(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _hook(monkeypatch, extra={"shards": "influxdb1=http://h1:8086, influxdb2=http://h2:8086"})
    assert hook.owner("ods.orders").name == "influxdb2" and hook.owner("ods.users").name == "influxdb1"
