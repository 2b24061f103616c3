"""Reading a window for a ClickHouse load, on the real stack: rows/s and peak RSS per read engine.

    ./dev shell
    python bench/clickhouse_load.py          # --rows 2000000

Part 1 (this script so far): ``IcebergHook.read_window`` engines.
- A delete-free table of ``--rows`` order rows written by pyiceberg into the stack's catalog
  (a private namespace, dropped at the end): pyiceberg and chdb read it whole, each in a fresh
  process (peak RSS is the process's), at the same snapshot, with the same count and sums.
- The reference tables ``lake.ods.orders`` and ``lake.ods.orders_mirror`` (Flink-written, with
  equality deletes): chdb reads each at its current snapshot (pyiceberg refuses such a plan).
Figures go to bench/results/clickhouse_load.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import write_results

CHILD = """
import json, resource, sys, time
import pyarrow.compute as pc
from airflow_provider_rtp.hooks.iceberg import IcebergHook
table, snapshot, engine = sys.argv[1], int(sys.argv[2]), sys.argv[3]
began = time.perf_counter()
reader = IcebergHook().read_window(table, snapshot_id=snapshot, engine=engine, columns=["id", "amount"])
rows, ids, amount = 0, 0, 0
for batch in reader:
    rows += batch.num_rows
    ids += pc.sum(batch.column("id")).as_py() or 0
    amount += pc.sum(batch.column("amount")).as_py() or 0
seconds = time.perf_counter() - began
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"rows": rows, "sum_id": ids, "sum_amount": str(amount), "seconds": round(seconds, 3),
                  "rows_per_s": round(rows / seconds), "peak_rss_mb": rss}))
"""


def read(table: str, snapshot: int, engine: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, table, str(snapshot), engine],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def build(hook: Any, namespace: str, rows: int) -> tuple[str, int]:
    import pyarrow as pa

    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("customer_id", pa.int64()),
            pa.field("amount", pa.decimal128(12, 2)),
            pa.field("status", pa.string()),
            pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )
    hook.catalog.create_namespace(namespace)
    table = hook.catalog.create_table(f"{namespace}.orders", schema)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    step = 500_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        ids = list(range(start, start + n))
        table.append(
            pa.table(
                {
                    "id": ids,
                    "customer_id": [i % 1000 for i in ids],
                    "amount": [Decimal(i % 100_000) / 100 for i in ids],
                    "status": [("new", "paid", "shipped")[i % 3] for i in ids],
                    "updated_at": [t0 + timedelta(milliseconds=i) for i in ids],
                },
                schema=schema,
            )
        )
    return f"{namespace}.orders", table.current_snapshot().snapshot_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    from airflow_provider_rtp.hooks.iceberg import IcebergHook

    hook = IcebergHook()
    namespace = f"bench_read_{uuid.uuid4().hex[:8]}"
    figures: dict[str, Any] = {"rows": args.rows, "read": {}}
    try:
        began = time.perf_counter()
        table, snapshot = build(hook, namespace, args.rows)
        print(f"built {table} ({args.rows:,} rows) in {time.perf_counter() - began:.1f} s")
        delete_free: dict[str, Any] = {}
        for engine in ("pyiceberg", "chdb"):
            delete_free[engine] = read(table, snapshot, engine)
            print(f"delete-free, {engine}: {delete_free[engine]}")
        same = {k: v for k, v in delete_free["chdb"].items() if k in ("rows", "sum_id", "sum_amount")}
        if same != {k: delete_free["pyiceberg"][k] for k in same}:
            raise SystemExit(f"the engines disagree: {delete_free}")
        figures["read"]["delete_free"] = delete_free
        for reference in ("ods.orders", "ods.orders_mirror"):
            lake = hook.load_table(reference)
            sid = lake.current_snapshot().snapshot_id
            figures["read"][reference] = {"snapshot_id": sid, "chdb": read(reference, sid, "chdb")}
            print(f"{reference}: {figures['read'][reference]}")
    finally:
        try:
            hook.catalog.purge_table(f"{namespace}.orders")
        except Exception as exc:  # nothing to drop when building failed early
            print(f"dropping {namespace}.orders: {exc}")
        try:
            hook.catalog.drop_namespace(namespace)
        except Exception as exc:
            print(f"dropping {namespace}: {exc}")
    import chdb
    import pyiceberg

    path = write_results(__file__, figures, {"chdb": chdb.__version__, "pyiceberg": pyiceberg.__version__})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
