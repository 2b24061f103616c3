"""IcebergToClickHouseOperator on the stack: an Iceberg window as of one snapshot into the two
ClickHouse 18.16 shards, idempotent and reconciled, along both write paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_rtp.clickhouse.mapping import ColumnMismatchError
from airflow_provider_rtp.clickhouse.window_load import ReconciliationError
from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError, RtpError
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from tests.integration.clickhouse_targets import (
    CH_CONN,
    COLUMNS,
    END,
    LAKE_CONN,
    START,
    Shards,
    ch,
    load,
    plain_row,
    reconcile,
    shards,
)
from tests.integration.dagrun import failure, returned, run_dag
from tests.integration.lake_truth import lake_connection

pytestmark = pytest.mark.usefixtures("stack")
__all__ = ["ch", "shards"]  # fixtures

# -- an Iceberg table of our own (pyiceberg writes it; no deletes: the pyiceberg engine reads) --
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.int64()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("status", pa.string()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def _orders(first_id: int, count: int, start: datetime, span: timedelta) -> pa.Table:
    ids = range(first_id, first_id + count)
    step = span / count
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([None if i % 7 == 0 else i % 500 for i in ids], pa.int64()),
            "amount": pa.array(
                [None if i % 11 == 0 else Decimal(i % 9999) / 100 for i in ids], pa.decimal128(12, 2)
            ),
            "status": pa.array([None if i % 5 == 0 else ("paid", "new", "shipped")[i % 3] for i in ids]),
            "updated_at": pa.array([start + step * n for n in range(count)], pa.timestamp("us", tz="UTC")),
        },
        schema=SCHEMA,
    )


class Source:
    def __init__(self) -> None:
        self.hook = IcebergHook(connection=lake_connection())
        self.name = f"it_load.orders_{uuid.uuid4().hex[:8]}"
        self.hook.catalog.create_namespace_if_not_exists("it_load")
        self.table = self.hook.catalog.create_table(self.name, schema=SCHEMA)
        self._window: dict[int, tuple[Any, ...]] = {}
        self.window_at: dict[int, list[tuple[Any, ...]]] = {}  # snapshot -> the window's rows, sorted

    def append(self, rows: pa.Table) -> int:
        """Append ``rows`` in a new snapshot; returns its id."""
        self.table.append(rows)
        for r in rows.to_pylist():
            if START <= r["updated_at"] < END:
                self._window[r["id"]] = tuple(r.values())
        snapshot = int(self.table.current_snapshot().snapshot_id)
        self.window_at[snapshot] = sorted(self._window.values())
        return snapshot


@pytest.fixture
def source() -> Iterator[Source]:
    s = Source()
    try:
        yield s
    finally:
        s.hook.catalog.drop_table(s.name)


def test_a_window_loads_per_shard_equal_to_the_snapshot_and_once_whatever_the_runs(
    shards: Shards, source: Source
) -> None:
    source.append(_orders(0, 300, START - timedelta(minutes=30), timedelta(minutes=30)))  # the hour before
    snapshot = source.append(_orders(1000, 20_000, START, timedelta(hours=1)))
    source.append(
        _orders(50_000, 300, START + timedelta(minutes=5), timedelta(minutes=30))
    )  # a later snapshot
    local, dist = shards.table("orders_a"), shards.table("orders_b")
    # Rows of another window already in the target stay as they are.
    shards.hook.execute(
        f"INSERT INTO {local} VALUES",
        [(9_000_001, None, None, "old", int((START - timedelta(hours=2)).timestamp() * 1e6))],
    )

    report = load(source.name, local, str(snapshot), write_path="local_shards", batch_rows=4096)
    assert report["rows"] == 20_000 and report["source"]["snapshot_id"] == snapshot
    assert report["source"]["engine"] == "pyiceberg"
    assert sum(s["rows"] for s in report["shards"]) == 20_000
    assert all(s["rows"] > 8000 for s in report["shards"]), report["shards"]
    assert report["placement_checked"] == "each shard's rows as cityHash64(id) places them"
    # The rows are the snapshot's window, each once, on the shard 18.16's own hash names.
    loaded = [plain_row(r) for r in shards.rows("orders_a") if r[0] != 9_000_001]
    assert sorted(loaded) == source.window_at[snapshot]
    for index, replica in enumerate(shards.replicas):
        misplaced = shards.hook.execute(
            f"SELECT count() FROM {shards.db}.orders_a_local WHERE cityHash64(id) % 2 != {index}",
            replica=replica,
        )
        assert misplaced == [(0,)]
    window = f"updated_at >= {int(START.timestamp() * 1e6)} AND updated_at < {int(END.timestamp() * 1e6)}"
    assert [rows for rows, _, _ in shards.per_shard("orders_a", window)] == [
        s["rows"] for s in report["shards"]
    ]
    assert sum(rows for rows, _, _ in shards.per_shard("orders_a", "id = 9000001")) == 1
    first = shards.per_shard("orders_a")

    # Run twice: one copy, the same report.
    again = load(source.name, local, snapshot, write_path="local_shards", batch_rows=4096)
    assert shards.per_shard("orders_a") == first
    assert (again["rows"], again["checksum"], again["shards"]) == (
        report["rows"],
        report["checksum"],
        report["shards"],
    )

    # Through the Distributed table: every row on the same shard, the same checksums.
    through = load(source.name, dist, snapshot, write_path="distributed")
    assert through["write_path"] == "distributed" and through["checksum"] == report["checksum"]
    assert [(s["rows"], s["checksum"]) for s in through["shards"]] == [
        (s["rows"], s["checksum"]) for s in report["shards"]
    ]
    assert shards.per_shard("orders_b", window) == shards.per_shard("orders_a", window)

    # Reconciled later against a fresh read: equal; then a stray row on shard 2 is named.
    assert reconcile(source.name, local, snapshot)["checksum"] == report["checksum"]
    stray = [(7, None, None, "stray", int((START + timedelta(minutes=1)).timestamp() * 1e6))]
    shards.hook.execute(f"INSERT INTO {shards.db}.orders_a_local VALUES", stray, replica=shards.replicas[1])
    with pytest.raises(
        ReconciliationError, match=r"shard 2 of rtp_cluster .*: the window holds \d+ rows"
    ) as info:
        reconcile(source.name, local, snapshot)
    assert info.value.shard == 2
    assert shards.tables() == [
        ["orders_a", "orders_a_local", "orders_b", "orders_b_local"],
        ["orders_a_local", "orders_b_local"],
    ]


KILLER = """
import json, os, sys
from datetime import datetime
from airflow_provider_rtp.operators.clickhouse_load import IcebergToClickHouseOperator
args = json.loads(sys.argv[1])
op = IcebergToClickHouseOperator(
    task_id="load", table=args["table"], clickhouse_table=args["target"], time_column="updated_at",
    snapshot_id=args["snapshot"], window_start=datetime.fromisoformat(args["start"]),
    window_end=datetime.fromisoformat(args["end"]), clickhouse_conn_id=args["conn"],
    iceberg_conn_id=args["lake"], batch_rows=200, progress_interval=0,
)
op.execute({})
print("LOAD DONE", flush=True)
"""


def test_a_load_killed_mid_way_leaves_the_target_as_it_was_and_its_retry_leaves_one_copy(
    shards: Shards, source: Source
) -> None:
    first = source.append(_orders(0, 5000, START, timedelta(hours=1)))
    target = shards.table("orders")
    load(source.name, target, first)
    before = shards.per_shard("orders")
    assert sum(r for r, _, _ in before) == 5000
    second = source.append(_orders(100_000, 15_000, START + timedelta(seconds=1), timedelta(minutes=59)))

    args = {
        "table": source.name,
        "target": target,
        "snapshot": second,
        "start": START.isoformat(),
        "end": END.isoformat(),
        "conn": CH_CONN,
        "lake": LAKE_CONN,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLER), json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        seen.append(line)
        if "rows sent" in line:
            proc.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "".join(seen[-20:])
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-20:])
    assert not any("LOAD DONE" in line for line in seen)
    # Killed while rows moved: the target holds the first snapshot's window, untouched.
    assert shards.per_shard("orders") == before

    report = load(source.name, target, second)
    assert report["rows"] == 20_000
    assert sum(r for r, _, _ in shards.per_shard("orders")) == 20_000
    assert sorted(plain_row(r) for r in shards.rows("orders")) == source.window_at[second]
    # The killed attempt's staging tables are gone with the retry.
    assert shards.tables() == [["orders", "orders_local"], ["orders_local"]]


def test_bad_input_is_named_and_leaves_clickhouse_unchanged(shards: Shards, source: Source) -> None:
    snapshot = source.append(_orders(0, 2000, START, timedelta(hours=1)))
    target = shards.table("orders")
    load(source.name, target, snapshot)
    wrong_types = shards.table(
        "wrong",
        columns=COLUMNS.replace("status Nullable(String)", "status Nullable(Int64)") + ", shard UInt8",
    )
    random_key = shards.table("random", key="rand()")
    daily = shards.table("daily", partition="intDiv(updated_at, 86400000000)")
    shards.hook.execute(
        f"INSERT INTO {daily} VALUES",
        [(1, None, None, None, int((START - timedelta(hours=3)).timestamp() * 1e6))],
    )
    unchanged = shards.state()

    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"clickhouse_table": f"{shards.db}.nope"}, InvalidInputError, f"{shards.db}.nope does not exist"),
        (
            {"clickhouse_table": wrong_types},
            ColumnMismatchError,
            "no source column for shard; status: string needs one of String, not Nullable(Int64)",
        ),
        ({"snapshot_id": None}, InvalidInputError, "give exactly one of snapshot_id"),
        ({"snapshot_id": 12345}, IcebergError, "has no snapshot 12345"),
        ({"snapshot_id": "latest"}, InvalidInputError, "snapshot_id must be an integer, got 'latest'"),
        ({"snapshot_id": None, "tag": "no-such-tag"}, IcebergError, "has no tag 'no-such-tag'"),
        ({"clickhouse_table": random_key}, InvalidInputError, "'rand()'"),
        (
            {"window_start": datetime(2026, 12, 5, 10)},
            InvalidInputError,
            "window start 2026-12-05T10:00:00 has no timezone",
        ),
        ({"columns": ["id", "nope"]}, InvalidInputError, "no column(s) 'nope'"),
        (
            {"clickhouse_table": daily},
            InvalidInputError,
            "PARTITION BY intDiv(updated_at, 86400000000) is coarser",
        ),
    ]
    for change, error, words in cases:
        args: dict[str, Any] = {"snapshot_id": snapshot, "clickhouse_table": target, **change}
        with pytest.raises(error) as info:
            load(source.name, args.pop("clickhouse_table"), args.pop("snapshot_id"), **args)
        assert words in str(info.value), (change, str(info.value))
        assert isinstance(info.value, RtpError)
        assert shards.state() == unchanged, change

    # A key that cannot be reproduced still loads through the Distributed table, checked in total.
    report = load(source.name, random_key, snapshot, write_path="distributed")
    assert report["rows"] == 2000 and report["placement_checked"].startswith("totals only")


EXAMPLE = Path(__file__).parents[2] / "dags_examples" / "rtp_orders_clickhouse.py"


def test_the_example_dag_loads_the_decided_window_and_reconciles_it(shards: Shards) -> None:
    """rtp_orders_to_clickhouse on the reference pipeline: sensor → load → reconcile, for a
    closed minute (params narrow the hour), into a table of this test's database."""
    target = shards.table("orders", partition="intDiv(updated_at, 60000000)")  # minute partitions
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    conf = {
        "clickhouse_table": target,
        "window_start": (end - timedelta(minutes=1)).isoformat(),
        "window_end": end.isoformat(),
    }
    ok, log = run_dag(EXAMPLE, "rtp_orders_to_clickhouse", conf, timeout=600)
    assert ok, failure(log)
    decided = returned("rtp_orders_to_clickhouse", log, "orders_hour_in_lake")
    loaded = returned("rtp_orders_to_clickhouse", log, "load_hour")
    checked = returned("rtp_orders_to_clickhouse", log, "reconcile_hour")
    assert loaded["source"]["snapshot_id"] == decided["snapshot_id"]
    assert loaded["window_start"] == (end - timedelta(minutes=1)).isoformat()
    assert (checked["rows"], checked["checksum"]) == (loaded["rows"], loaded["checksum"])
    in_window = f"updated_at >= {int((end - timedelta(minutes=1)).timestamp() * 1e6)}"
    assert sum(rows for rows, _, _ in shards.per_shard("orders", in_window)) == loaded["rows"]


def test_every_loadable_type_hashes_alike_in_chdb_and_clickhouse_18(shards: Shards) -> None:
    """The staging check compares chdb's checksum of what was sent with each server's of what
    it stored: a load of every type the mapping accepts on 18.16 passes only if they agree."""
    hook = IcebergHook(connection=lake_connection())
    name = f"it_load.types_{uuid.uuid4().hex[:8]}"
    hook.catalog.create_namespace_if_not_exists("it_load")
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("i", pa.int32()),
            pa.field("f", pa.float32()),
            pa.field("d", pa.float64(), nullable=False),
            pa.field("b", pa.bool_()),
            pa.field("s", pa.string(), nullable=False),
            pa.field("small", pa.decimal128(9, 3)),
            pa.field("dec", pa.decimal128(18, 6), nullable=False),
            pa.field("wide", pa.decimal128(38, 10)),
            pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )
    n = 3000
    rows = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "i": pa.array([None if k % 9 == 0 else (-1) ** k * k * 7919 for k in range(n)], pa.int32()),
            "f": pa.array([None if k % 8 == 0 else k / 3 - 500 for k in range(n)], pa.float32()),
            "d": pa.array([(-1) ** k * k * 1e-3 + 1e15 * (k % 2) for k in range(n)], pa.float64()),
            "b": pa.array([None if k % 5 == 0 else k % 2 == 0 for k in range(n)], pa.bool_()),
            "s": pa.array([f"ä'\t\\{k}" * (k % 4) for k in range(n)]),
            "small": pa.array(
                [None if k % 6 == 0 else Decimal(-k) / 1000 for k in range(n)], pa.decimal128(9, 3)
            ),
            "dec": pa.array(
                [Decimal((-1) ** k * k * 10**9 + k) / 10**6 for k in range(n)], pa.decimal128(18, 6)
            ),
            "wide": pa.array([Decimal(k) / 10**10 for k in range(n)], pa.decimal128(38, 10)),
            "updated_at": pa.array(
                [START + timedelta(seconds=k) for k in range(n)], pa.timestamp("us", tz="UTC")
            ),
        },
        schema=schema,
    )
    table = hook.catalog.create_table(name, schema=schema)
    try:
        table.append(rows)
        snapshot = int(table.current_snapshot().snapshot_id)
        columns = (
            "id Int64, i Nullable(Int32), f Nullable(Float32), d Float64, b Nullable(UInt8), s String, "
            "small Nullable(Decimal(9, 3)), dec Decimal(18, 6), wide Nullable(Decimal(38, 10)), "
            "updated_at Int64"
        )
        target = shards.table("types", key="intHash64(id)", columns=columns)
        report = load(name, target, snapshot)
        assert report["rows"] == n and all(s["rows"] > 0 for s in report["shards"])
        assert report["checksum_leaves_out"] == [
            "wide (Nullable(Decimal(38, 10)): no hash agrees across ClickHouse versions)"
        ]
        # The values stored are the values read: spot checks through the Distributed table.
        got = shards.hook.execute(
            f"SELECT sum(i), sum(toFloat64(f)), sum(b), sum(length(s)), toString(sum(dec)), count(small) "
            f"FROM {target}"
        )[0]
        expect = rows.to_pydict()
        assert got[0] == sum(v for v in expect["i"] if v is not None)
        assert got[2] == sum(1 for v in expect["b"] if v)
        assert got[3] == sum(len(v.encode()) for v in expect["s"])
        assert Decimal(got[4]) == sum(expect["dec"])
        assert got[5] == sum(1 for v in expect["small"] if v is not None)
    finally:
        hook.catalog.drop_table(name)


def test_large_batches_read_by_chdb_keep_each_row_on_its_shard(shards: Shards, source: Source) -> None:
    """chdb returns a large batch's rows in another order when it reads them in parallel: the
    shards measured must still line up with the rows sent (the staging check says if not)."""
    snapshot = source.append(_orders(0, 300_000, START, timedelta(hours=1)))
    target = shards.table("orders")
    report = load(source.name, target, snapshot, engine="chdb", batch_rows=300_000)
    assert report["rows"] == 300_000 and report["source"]["engine"] == "chdb"
    for index, replica in enumerate(shards.replicas):
        misplaced = shards.hook.execute(
            f"SELECT count() FROM {shards.db}.orders_local WHERE cityHash64(id) % 2 != {index}",
            replica=replica,
        )
        assert misplaced == [(0,)]
