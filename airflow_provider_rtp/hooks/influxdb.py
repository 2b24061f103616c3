"""Several InfluxDB instances as one metric store, sharded by series key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.monitoring.influx import (
    InfluxSettings,
    Shard,
    ShardedInfluxClient,
    parse_shards,
)
from airflow_provider_rtp.monitoring.line_protocol import Point

__all__ = ["ShardedInfluxDBHook"]

DEFAULT_DATABASE = "rtp_metrics"


class ShardedInfluxDBHook(BaseHook):
    """Write and query metrics on N InfluxDB instances chosen per series key by rendezvous hashing.

    Connection (type ``rtp_influxdb``):

    - extra ``shards``: the members, as ``name=url`` entries separated by commas
      (``influxdb1=http://influx1:8086, influxdb2=http://influx2:8086``) or a JSON
      list of ``{"name", "url", "weight"}``. A shard's name places it on the ring,
      so a shard may move to a new URL without moving its keys. Without
      ``shards``, ``host``/``port`` is the one and only shard.
    - ``schema``: the database (``rtp_metrics`` when empty); extra
      ``retention_policy`` optional.
    - ``login``/``password``: InfluxDB 1.x credentials, the same on every shard; with
      extra ``auth_type`` ``token`` the password is a 2.x/3.x API token instead.
    - extra ``precision`` (``ms``), ``batch_size`` (5000 lines), ``retries`` (3, on
      connection errors and 5xx only), ``connect_timeout``, ``read_timeout``,
      ``verify_tls``.

    Writes and queries use the v1-compatible HTTP API that InfluxDB 1.x, 2.x and
    3.x all serve; nothing here needs a 2.x-only API.

    :param influxdb_conn_id: the Airflow connection id.
    """

    conn_name_attr = "influxdb_conn_id"
    default_conn_name = "rtp_influxdb_default"
    conn_type = "rtp_influxdb"
    hook_name = "InfluxDB shards (RTP)"

    def __init__(self, influxdb_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.influxdb_conn_id = influxdb_conn_id

    def shards(self) -> list[Shard]:
        conn = self.get_connection(self.influxdb_conn_id)
        spec = conn.extra_dejson.get("shards")
        if spec:
            return parse_shards(spec)
        if not conn.host:
            raise InvalidInputError(
                f"connection {self.influxdb_conn_id!r} has neither a 'shards' extra nor a host"
            )
        url = conn.host if "://" in conn.host else f"http://{conn.host}"
        if conn.port:
            url = f"{url.rstrip('/')}:{conn.port}"
        return [Shard(conn.host.split("://")[-1].split(":")[0], url)]

    def settings(self) -> InfluxSettings:
        conn = self.get_connection(self.influxdb_conn_id)
        extra = conn.extra_dejson
        auth_type = str(extra.get("auth_type") or "basic").lower()
        if auth_type not in ("basic", "token"):
            raise InvalidInputError(f"connection {self.influxdb_conn_id!r}: auth_type must be basic or token")
        token = conn.password if auth_type == "token" else None
        if auth_type == "token" and not token:
            raise InvalidInputError(
                f"connection {self.influxdb_conn_id!r}: auth_type token needs the password field"
            )
        return InfluxSettings(
            database=conn.schema or DEFAULT_DATABASE,
            retention_policy=extra.get("retention_policy") or None,
            username=None if token else conn.login or None,
            password=None if token else conn.password or None,
            token=token,
            precision=str(extra.get("precision") or "ms"),
            batch_size=int(extra.get("batch_size") or 5000),
            connect_timeout=float(extra.get("connect_timeout") or 5),
            read_timeout=float(extra.get("read_timeout") or 30),
            retries=int(extra.get("retries", 3)),
            verify=extra.get("ca_file") or bool(extra.get("verify_tls", True)),
        )

    @cached_property
    def client(self) -> ShardedInfluxClient:
        return ShardedInfluxClient(self.shards(), self.settings())

    def get_conn(self) -> ShardedInfluxClient:
        return self.client

    def owner(self, key: str) -> Shard:
        return self.client.owner(key)

    def write(self, key: str, points: Iterable[Point], *, precision: str | None = None) -> Shard:
        """Write one series key's points to the shard owning it; returns that shard."""
        return self.client.write(key, points, precision=precision)

    def write_many(
        self, points_by_key: Mapping[str, Iterable[Point]], *, precision: str | None = None
    ) -> dict[str, int]:
        """Write each key's points to its owner; a shard that stays down raises ShardWriteError
        naming it and its keys, after the other shards were written."""
        return self.client.write_many(points_by_key, precision=precision)

    def query(self, key: str, influxql: str) -> list[dict[str, Any]]:
        return self.client.query(key, influxql)

    def close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.client
            up, down = [], []
            for name, shard in client.shards.items():
                try:
                    up.append(f"{name} {client.ping(name)}")
                except Exception as exc:
                    down.append(f"{name} ({shard.url}): {exc}")
            if down:
                return False, "shards down: " + "; ".join(down)
            return True, "all shards answer: " + ", ".join(up)
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()
