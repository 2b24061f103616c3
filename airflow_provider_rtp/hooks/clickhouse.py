"""ClickHouse over its native protocol (clickhouse-driver): queries, cluster topology, columnar inserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_rtp.clickhouse.sql import quote_identifier
from airflow_provider_rtp.clickhouse.topology import CLUSTERS_QUERY, Cluster, Replica
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError

__all__ = ["ClickHouseHook", "ClickHouseSettings"]

NATIVE_PORT, NATIVE_TLS_PORT = 9000, 9440


@dataclass(frozen=True)
class ClickHouseSettings:
    """How to reach one server; the password never shows in a repr or a log line."""

    host: str
    port: int
    user: str = "default"
    password: str = field(default="", repr=False)
    database: str = "default"
    secure: bool = False
    compression: bool = True
    connect_timeout: float = 10.0
    send_receive_timeout: float = 300.0

    def client(self) -> Any:
        try:
            from clickhouse_driver import Client
        except ImportError as exc:
            raise ClickHouseError(
                "ClickHouse needs clickhouse-driver (pip install 'airflow-provider-rtp[clickhouse]')"
            ) from exc
        return Client(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            secure=self.secure,
            compression="lz4" if self.compression else False,
            connect_timeout=self.connect_timeout,
            send_receive_timeout=self.send_receive_timeout,
            client_name="airflow-provider-rtp",
        )


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class ClickHouseHook(BaseHook):
    """ClickHouse through the native protocol: compressed, columnar inserts, one client per shard.

    Connection: the ``clickhouse`` type of Airflow's ClickHouse provider
    (``apache-airflow-providers-clickhousedb``), read the same way: ``host``, ``login``,
    ``password``, ``schema`` (the database), extra ``secure``. Its ``port`` is the HTTP port that
    provider speaks; this hook speaks the native protocol, on extra ``native_port`` (default
    9000, 9440 with ``secure``). Further extras: ``compression`` (lz4 blocks, default true;
    ``false`` sends them plain), ``connect_timeout``, ``send_receive_timeout``.
    Shards of a cluster are reached at the hosts and ports ``system.clusters`` lists, with the
    same credentials.

    :param clickhouse_conn_id: the Airflow connection id.
    """

    conn_name_attr = "clickhouse_conn_id"
    default_conn_name = "clickhouse_default"
    conn_type = "clickhouse"
    hook_name = "ClickHouse (native protocol)"

    def __init__(self, clickhouse_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.clickhouse_conn_id = clickhouse_conn_id
        self._client: Any = None

    def settings(self) -> ClickHouseSettings:
        conn = self.get_connection(self.clickhouse_conn_id)
        extra = conn.extra_dejson
        secure = _flag(extra.get("secure", False))
        try:
            port = int(extra.get("native_port") or (NATIVE_TLS_PORT if secure else NATIVE_PORT))
            timeouts = {
                key: float(extra[key]) for key in ("connect_timeout", "send_receive_timeout") if key in extra
            }
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"connection {self.clickhouse_conn_id!r}: native_port and timeouts must be numbers ({exc})"
            ) from None
        if not conn.host:
            raise InvalidInputError(f"connection {self.clickhouse_conn_id!r} has no host")
        return ClickHouseSettings(
            host=conn.host,
            port=port,
            user=conn.login or "default",
            password=conn.password or "",
            database=conn.schema or "default",
            secure=secure,
            compression=_flag(extra.get("compression", True)),
            **timeouts,
        )

    def get_conn(self) -> Any:
        if self._client is None:
            self._client = self.settings().client()
        return self._client

    def execute(self, query: str, params: Any = None, *, client: Any = None, **kwargs: Any) -> Any:
        """One statement; ClickHouse's own message on failure, with where it ran."""
        client = client or self.get_conn()
        try:
            return client.execute(query, params, **kwargs)
        except Exception as exc:  # clickhouse_driver.errors.Error and socket errors
            where = f"{client.connection.host}:{client.connection.port}"
            # Older servers append their stack trace to the message: the message is enough.
            message = str(exc).split("Stack trace:", 1)[0].strip()
            raise ClickHouseError(f"ClickHouse at {where}: {message}") from exc

    def cluster(self, name: str) -> Cluster:
        """The cluster ``name`` as the connection's server sees it (``system.clusters``)."""
        return Cluster.from_rows(self.execute(CLUSTERS_QUERY), name)

    def replica_client(self, replica: Replica) -> Any:
        """A client for one shard replica, with the connection's credentials and options."""
        return replace(self.settings(), host=replica.host, port=replica.port).client()

    def table_columns(self, database: str, table: str, *, client: Any = None) -> list[tuple[str, str]]:
        """``(name, type)`` of a table's columns in order; an unknown table is an error naming it."""
        rows = self.execute(
            "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
            {"db": database, "t": table},
            client=client,
        )
        if not rows:
            raise InvalidInputError(f"ClickHouse table {database}.{table} does not exist")
        return [(str(n), str(t)) for n, t in rows]

    def table_engine(self, database: str, table: str, *, client: Any = None) -> dict[str, str]:
        """``engine``, ``engine_full`` and ``partition_key`` of a table (all in 18.16's system.tables)."""
        rows = self.execute(
            "SELECT engine, engine_full, partition_key FROM system.tables "
            "WHERE database = %(db)s AND name = %(t)s",
            {"db": database, "t": table},
            client=client,
        )
        if not rows:
            raise InvalidInputError(f"ClickHouse table {database}.{table} does not exist")
        engine, engine_full, partition_key = rows[0]
        return {"engine": engine, "engine_full": engine_full, "partition_key": partition_key}

    def insert_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]], *, client: Any = None
    ) -> int:
        """A columnar insert of equally long columns into ``table`` (``db.table``); returns rows."""
        query = f"INSERT INTO {table} ({', '.join(quote_identifier(n) for n in names)}) VALUES"
        return int(self.execute(query, list(columns), client=client, columnar=True) or 0)

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        try:
            (version,) = self.execute("SELECT version()")[0]
        except Exception as exc:
            return False, str(exc)
        return True, f"ClickHouse {version}"
