"""The table health report on the reference pipeline's lake tables, checked against an independent reading.

The independent side takes the live entries from pyiceberg's ``inspect.entries()`` (not the
manifest walk the report does), the row counts from each Parquet file's footer, the sizes
from the file system, and counts useless equality deletes by brute force: per delete file,
the keys of every older data file of its partition, columns found by name rather than by
field id. Each test pins one snapshot: the writer commits every 10 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from airflow_provider_rtp.exceptions import IcebergError, InvalidInputError
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg.health import HealthReport, HealthThresholds, small_file_threshold
from airflow_provider_rtp.iceberg.health_read import read_table_health
from airflow_provider_rtp.iceberg.locations import local_location
from airflow_provider_rtp.iceberg.useless_deletes import UselessDeleteBudget
from airflow_provider_rtp.monitoring.lake_health import LAKE_HEALTH, LAKE_TABLE_HEALTH
from airflow_provider_rtp.monitoring.line_protocol import quote_identifier, quote_literal
from tests.integration.dagrun import returned, run_dag
from tests.integration.test_completeness_faults import connections
from tests.integration.test_lag_exporter import _shards_text, open_store
from tests.stack import stack_env

pytestmark = pytest.mark.pipeline

ORDERS, MIRROR = "ods.orders", "ods.orders_mirror"
EXE = str(Path(sys.executable).parent / "rtp-lake")
DAG_FILE = Path(__file__).parent / "dags" / "rtp_it_lake_health.py"
BUDGET = UselessDeleteBudget(max_files=20_000, max_rows=20_000_000)
FIGURES = (
    "data_files",
    "data_records",
    "data_bytes",
    "small_data_files",
    "equality_delete_files",
    "equality_delete_records",
    "position_delete_files",
    "position_delete_records",
    "delete_bytes",
    "useless_equality_deletes",
)


@pytest.fixture(scope="module")
def hook() -> IcebergHook:
    return IcebergHook(connection=connections()["iceberg_default"])


def _with_equality_deletes(hook: IcebergHook, name: str) -> Any:
    """The table once its current snapshot holds an equality delete: an update of a row an
    earlier checkpoint committed writes one (within one checkpoint it is a position delete)."""
    import time

    from tests.integration.conftest import connect_mariadb

    deadline = time.monotonic() + 180
    with connect_mariadb() as db, db.cursor() as cur:
        while True:
            table = hook.load_table(name)
            snap = table.current_snapshot()
            if snap is not None and int((snap.summary or {}).get("total-equality-deletes", 0) or 0) > 0:
                return table
            assert time.monotonic() < deadline, f"{name}: no equality delete committed within 180 s"
            cur.execute("UPDATE orders SET status = 'paid', amount = amount + 1 ORDER BY id LIMIT 1")
            time.sleep(2)  # polling interval while the writer's next checkpoint commits


def _keys(path: str, names: list[str], cache: dict[tuple[str, tuple[str, ...]], Any]) -> Any:
    key = (path, tuple(names))
    if key not in cache:
        t = pq.read_table(local_location(path), columns=names)
        # One string per row: equal keys give equal strings, whatever the column types.
        cache[key] = pc.binary_join_element_wise(*[pc.cast(t[n], "string") for n in names], "\x1f")
    return cache[key]


def _independent(table: Any, snapshot_id: int) -> dict[str, dict[str, int]]:
    """Per partition, the report's figures from inspect.entries(), Parquet footers and the file system."""
    entries = table.inspect.entries(snapshot_id).to_pylist()
    live = [e for e in entries if e["status"] != 2]  # 2: DELETED
    small = small_file_threshold(table.properties)
    schema = table.schema()
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in live:
        f = e["data_file"]
        path = "/".join(f"{k}={v}" for k, v in f["partition"].items())
        by_part[path].append(e)
        local = local_location(f["file_path"])
        assert os.path.getsize(local) == f["file_size_in_bytes"], local
        rows = pq.read_metadata(local).num_rows
        assert rows == f["record_count"], local
        p = out[path]
        if f["content"] == 0:
            p["data_files"] += 1
            p["data_records"] += rows
            p["data_bytes"] += os.path.getsize(local)
            p["small_data_files"] += os.path.getsize(local) < small
        else:
            kind = "equality" if f["content"] == 2 else "position"
            p[f"{kind}_delete_files"] += 1
            p[f"{kind}_delete_records"] += rows
            p["delete_bytes"] += os.path.getsize(local)
    cache: dict[tuple[str, tuple[str, ...]], Any] = {}
    for path, files in by_part.items():
        for d in (e for e in files if e["data_file"]["content"] == 2):
            names = [schema.find_column_name(i) for i in d["data_file"]["equality_ids"]]
            older = [
                _keys(e["data_file"]["file_path"], names, cache)
                for e in files
                if e["data_file"]["content"] == 0 and e["sequence_number"] < d["sequence_number"]
            ]
            deleted = _keys(d["data_file"]["file_path"], names, cache)
            seen = set().union(*(set(k.to_pylist()) for k in older)) if older else set()
            out[path]["useless_equality_deletes"] += sum(k not in seen for k in deleted.to_pylist())
    return dict(out)


def _figures(partitions: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {p["partition"]: {k: p[k] for k in FIGURES} for p in partitions}


@pytest.mark.parametrize("name", [ORDERS, MIRROR])
def test_the_report_agrees_with_an_independent_reading(hook: IcebergHook, name: str) -> None:
    if name == MIRROR and not hook.catalog.table_exists(name):
        pytest.skip(f"{name} is not in the catalog (the upsert mirror pipeline is not running on this stack)")
    table = _with_equality_deletes(hook, name)
    snapshot_id = table.current_snapshot().snapshot_id
    health = read_table_health(table, name, snapshot_id=snapshot_id, useless_budget=BUDGET)
    assert health.snapshot_id == snapshot_id and health.useless_note.startswith("exact: read the keys of")
    mine = _figures([p.to_dict() for p in health.partitions])
    assert mine == _independent(table, snapshot_id)
    assert health.total("equality_delete_files") > 0  # the useless count was put to work

    pyiceberg = {
        "/".join(f"{k}={v}" for k, v in r["partition"].items()): r
        for r in table.inspect.partitions(snapshot_id).to_pylist()
    }
    assert len(pyiceberg) == len(health.partitions)
    for p in health.partitions:
        r = pyiceberg[p.partition]
        assert (r["file_count"], r["record_count"], r["equality_delete_file_count"]) == (
            p.data_files,
            p.data_records,
            p.equality_delete_files,
        )

    meta = table.metadata
    assert health.snapshots == len(meta.snapshots) and health.refs[0].name == "main"
    assert health.metadata_file_bytes == os.path.getsize(local_location(table.metadata_location))
    assert health.metadata_log_files == len(meta.metadata_log)
    listed = [local_location(m.metadata_file) for m in meta.metadata_log]
    assert health.metadata_log_bytes == sum(os.path.getsize(p) for p in listed if os.path.exists(p))
    if name == MIRROR:
        # Upsert mode deletes every key before inserting it: the first sighting of an id is useless.
        assert (health.useless_equality_deletes or 0) > 0


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *argv], capture_output=True, text=True, timeout=300)


def test_cli_text_and_json_give_the_reading(hook: IcebergHook) -> None:
    table = hook.load_table(ORDERS)
    sid = table.current_snapshot().snapshot_id
    expected = read_table_health(table, ORDERS, snapshot_id=sid, useless_budget=UselessDeleteBudget())

    out = _cli("health", ORDERS, "--json", "--snapshot-id", str(sid))
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    assert doc["snapshot_id"] == sid and doc["partitions"] == [p.to_dict() for p in expected.partitions]
    assert doc["useless_equality_deletes"] == expected.useless_equality_deletes
    due = [v["action"] for v in doc["verdicts"] if v["due"]]
    assert out.returncode == (1 if due else 0)
    assert [v["action"] for v in doc["verdicts"]] == ["compact", "expire", "clean"]
    assert doc["verdicts"][2]["verdict"] == "unknown"

    text = _cli("health", ORDERS, "--snapshot-id", str(sid), "--max-rows", "1000")
    assert text.returncode == out.returncode, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"table {ORDERS}  snapshot {sid} (")
    total = next(line for line in lines if line.startswith("total ("))
    assert total.split()[:4] == [
        "total",
        f"({len(expected.partitions)}",
        "partitions)",
        f"{expected.total('data_files'):,}",
    ]
    rows = {line.split()[0] for line in lines[2:] if line.startswith(("change_hour=", "…"))}
    assert rows == {p.partition for p in expected.partitions}
    assert any(line.startswith("compact ") for line in lines)
    assert stack_env()["POSTGRES_PASSWORD"] not in out.stdout + out.stderr + text.stdout + text.stderr


@pytest.mark.parametrize(
    ("table", "error", "message"),
    [
        ("ods.no_such_table_health", "IcebergError", "'ods.no_such_table_health' does not exist"),
        ("ods..orders", "InvalidInputError", "without empty parts or blanks, got 'ods..orders'"),
        ("orders", "InvalidInputError", "must be 'namespace.table'"),
    ],
)
def test_cli_names_bad_tables(table: str, error: str, message: str) -> None:
    out = _cli("health", table)
    assert out.returncode == 2 and out.stdout == ""
    assert message in out.stderr
    assert f"rtp-lake health: {error}: " in out.stderr


def test_library_names_bad_snapshot_and_unknown_table(hook: IcebergHook) -> None:
    with pytest.raises(IcebergError, match="no_such_table_health"):
        hook.load_table("ods.no_such_table_health")
    with pytest.raises(InvalidInputError, match="has no snapshot 1"):
        read_table_health(hook.load_table(ORDERS), ORDERS, snapshot_id=1)


# -- the operator in a real task run -----------------------------------------------
@pytest.fixture
def influx_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {
        "conn_type": "rtp_influxdb",
        "schema": stack_env()["INFLUX_DB"],
        "extra": {"shards": _shards_text()},
    }
    monkeypatch.setenv("AIRFLOW_CONN_RTP_IT_INFLUXDB", json.dumps(conn))


def _series(store: Any, shard: str, measurement: str, at_ms: int) -> list[dict[str, Any]]:
    q = (
        f"SELECT * FROM {quote_identifier(measurement)} WHERE {quote_identifier('table')} = "
        f"{quote_literal(ORDERS)} AND time = {at_ms}ms"
    )
    rows = []
    for series in store.query_shard(shard, q):
        rows += [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    return rows


@pytest.mark.usefixtures("influx_connection")
def test_operator_returns_the_report_and_writes_it_to_the_owning_shard(hook: IcebergHook) -> None:
    table = hook.load_table(ORDERS)
    sid = table.current_snapshot().snapshot_id
    expected = read_table_health(table, ORDERS, snapshot_id=sid, useless_budget=UselessDeleteBudget())
    ok, log = run_dag(DAG_FILE, "rtp_it_lake_health", {"table": ORDERS, "snapshot_id": sid})
    assert ok, log[-4000:]
    doc = returned("rtp_it_lake_health", log)
    assert doc["snapshot_id"] == sid and doc["partitions"] == [p.to_dict() for p in expected.partitions]
    assert doc["thresholds"]["max_small_files"] == 5
    report = HealthReport.judge(expected, HealthThresholds(max_small_files=5), now_ms=doc["read_at_ms"])
    assert doc["verdicts"][0] == report.verdicts[0].to_dict()
    assert f"health of {ORDERS}:" in log and f"table {ORDERS}  snapshot {sid}" in log

    with open_store() as store:
        owner = store.owner(ORDERS).name
        assert f"to InfluxDB shard {owner}" in log
        at = doc["read_at_ms"]
        points = _series(store, owner, LAKE_HEALTH, at)
        assert {
            p["partition"]: (p["data_files"], p["equality_delete_files"], p["delete_bytes"]) for p in points
        } == {
            p["partition"]: (p["data_files"], p["equality_delete_files"], p["delete_bytes"])
            for p in doc["partitions"]
        }
        (whole,) = _series(store, owner, LAKE_TABLE_HEALTH, at)
        assert whole["data_files"] == doc["totals"]["data_files"] and whole["snapshot_id"] == sid
        assert whole["compact_due"] == doc["verdicts"][0]["due"] and whole.get("clean_due") is None
        for other in set(store.shards) - {owner}:
            assert (
                _series(store, other, LAKE_HEALTH, at) == []
                and _series(store, other, LAKE_TABLE_HEALTH, at) == []
            )


@pytest.mark.usefixtures("influx_connection")
@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("ods.no_such_table_health", "IcebergError: Iceberg table 'ods.no_such_table_health' does not exist"),
        ("ods..orders", "InvalidInputError: table identifier must be 'namespace.table' without empty parts"),
    ],
)
def test_operator_fails_naming_a_bad_table(table: str, message: str) -> None:
    ok, log = run_dag(DAG_FILE, "rtp_it_lake_health", {"table": table})
    assert not ok
    assert message in log, log[-4000:]
