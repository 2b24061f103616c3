"""Iceberg tables through pyiceberg catalogs (SQL/JDBC, REST, Hive, Glue)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook, Connection

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.iceberg.health import TableHealth
from airflow_provider_rtp.iceberg.health_read import check_table_identifier, read_table_health
from airflow_provider_rtp.iceberg.locations import is_metadata_location, local_location
from airflow_provider_rtp.iceberg.useless_deletes import UselessDeleteBudget
from airflow_provider_rtp.iceberg.window_read import (
    DEFAULT_BATCH_ROWS,
    Engine,
    ReadPlan,
    Window,
    plan_read,
    read_plan,
)

__all__ = ["IcebergHook", "is_metadata_location"]

_CATALOG_TYPES = ("sql", "rest", "hive", "glue")


class IcebergHook(BaseHook):
    """Read Iceberg table metadata (snapshots and their Flink commit summaries).

    Connection (type ``iceberg``): extra ``catalog_type`` (``sql`` — the JDBC
    catalog Flink's ``JdbcCatalog`` writes —, ``rest``, ``hive`` or ``glue``) and
    ``catalog_name`` (for ``sql`` it must equal the catalog name Flink used, since
    both store it in the ``iceberg_tables`` rows). For ``sql`` the host, port,
    login, password and schema (the database) form a PostgreSQL URI; for the
    others ``host`` is the catalog URI. Any further extra keys are passed to
    pyiceberg as catalog properties (``warehouse``, ``s3.endpoint``, …).

    :param iceberg_conn_id: the Airflow connection id.
    """

    conn_name_attr = "iceberg_conn_id"
    default_conn_name = "iceberg_default"
    conn_type = "iceberg"
    hook_name = "Iceberg catalog (pyiceberg)"

    def __init__(
        self, iceberg_conn_id: str = default_conn_name, *, connection: Connection | None = None
    ) -> None:
        """``connection``: one already fetched (a trigger gets it asynchronously), else looked up by id."""
        super().__init__()
        self.iceberg_conn_id = iceberg_conn_id
        self._connection = connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self.get_connection(self.iceberg_conn_id)
        return self._connection

    def catalog_properties(self) -> dict[str, Any]:
        conn = self.connection
        extra = dict(conn.extra_dejson)
        ctype = str(extra.pop("catalog_type", "sql")).lower()
        extra.pop("catalog_name", None)
        if ctype not in _CATALOG_TYPES:
            raise InvalidInputError(
                f"connection {self.iceberg_conn_id!r}: unknown catalog_type {ctype!r}, "
                f"use one of {', '.join(_CATALOG_TYPES)}"
            )
        props: dict[str, Any] = {"type": ctype, **extra}
        if ctype == "sql":
            auth = ""
            if conn.login:
                auth = quote(conn.login, safe="")
                if conn.password:
                    auth += ":" + quote(conn.password, safe="")
                auth += "@"
            props["uri"] = (
                f"postgresql+psycopg2://{auth}{conn.host or 'localhost'}:{conn.port or 5432}/"
                f"{conn.schema or 'iceberg_catalog'}"
            )
        elif conn.host:
            props["uri"] = conn.host
            if conn.password and ctype == "rest":
                props.setdefault("token", conn.password)
        return props

    @cached_property
    def catalog(self) -> Any:
        from pyiceberg.catalog import load_catalog

        name = self.connection.extra_dejson.get("catalog_name", "default")
        return load_catalog(name, **self.catalog_properties())

    def get_conn(self) -> Any:
        return self.catalog

    def load_table(self, identifier: str) -> Any:
        """``namespace.table`` from the catalog, or a table's metadata location (see below)."""
        if is_metadata_location(identifier):
            return self.load_table_from_location(identifier)
        from pyiceberg.exceptions import NoSuchTableError

        if identifier.count(".") < 1:
            raise InvalidInputError(f"table identifier must be 'namespace.table', got {identifier!r}")
        try:
            return self.catalog.load_table(identifier)
        except NoSuchTableError as exc:
            raise IcebergError(
                f"Iceberg table {identifier!r} does not exist in catalog {self.catalog.name!r}: {exc}"
            ) from exc

    def table_health(
        self,
        identifier: str,
        *,
        snapshot_id: int | None = None,
        small_file_bytes: int | None = None,
        useless_budget: UselessDeleteBudget | None = None,
    ) -> TableHealth:
        """Files, deletes, snapshots and metadata of ``identifier`` per partition (see ``iceberg.health``)."""
        check_table_identifier(identifier)
        return read_table_health(
            self.load_table(identifier),
            identifier,
            snapshot_id=snapshot_id,
            small_file_bytes=small_file_bytes,
            useless_budget=useless_budget,
        )

    def read_window(
        self,
        identifier: str,
        *,
        snapshot_id: int | None = None,
        tag: str | None = None,
        window: Window | tuple[datetime, datetime] | None = None,
        time_column: str | None = None,
        row_filter: Any = None,
        columns: Sequence[str] | None = None,
        engine: Engine | str = Engine.AUTO,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Any:
        """The rows of ``identifier`` as of one snapshot, deletes applied: a ``pyarrow.RecordBatchReader``.

        :param snapshot_id: the snapshot to read (the sensor's covering snapshot); or
        :param tag: a tag naming it (e.g. the hour tag). Exactly one of the two: the current
            snapshot is never read by default.
        :param window: ``(start, end)``, timezone-aware: rows whose ``time_column`` lies in
            ``[start, end)``; or a :class:`~airflow_provider_rtp.iceberg.window_read.Window`.
        :param row_filter: further rows to keep, in pyiceberg's expression language
            (``"status = 'paid'"``) or as a pyiceberg expression.
        :param columns: the columns to read (default: all of the snapshot's schema).
        :param engine: ``auto`` (pyiceberg for a plan without delete files, else chdb), ``chdb``
            or ``pyiceberg``; see ``docs/lake-read.md`` for the measurements behind the choice.
        :param batch_rows: rows per record batch (memory is bounded by a few batches).
        """
        plan, table = self._plan(
            identifier, snapshot_id, tag, window, time_column, row_filter, columns, engine
        )
        return read_plan(plan, table, batch_rows=batch_rows)

    def plan_window(
        self,
        identifier: str,
        *,
        snapshot_id: int | None = None,
        tag: str | None = None,
        window: Window | tuple[datetime, datetime] | None = None,
        time_column: str | None = None,
        row_filter: Any = None,
        columns: Sequence[str] | None = None,
        engine: Engine | str = Engine.AUTO,
    ) -> ReadPlan:
        """What :meth:`read_window` with these arguments would read (snapshot, columns and their
        types, files, engine), every argument checked; :meth:`read_planned` reads it."""
        return self._plan(identifier, snapshot_id, tag, window, time_column, row_filter, columns, engine)[0]

    def read_planned(self, plan: ReadPlan, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> Any:
        """The rows of a plan from :meth:`plan_window`, read from the metadata file it pinned."""
        table = (
            self.load_table_from_location(plan.metadata_location) if plan.engine is Engine.PYICEBERG else None
        )
        return read_plan(plan, table, batch_rows=batch_rows)

    def _plan(
        self,
        identifier: str,
        snapshot_id: int | None,
        tag: str | None,
        window: Window | tuple[datetime, datetime] | None,
        time_column: str | None,
        row_filter: Any,
        columns: Sequence[str] | None,
        engine: Engine | str,
    ) -> tuple[ReadPlan, Any]:
        check_table_identifier(identifier)
        if window is not None and not isinstance(window, Window):
            if time_column is None:
                raise InvalidInputError("a (start, end) window needs time_column, the column it bounds")
            start, end = window
            window = Window(start, end, time_column)
        table = self.load_table(identifier)
        plan = plan_read(
            table,
            identifier,
            snapshot_id=snapshot_id,
            tag=tag,
            window=window,
            row_filter=row_filter,
            columns=columns,
            engine=engine,
        )
        return plan, table

    def load_table_from_location(self, location: str) -> Any:
        """A table outside any catalog (Hadoop layout): its ``*.metadata.json``, or its directory.

        For a directory, ``metadata/version-hint.text`` names the current version, as
        Iceberg's HadoopCatalog writes it. FileIO (s3, oss, hdfs, local) comes from the
        URI scheme and the connection's properties.
        """
        from pyiceberg.io import load_file_io
        from pyiceberg.table import StaticTable

        props = {k: v for k, v in self.catalog_properties().items() if k not in ("type", "uri")}
        location = local_location(location)
        if not location.endswith(".metadata.json"):
            base = location.rstrip("/")
            io = load_file_io(properties=props, location=base)
            try:
                with io.new_input(f"{base}/metadata/version-hint.text").open() as stream:
                    version = stream.read().decode().strip()
            except (FileNotFoundError, OSError) as exc:
                raise IcebergError(
                    f"no Iceberg table at {location!r}: cannot read metadata/version-hint.text ({exc}); "
                    "pass the table's *.metadata.json instead"
                ) from exc
            location = f"{base}/metadata/v{version}.metadata.json"
        try:
            return StaticTable.from_metadata(location, properties=props)
        except (FileNotFoundError, OSError, ValueError) as exc:
            raise IcebergError(f"cannot read Iceberg metadata {location!r}: {exc}") from exc

    def flink_catalog_name(self) -> str:
        """The catalog name Flink uses for this connection (``catalog_name``, default ``lake``)."""
        name = str(self.connection.extra_dejson.get("catalog_name", "lake"))
        if not name.isidentifier():
            raise InvalidInputError(f"catalog name must be a plain identifier, got {name!r}")
        return name

    def flink_catalog_properties(self) -> dict[str, str]:
        """The Iceberg catalog options Flink needs for this connection (``sql`` type only).

        One mapping for every Flink consumer: ``CREATE CATALOG`` (:meth:`flink_catalog_ddl`) and
        the maintenance job's ``--catalog-property`` arguments. It holds the password: Airflow
        masks it in task logs; it must never be put into XCom or a rendered field.
        """
        conn = self.connection
        extra = conn.extra_dejson
        if str(extra.get("catalog_type", "sql")).lower() != "sql":
            raise InvalidInputError(
                "Flink catalog options are supported for the sql (JDBC) catalog type only"
            )
        return {
            "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": f"jdbc:postgresql://{conn.host or 'localhost'}:{conn.port or 5432}/"
            f"{conn.schema or 'iceberg_catalog'}",
            "jdbc.user": conn.login or "",
            "jdbc.password": conn.password or "",
            "jdbc.schema-version": "V1",
            "warehouse": str(extra.get("warehouse", "")),
        }

    def flink_catalog_ddl(self, name: str | None = None) -> str:
        """``CREATE CATALOG`` for Flink SQL over the same catalog (see :meth:`flink_catalog_properties`)."""
        if name is not None and not name.isidentifier():
            raise InvalidInputError(f"catalog name must be a plain identifier, got {name!r}")
        name = name or self.flink_catalog_name()

        def lit(value: object) -> str:
            return "'" + str(value).replace("'", "''") + "'"

        props = {"type": "iceberg", **self.flink_catalog_properties()}
        body = ", ".join(f"{lit(k)} = {lit(v)}" for k, v in props.items())
        return f"CREATE CATALOG {name} WITH ({body})"

    def test_connection(self) -> tuple[bool, str]:
        try:
            namespaces = [".".join(ns) for ns in self.catalog.list_namespaces()]
            return True, f"catalog reachable; namespaces: {', '.join(namespaces) or 'none'}"
        except Exception as exc:
            return False, str(exc)
