"""ClickHouse targets on the stack's two 18.16 shards for load tests: a database of the test's
own on each shard, tables made the way users make them (local MergeTree + Distributed), and
the operator's run with the test connections (the ``ch`` fixture sets them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
from airflow_provider_rtp.operators.clickhouse_load import (
    ClickHouseReconcileOperator,
    IcebergToClickHouseOperator,
)
from tests.integration.lake_truth import lake_connection
from tests.stack import host, port

CH_CONN, LAKE_CONN = "it_clickhouse_load", "it_lake"
START = datetime(2026, 12, 5, 10, tzinfo=UTC)
END = START + timedelta(hours=1)
COLUMNS = (
    "id Int64, customer_id Nullable(Int64), amount Nullable(Decimal(12, 2)), status Nullable(String), "
    "updated_at Int64"
)
HOURLY = "intDiv(updated_at, 3600000000)"  # hour partitions of epoch microseconds


def _connection() -> Connection:
    return Connection(
        conn_id=CH_CONN,
        conn_type="clickhouse",
        host=host(),
        port=port("CLICKHOUSE1_HTTP_PORT"),
        extra=json.dumps(
            {
                "native_port": port("CLICKHOUSE1_TCP_PORT"),
                "http_ports": {f"{host()}:{port('CLICKHOUSE2_TCP_PORT')}": port("CLICKHOUSE2_HTTP_PORT")},
            }
        ),
    )


@pytest.fixture
def ch(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClickHouseHook]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CH_CONN.upper()}", _connection().as_json())
    lake = lake_connection()
    lake.conn_id = LAKE_CONN
    monkeypatch.setenv(f"AIRFLOW_CONN_{LAKE_CONN.upper()}", lake.as_json())
    hook = ClickHouseHook(CH_CONN)
    yield hook
    hook.close()


class Shards:
    """Both servers of rtp_cluster, one database of the test's own on each."""

    def __init__(self, hook: ClickHouseHook):
        self.hook = hook
        self.replicas = [s.replicas[0] for s in hook.cluster("rtp_cluster").shards]
        self.db = f"it_load_{uuid.uuid4().hex[:8]}"

    def on_all(self, sql: str) -> None:
        for replica in self.replicas:
            self.hook.execute(sql, replica=replica)

    def table(
        self, name: str, *, key: str = "cityHash64(id)", partition: str = HOURLY, columns: str = COLUMNS
    ) -> str:
        """A local table on each shard and a Distributed table over them; returns its name."""
        self.on_all(
            f"CREATE TABLE {self.db}.{name}_local ({columns}) "
            f"ENGINE = MergeTree PARTITION BY {partition} ORDER BY id"
        )
        key_arg = f", {key}" if key else ""
        self.hook.execute(
            f"CREATE TABLE {self.db}.{name} AS {self.db}.{name}_local "
            f"ENGINE = Distributed('rtp_cluster', '{self.db}', '{name}_local'{key_arg})"
        )
        return f"{self.db}.{name}"

    def per_shard(self, name: str, where: str = "1") -> list[tuple[int, int, int]]:
        """(rows, sum of ids, xor of row hashes) of a local table on each shard."""
        return [
            tuple(
                int(v)
                for v in self.hook.execute(
                    f"SELECT count(), sum(id), groupBitXor(cityHash64(id, ifNull(customer_id, -1), "
                    f"ifNull(toString(amount), ''), ifNull(status, ''), updated_at)) "
                    f"FROM {self.db}.{name}_local WHERE {where}",
                    replica=r,
                )[0]
            )
            for r in self.replicas
        ]

    def rows(self, name: str) -> list[tuple[Any, ...]]:
        return [
            row
            for r in self.replicas
            for row in self.hook.execute(
                f"SELECT id, customer_id, amount, status, updated_at FROM {self.db}.{name}_local", replica=r
            )
        ]

    def tables(self) -> list[list[str]]:
        return [
            sorted(t for (t,) in self.hook.execute(f"SHOW TABLES FROM {self.db}", replica=r))
            for r in self.replicas
        ]

    def state(self) -> tuple[Any, ...]:
        """Every table of the database on every shard with its rows, hashed: "unchanged" is equal."""
        out = []
        for r in self.replicas:
            for (t,) in self.hook.execute(f"SHOW TABLES FROM {self.db}", replica=r):
                engine = self.hook.table_engine(self.db, t, replica=r)["engine"]
                if engine == "Distributed":
                    out.append((r.port, t))
                    continue
                rows = self.hook.execute(
                    f"SELECT count(), sum(cityHash64(id, updated_at)) FROM {self.db}.`{t}`", replica=r
                )
                out.append((r.port, t, *rows[0]))
        return tuple(out)


@pytest.fixture
def shards(ch: ClickHouseHook) -> Iterator[Shards]:
    s = Shards(ch)
    s.on_all(f"CREATE DATABASE {s.db}")
    try:
        yield s
    finally:
        s.on_all(f"DROP DATABASE IF EXISTS {s.db}")


def plain_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A ClickHouse row (updated_at in epoch microseconds) as the Iceberg row reads."""
    id_, customer, amount, status, micros = row
    return (id_, customer, amount, status, datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros))


def load(
    source_table: str, target: str, snapshot_id: int | str | None, *, reconcile: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """IcebergToClickHouseOperator's run (or ClickHouseReconcileOperator's) for the window
    [START, END) unless told otherwise."""
    kwargs.setdefault("window_start", START)
    kwargs.setdefault("window_end", END)
    op = (ClickHouseReconcileOperator if reconcile else IcebergToClickHouseOperator)(
        task_id="load",
        table=source_table,
        clickhouse_table=target,
        time_column="updated_at",
        snapshot_id=snapshot_id,
        clickhouse_conn_id=CH_CONN,
        iceberg_conn_id=LAKE_CONN,
        **kwargs,
    )
    return op.execute({})


def reconcile(source_table: str, target: str, snapshot_id: int | str | None, **kwargs: Any) -> dict[str, Any]:
    return load(source_table, target, snapshot_id, reconcile=True, **kwargs)
