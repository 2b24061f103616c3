"""ClickHouse over its native protocol (clickhouse-driver): queries, cluster topology, columnar inserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_rtp.clickhouse.sql import quote_identifier
from airflow_provider_rtp.clickhouse.topology import CLUSTERS_QUERY, Cluster, Replica
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError

__all__ = ["ClickHouseHook", "ClickHouseSettings"]

NATIVE_PORT, NATIVE_TLS_PORT = 9000, 9440
HTTP_PORT, HTTP_TLS_PORT = 8123, 8443


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
    http_port: int = HTTP_PORT

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

    def http_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.http_port}/"

    def http_headers(self) -> dict[str, str]:
        # Credentials as headers, not in the URL a proxy or a server log may record.
        return {"X-ClickHouse-User": self.user, "X-ClickHouse-Key": self.password}


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
    same credentials. Bulk inserts (:meth:`insert_native`) go over HTTP, to the connection's
    ``port`` (default 8123, 8443 with ``secure``) on every host; extra ``http_ports``
    (``{"host:native_port": http_port}``) names the HTTP port of a server where it differs.

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
        self._replica_clients: dict[tuple[str, int], Any] = {}
        self._http: Any = None

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
            http_port=conn.port or (HTTP_TLS_PORT if secure else HTTP_PORT),
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

    def execute(
        self,
        query: str,
        params: Any = None,
        *,
        client: Any = None,
        replica: Replica | None = None,
        **kwargs: Any,
    ) -> Any:
        """One statement, on the connection's server, a given ``client`` or a shard ``replica``;
        ClickHouse's own message on failure, with where it ran."""
        if client is None:
            client = self.get_conn() if replica is None else self._replica_client(replica)
        try:
            return client.execute(query, params, **kwargs)
        except Exception as exc:  # clickhouse_driver.errors.Error and socket errors
            # host/port are set once connected; hosts[0] is where the client was pointed.
            host, port = client.connection.hosts[0]
            where = f"{host}:{port}"
            # Older servers append their stack trace to the message: the message is enough.
            message = str(exc).split("Stack trace:", 1)[0].strip()
            raise ClickHouseError(f"ClickHouse at {where}: {message}") from exc

    def cluster(self, name: str) -> Cluster:
        """The cluster ``name`` as the connection's server sees it (``system.clusters``)."""
        return Cluster.from_rows(self.execute(CLUSTERS_QUERY), name)

    def replica_settings(self, replica: Replica) -> ClickHouseSettings:
        """The connection's credentials and options for one shard replica, at its own ports."""
        settings = self.settings()
        extra = self.get_connection(self.clickhouse_conn_id).extra_dejson
        ports = extra.get("http_ports") or {}
        if not isinstance(ports, Mapping):
            raise InvalidInputError(
                f"connection {self.clickhouse_conn_id!r}: http_ports must map 'host:native_port' to a port"
            )
        http_port = ports.get(f"{replica.host}:{replica.port}", settings.http_port)
        try:
            http_port = int(http_port)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"connection {self.clickhouse_conn_id!r}: http_ports gives {http_port!r} for "
                f"{replica.host}:{replica.port}, not a port"
            ) from None
        return replace(settings, host=replica.host, port=replica.port, http_port=http_port)

    def replica_client(self, replica: Replica) -> Any:
        """A new client for one shard replica, with the connection's credentials and options."""
        return self.replica_settings(replica).client()

    def _replica_client(self, replica: Replica) -> Any:
        key = (replica.host, replica.port)
        if key not in self._replica_clients:
            self._replica_clients[key] = self.replica_client(replica)
        return self._replica_clients[key]

    def insert_native(
        self,
        query: str,
        blocks: Iterable[bytes],
        *,
        replica: Replica | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """``INSERT ... FORMAT Native`` streamed over HTTP from ``blocks`` (bytes of Native blocks,
        as they come: one chunked request, memory bounded by the producer), on the connection's
        server or a shard ``replica``; ``settings`` are query settings."""
        import requests

        target = self.settings() if replica is None else self.replica_settings(replica)
        if self._http is None:
            self._http = requests.Session()
        where = f"{target.host}:{target.http_port}"
        try:
            response = self._http.post(
                target.http_url(),
                params={"query": query, "database": target.database, **dict(settings or {})},
                data=iter(blocks),
                headers=target.http_headers(),
                timeout=(target.connect_timeout, target.send_receive_timeout),
                verify=True,
            )
        except requests.RequestException as exc:
            raise ClickHouseError(f"ClickHouse at {where} (HTTP): {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            message = response.text.split("Stack trace:", 1)[0].strip()
            raise ClickHouseError(f"ClickHouse at {where} (HTTP {response.status_code}): {message}")

    def table_columns(
        self,
        database: str,
        table: str,
        *,
        client: Any = None,
        replica: Replica | None = None,
        insertable: bool = False,
    ) -> list[tuple[str, str]]:
        """``(name, type)`` of a table's columns in order; an unknown table is an error naming it.

        ``insertable``: only the columns an insert gives values for (not MATERIALIZED or ALIAS).
        """
        rows = self.execute(
            "SELECT name, type, default_kind FROM system.columns WHERE database = %(db)s AND table = %(t)s",
            {"db": database, "t": table},
            client=client,
            replica=replica,
        )
        if not rows:
            raise InvalidInputError(f"ClickHouse table {database}.{table} does not exist")
        computed = ("MATERIALIZED", "ALIAS") if insertable else ()
        return [(str(n), str(t)) for n, t, kind in rows if kind not in computed]

    def table_engine(
        self, database: str, table: str, *, client: Any = None, replica: Replica | None = None
    ) -> dict[str, str]:
        """``engine``, ``engine_full`` and ``partition_key`` of a table (all in 18.16's system.tables)."""
        rows = self.execute(
            "SELECT engine, engine_full, partition_key FROM system.tables "
            "WHERE database = %(db)s AND name = %(t)s",
            {"db": database, "t": table},
            client=client,
            replica=replica,
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
        for client in [self._client, *self._replica_clients.values()]:
            if client is not None:
                client.disconnect()
        self._client = None
        self._replica_clients.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def test_connection(self) -> tuple[bool, str]:
        try:
            (version,) = self.execute("SELECT version()")[0]
        except Exception as exc:
            return False, str(exc)
        return True, f"ClickHouse {version}"
