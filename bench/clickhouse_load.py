"""An Iceberg window into ClickHouse on the real stack: read engines, the operator, clients, ceiling.

    ./dev shell
    python bench/clickhouse_load.py          # --rows 2000000 --rss-rows 10000000 (0 skips it)
                                             # --provider HEAD (a git revision, or worktree)

The provider measured is the one committed at ``--provider`` (``git archive`` into a temporary
directory, first on every process's path): others may edit the working tree during a run. Peak
RSS is the process's own high-water mark (``VmHWM``): Linux carries the parent's peak across
``exec`` into ``ru_maxrss`` (kept beside it as ``ru_maxrss_mb``).

One delete-free table of ``--rows`` order rows (all in one hour, some NULLs), written by
pyiceberg into the stack's catalog in a private namespace; a private ClickHouse database on
both shards of ``rtp_cluster`` (a local MergeTree table per shard, hour partitions, and a
Distributed table by ``cityHash64(id)``). Both are dropped at the end.

Part 1, ``IcebergHook.read_window`` engines: pyiceberg and chdb read the table whole, each in
a fresh process (peak RSS is the process's), with the same count and sums; chdb reads the
Flink-written reference tables ``lake.ods.orders`` / ``ods.orders_mirror`` (equality deletes:
pyiceberg refuses such a plan).

Part 2, the load, on the same rows, the target truncated before each measurement and checked
after it (per shard: rows and the loader's checksum, computed by ClickHouse; a wrong count is
an error, not a figure):

1. ``IcebergToClickHouseOperator(...).execute({})`` in a fresh process, ``write_path``
   ``local_shards`` and ``distributed``: wall time of ``execute`` (plan, read, encode, send,
   swap, reconcile), peak RSS; both paths must report the same rows and checksum per shard.
   A third process times the loader's phases, and runs ``execute`` a second time (the target
   emptied first) to separate a process's first-call costs from the load's own.
2. Clients inserting the rows already in Arrow (read once, split per shard by ClickHouse's
   own ``cityHash64(id)`` in chdb; neither counted) into each shard's local table, both shards
   at once: clickhouse-driver's columnar insert (``ClickHouseHook.insert_columns``, Arrow to
   Python columns counted) and HTTP ``INSERT ... FORMAT Native`` encoded by chdb and streamed
   with requests (encoding counted).
3. The ceiling: each shard's rows exported by ClickHouse to a Native (and a TSV) file, then
   ``clickhouse-client --query "INSERT ... FORMAT Native" < file`` into each shard's local
   table, both shards at once and one after the other: wall time of the inserts.
4. operator rows/s / ceiling rows/s (goal >= 0.70), peak RSS <= 1 GiB, and the operator's
   peak RSS on ``--rss-rows`` rows if it finishes within ``--rss-timeout`` seconds.

Figures go to bench/results/clickhouse_load.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._results import write_results

START = datetime(2026, 12, 1, tzinfo=UTC)
END = START + timedelta(hours=1)
_HOUR_US = 3_600_000_000
CLUSTER = "rtp_cluster"
TYPES = (
    ("id", "Int64"),
    ("customer_id", "Nullable(Int64)"),
    ("amount", "Nullable(Decimal(12, 2))"),
    ("status", "Nullable(String)"),
    ("updated_at", "Int64"),  # epoch microseconds, as the loader maps a timestamptz
)
COLUMNS = ", ".join(f"{name} {type_}" for name, type_ in TYPES)
NAMES = tuple(name for name, _ in TYPES)
# The Arrow rows (updated_at already epoch microseconds) as the target's types, for chdb.
CASTS = (
    "CAST(id AS Int64) AS id, CAST(customer_id AS Nullable(Int64)) AS customer_id, "
    "CAST(amount AS Nullable(Decimal(12, 2))) AS amount, CAST(status AS Nullable(String)) AS status, "
    "CAST(updated_at AS Int64) AS updated_at"
)
BATCH_ROWS = 4 * 65_536  # the operator's default batch_rows, used by the HTTP client too
MIB = 2**20

READ_CHILD = """
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
hwm = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024
print(json.dumps({"rows": rows, "sum_id": ids, "sum_amount": str(amount), "seconds": round(seconds, 3),
                  "rows_per_s": round(rows / seconds), "peak_rss_mb": hwm,
                  "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""

# The operator in a process of its own. With "phases", the loader's steps are wrapped in timers
# (main thread: read, chdb, Arrow, waiting on the senders; the HTTP inserts on their threads).
OPERATOR_CHILD = r"""
import json, resource, sys, threading, time
args = json.loads(sys.argv[1])
hwm = lambda: int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024
began_import = time.perf_counter()
from datetime import datetime
import airflow_provider_rtp
from airflow_provider_rtp.operators.clickhouse_load import IcebergToClickHouseOperator
phases, inserts, lock = {}, [], threading.Lock()
if args["phases"]:
    import airflow_provider_rtp.operators.clickhouse_load as op_module
    from airflow_provider_rtp.clickhouse import encode, streams, window_load
    from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
    from airflow_provider_rtp.hooks.iceberg import IcebergHook

    def add(name, t0):
        with lock:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

    def timed(name, fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                add(name, t0)
        return wrapper

    class TimedReader:
        def __init__(self, reader):
            self.reader = reader
        def __iter__(self):
            it = iter(self.reader)
            while True:
                t0 = time.perf_counter()
                try:
                    batch = next(it)
                except StopIteration:
                    add("read (Iceberg batches)", t0)
                    return
                add("read (Iceberg batches)", t0)
                yield batch
        def close(self):
            self.reader.close()

    skipped = []

    def wrap(owner, name, label, make=None):
        # The loader's internals change with it: a step it no longer has is named, not fatal.
        fn = getattr(owner, name, None)
        if fn is None:
            skipped.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return
        setattr(owner, name, (make or (lambda f: timed(label, f)))(fn))

    def timed_put(put):
        def wrapper(self, block):
            if block is None:
                return put(self, block)
            t0 = time.perf_counter()
            try:
                return put(self, block)
            finally:
                add("waiting for a sender (queue full)", t0)
        return wrapper

    wrap(op_module, "resolve_target", "resolve target (ClickHouse)")
    wrap(op_module, "load_window", "load_window (stage, send, check, swap, reconcile)")
    wrap(IcebergHook, "plan_window", "plan window (Iceberg catalog and manifests)")
    wrap(IcebergHook, "read_planned", "", lambda f: lambda self, plan, **k: TimedReader(f(self, plan, **k)))
    wrap(window_load, "_send", "send (read, encode, stream; within load_window)")
    wrap(encode.BatchEncoder, "__init__", "chdb: session (import, connect)")
    wrap(encode.BatchEncoder, "measure", "chdb + Arrow: casts, row hashes, key, shards, sums")
    wrap(encode, "shard_indexes", "Arrow: shard indexes (within measure)")
    wrap(encode, "_sums", "Arrow: per-shard sums (within measure)")
    wrap(encode.BatchEncoder, "native", "chdb: casts and Native blocks")
    wrap(streams.NativeSender, "put", "", timed_put)
    wrap(streams.NativeSender, "finish", "waiting for the senders to finish")
    insert_native = ClickHouseHook.insert_native
    def timed_insert(self, query, blocks, **k):
        t0 = time.perf_counter()
        try:
            return insert_native(self, query, blocks, **k)
        finally:
            with lock:
                inserts.append(round(time.perf_counter() - t0, 3))
    ClickHouseHook.insert_native = timed_insert
imported = time.perf_counter() - began_import
rss_imported = hwm()
op = IcebergToClickHouseOperator(
    task_id="bench_load", table=args["table"], clickhouse_table=args["target"], time_column="updated_at",
    snapshot_id=args["snapshot"], window_start=datetime.fromisoformat(args["start"]),
    window_end=datetime.fromisoformat(args["end"]), write_path=args["write_path"], progress_interval=3600,
)
def run():
    phases.clear()
    inserts.clear()
    cpu0, thread0 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
    began = time.perf_counter()
    report = op.execute({})
    seconds = time.perf_counter() - began
    cpu1, thread1 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
    return {
        "rows": report["rows"], "seconds": round(seconds, 3), "rows_per_s": round(report["rows"] / seconds),
        "process_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2),
        "main_thread_cpu_s": round(thread1 - thread0, 2),
        "report": report,
        **({"phases_s": {k: round(v, 3) for k, v in phases.items()}, "http_inserts_s": list(inserts),
            "not_timed": skipped} if args["phases"] else {}),
    }


out = run()
if args["phases"]:
    # Once more in the same process, the target emptied first: the load without the process's
    # first-call costs (lazy imports, catalog and ClickHouse connections, chdb's library).
    from airflow_provider_rtp.clickhouse.topology import Replica
    from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
    hook = ClickHouseHook()
    for host, port in args["truncate"]["replicas"]:
        hook.execute(f"TRUNCATE TABLE {args['truncate']['table']}", replica=Replica(host, port))
    hook.close()
    out["second_execute_same_process"] = run()
print(json.dumps({
    **out, "peak_rss_mb": hwm(), "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "rss_after_imports_mb": rss_imported, "import_s": round(imported, 2),
    "provider_module": airflow_provider_rtp.__file__,
}, default=str))
"""


# Where the children import the provider from: see ``use_provider``.
CHILD: dict[str, Any] = {"cwd": None, "env": None}


def use_provider(revision: str) -> dict[str, Any]:
    """Measure the provider as committed at ``revision`` (``git archive`` into a temporary
    directory, first on every process's path), or the working tree (``worktree``): others may be
    editing it while the bench runs, so by default the figures belong to a commit."""
    repo = Path(__file__).resolve().parents[1]
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", "airflow_provider_rtp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if revision == "worktree":
        return {"measured": "worktree", "uncommitted_changes": bool(dirty)}
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    directory = tempfile.mkdtemp(prefix="bench_provider_")
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", commit, "airflow_provider_rtp"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    sys.path.insert(0, directory)
    CHILD["cwd"] = directory  # not the clone: ``python -c`` puts the working directory first
    path = os.pathsep.join(filter(None, [directory, os.environ.get("PYTHONPATH")]))
    CHILD["env"] = {**os.environ, "PYTHONPATH": path}
    return {"measured": commit, "directory": directory, "worktree_differs": bool(dirty)}


def _last_json(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])


def read(table: str, snapshot: int, engine: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", READ_CHILD, table, str(snapshot), engine],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
        **CHILD,
    )
    return _last_json(out.stdout)


def orders(first: int, count: int, step_us: int) -> Any:
    """``count`` order rows from id ``first``: one every ``step_us`` from START, some NULLs."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    i = np.arange(first, first + count, dtype=np.int64)
    unscaled = np.zeros(2 * count, dtype=np.int64)  # decimal128: low 64 bits, high 64 bits (0)
    unscaled[0::2] = i % 100_000
    amount = pa.Array.from_buffers(pa.decimal128(12, 2), count, [None, pa.py_buffer(unscaled)])
    status = pa.array(["new", "paid", "shipped"]).take(pa.array(i % 3))
    start_us = int(START.timestamp()) * 1_000_000

    def null_where(mask: Any, values: Any) -> Any:
        return pc.if_else(pa.array(mask), pa.nulls(count, values.type), values)

    return pa.table(
        {
            "id": pa.array(i),
            "customer_id": null_where(i % 7 == 0, pa.array(i % 1000)),
            "amount": null_where(i % 11 == 0, amount),
            "status": null_where(i % 5 == 0, status),
            "updated_at": pa.array(start_us + i * step_us).cast(pa.timestamp("us", tz="UTC")),
        },
        schema=order_schema(),
    )


def order_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("customer_id", pa.int64()),
            pa.field("amount", pa.decimal128(12, 2)),
            pa.field("status", pa.string()),
            pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


def build(hook: Any, identifier: str, rows: int) -> int:
    """A pyiceberg-written table of ``rows`` rows inside [START, END); returns its snapshot id."""
    table = hook.catalog.create_table(identifier, order_schema())
    step_us = max(1, _HOUR_US // rows)
    chunk = 1_000_000
    for first in range(0, rows, chunk):
        table.append(orders(first, min(chunk, rows - first), step_us))
    return int(table.current_snapshot().snapshot_id)


class ServerCpu:
    """CPU seconds used by the ClickHouse servers of this machine (utime + stime of each process)."""

    def __init__(self) -> None:
        self.pids = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if Path(cmdline.read_bytes().split(b"\0")[0].decode()).name == "clickhouse-server":
                    self.pids.append(int(cmdline.parent.name))
            except (OSError, UnicodeDecodeError, ValueError):
                continue

    def seconds(self) -> float | None:
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK") if self.pids else None


class Target:
    """The bench's ClickHouse database on every shard: ``orders_local`` each, ``orders`` over them."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.cluster = hook.cluster(CLUSTER)
        self.replicas = [s.replicas[0] for s in self.cluster.shards]
        self.db = f"bench_load_{uuid.uuid4().hex[:8]}"
        self.local = f"{self.db}.orders_local"
        self.distributed = f"{self.db}.orders"
        from airflow_provider_rtp.clickhouse.checksum import row_hash

        self.hash_sql = row_hash(TYPES).sql

    def create(self) -> None:
        for r in self.replicas:
            self.hook.execute(f"CREATE DATABASE {self.db}", replica=r)
            self.hook.execute(
                f"CREATE TABLE {self.local} ({COLUMNS}) ENGINE = MergeTree "
                "PARTITION BY intDiv(updated_at, 3600000000) ORDER BY id",
                replica=r,
            )
        self.hook.execute(
            f"CREATE TABLE {self.distributed} AS {self.local} "
            f"ENGINE = Distributed('{CLUSTER}', '{self.db}', 'orders_local', cityHash64(id))"
        )

    def drop(self) -> None:
        for r in self.replicas:
            try:
                self.hook.execute(f"DROP DATABASE IF EXISTS {self.db}", replica=r)
            except Exception as exc:
                print(f"dropping {self.db} on {r.host}:{r.port}: {exc}")

    def truncate(self) -> None:
        for r in self.replicas:
            self.hook.execute(f"TRUNCATE TABLE {self.local}", replica=r)
            if self.hook.execute(f"SELECT count() FROM {self.local}", replica=r) != [(0,)]:
                raise SystemExit(f"{self.local} on {r.host}:{r.port} is not empty after TRUNCATE")

    def state(self) -> list[tuple[int, str]]:
        """Per shard: rows of the local table and their checksum (the loader's row hash, summed)."""
        out = []
        for r in self.replicas:
            query = f"SELECT count(), sum({self.hash_sql}) FROM {self.local}"
            ((rows, total),) = self.hook.execute(query, replica=r)
            out.append((int(rows), f"{int(total or 0) & (2**64 - 1):016x}"))
        return out

    def check(self, what: str, expected: list[tuple[int, str]]) -> None:
        got = self.state()
        if got != expected:
            raise SystemExit(f"{what}: the shards hold {got} (rows, checksum), expected {expected}")

    def client_args(self, replica: Any) -> list[str]:
        settings = self.hook.replica_settings(replica)
        args = ["clickhouse-client", "--host", settings.host, "--port", str(settings.port)]
        args += ["--user", settings.user] + (["--password", settings.password] if settings.password else [])
        return args


def measure(servers: ServerCpu, fn: Callable[..., Any], *args: Any) -> tuple[Any, dict[str, Any]]:
    """``fn(*args)``; its wall time, this process's and its children's CPU, the servers' CPU."""
    s0, c0 = servers.seconds(), resource.getrusage(resource.RUSAGE_SELF)
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - began
    s1, c1 = servers.seconds(), resource.getrusage(resource.RUSAGE_SELF)
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = ("ru_utime", "ru_stime")
    cpu = {
        "seconds": round(seconds, 3),
        "client_cpu_s": round(
            sum(getattr(b, f) - getattr(a, f) for a, b in ((c0, c1), (k0, k1)) for f in fields), 2
        ),
        "servers_cpu_s": round(s1 - s0, 2) if s0 is not None and s1 is not None else None,
    }
    return result, cpu


def run_operator(
    table: str,
    snapshot: int,
    target: str,
    write_path: str,
    *,
    phases: Target | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """The operator in a fresh process; ``phases``: time its steps, and run it twice (the target
    emptied in between)."""
    args = {
        "table": table,
        "snapshot": snapshot,
        "target": target,
        "write_path": write_path,
        "start": START.isoformat(),
        "end": END.isoformat(),
        "phases": phases is not None,
        "truncate": {
            "table": phases.local if phases else None,
            "replicas": [(r.host, r.port) for r in phases.replicas] if phases else [],
        },
    }
    out = subprocess.run(
        [sys.executable, "-c", OPERATOR_CHILD, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **CHILD,
    )
    if out.returncode != 0:
        raise SystemExit(f"the operator failed ({write_path}):\n{out.stderr[-4000:]}")
    result = _last_json(out.stdout)
    if CHILD["cwd"] and not result["provider_module"].startswith(CHILD["cwd"]):
        raise SystemExit(f"the operator ran {result['provider_module']}, not the code in {CHILD['cwd']}")
    return result


def per_shard(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(int(s["rows"]), str(s["checksum"])) for s in report["shards"]]


def split_rows(conn: Any, rows: Any, cluster: Any) -> list[Any]:
    """The rows each shard takes, as the Distributed table's ``cityHash64(id)`` places them
    (ClickHouse's own hash, in chdb)."""
    import pyarrow as pa

    b = rows  # noqa: F841 - read by Python(b) in the SQL
    parts = []
    for shard in cluster.shards:
        slots = ", ".join(str(n) for n, i in enumerate(cluster.slot_to_shard) if i == shard.index)
        sql = f"SELECT {CASTS} FROM Python(b) WHERE cityHash64(id) % {cluster.total_weight} IN ({slots})"
        part = pa.ipc.open_stream(conn.query(sql, "ArrowStream").bytes()).read_all()
        if part.schema.field("status").type != pa.string():  # chdb may give a String as binary
            part = part.set_column(
                part.schema.get_field_index("status"), "status", part.column("status").cast(pa.string())
            )
        parts.append(part)
    return parts


def insert_driver(target: Target, parts: list[Any]) -> dict[str, Any]:
    """clickhouse-driver's columnar insert into each shard's local table, one thread per shard;
    the Arrow-to-Python conversion is part of the client's work and timed apart too."""
    clients = [target.hook.replica_client(r) for r in target.replicas]
    for client in clients:
        client.execute("SELECT 1")  # connected before the clock starts
    began = time.perf_counter()
    columns = [[part.column(n).to_pylist() for n in NAMES] for part in parts]
    converted = time.perf_counter() - began
    errors: list[BaseException] = []

    def insert(i: int) -> None:
        try:
            target.hook.insert_columns(target.local, NAMES, columns[i], client=clients[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in clients:
        client.disconnect()
    if errors:
        raise SystemExit(f"clickhouse-driver insert failed: {errors[0]}")
    inserted = time.perf_counter() - began - converted
    return {"convert_to_python_s": round(converted, 3), "insert_s": round(inserted, 3)}


def insert_http_native(target: Target, conn: Any, parts: list[Any]) -> dict[str, Any]:
    """HTTP ``INSERT ... FORMAT Native`` into each shard's local table: chdb encodes the blocks on
    this thread, one streamed requests POST per shard on its own thread."""
    import requests

    queues: list[queue.Queue[bytes | None]] = [queue.Queue(maxsize=4) for _ in parts]
    errors: list[BaseException] = []
    query = f"INSERT INTO {target.local} ({', '.join(NAMES)}) FORMAT Native"

    def post(i: int) -> None:
        settings = target.hook.replica_settings(target.replicas[i])

        def blocks() -> Iterator[bytes]:
            while (block := queues[i].get()) is not None:
                yield block

        try:
            response = requests.post(
                settings.http_url(),
                params={"query": query},
                data=blocks(),
                headers=settings.http_headers(),
                timeout=(10, 600),
            )
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
        except BaseException as exc:
            errors.append(exc)
            while True:  # unblock the encoder
                try:
                    queues[i].get_nowait()
                except queue.Empty:
                    break

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(len(parts))]
    for t in threads:
        t.start()
    encoding = 0.0
    for group in itertools.zip_longest(*(part.to_batches(max_chunksize=BATCH_ROWS) for part in parts)):
        for i, batch in enumerate(group):
            if batch is None:
                continue
            t0 = time.perf_counter()
            b = batch  # noqa: F841 - read by Python(b) in the SQL
            block = bytes(conn.query(f"SELECT {CASTS} FROM Python(b)", "Native").bytes())
            encoding += time.perf_counter() - t0
            while not errors:
                try:
                    queues[i].put(block, timeout=0.5)
                    break
                except queue.Full:
                    continue
    for q in queues:
        if not errors:
            q.put(None)
    for t in threads:
        t.join(timeout=600)
    if errors:
        raise SystemExit(f"HTTP Native insert failed: {errors[0]}")
    return {"chdb_encode_s": round(encoding, 3)}


def export_files(target: Target, directory: Path, fmt: str) -> list[tuple[Path, int]]:
    """Each shard's rows as ClickHouse writes them in ``fmt``: (file, bytes)."""
    files = []
    select = ", ".join(NAMES)
    for i, r in enumerate(target.replicas):
        path = directory / f"shard{i + 1}.{fmt.lower()}"
        with path.open("wb") as out:
            subprocess.run(
                [*target.client_args(r), "--query", f"SELECT {select} FROM {target.local} FORMAT {fmt}"],
                stdout=out,
                check=True,
                timeout=600,
            )
        files.append((path, path.stat().st_size))
    return files


def client_inserts(target: Target, files: list[tuple[Path, int]], fmt: str, concurrent: bool) -> list[float]:
    """``clickhouse-client --query "INSERT ... FORMAT fmt" < file`` per shard; each insert's seconds."""
    query = f"INSERT INTO {target.local} ({', '.join(NAMES)}) FORMAT {fmt}"
    began = time.perf_counter()
    procs: list[tuple[subprocess.Popen[bytes], Any]] = []
    seconds: list[float] = []
    for r, (path, _) in zip(target.replicas, files, strict=True):
        stdin = path.open("rb")
        args = [*target.client_args(r), "--query", query]
        proc = subprocess.Popen(args, stdin=stdin, stderr=subprocess.PIPE)
        procs.append((proc, stdin))
        if not concurrent:
            _wait(proc, stdin)
            seconds.append(round(time.perf_counter() - began - sum(seconds), 3))
    if concurrent:
        for proc, stdin in procs:
            _wait(proc, stdin)
            seconds.append(round(time.perf_counter() - began, 3))
    return seconds


def _wait(proc: subprocess.Popen[bytes], stdin: Any) -> None:
    _, err = proc.communicate(timeout=600)
    stdin.close()
    if proc.returncode != 0:
        raise SystemExit(f"clickhouse-client insert failed: {err.decode()[-2000:]}")


def part1(hook: Any, table: str, snapshot: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    delete_free: dict[str, Any] = {}
    for engine in ("pyiceberg", "chdb"):
        delete_free[engine] = read(table, snapshot, engine)
        print(f"read, delete-free, {engine}: {delete_free[engine]}")
    same = {k: v for k, v in delete_free["chdb"].items() if k in ("rows", "sum_id", "sum_amount")}
    if same != {k: delete_free["pyiceberg"][k] for k in same}:
        raise SystemExit(f"the engines disagree: {delete_free}")
    figures["delete_free"] = delete_free
    for reference in ("ods.orders", "ods.orders_mirror"):
        lake = hook.load_table(reference)
        sid = lake.current_snapshot().snapshot_id
        figures[reference] = {"snapshot_id": sid, "chdb": read(reference, sid, "chdb")}
        print(f"read, {reference}: {figures[reference]}")
    return figures


def part2(
    hook: Any, target: Target, table: str, snapshot: int, rows: int, servers: ServerCpu, workdir: Path
) -> dict[str, Any]:
    import chdb
    import pyarrow as pa
    import pyarrow.compute as pc

    load: dict[str, Any] = {
        "window": [START.isoformat(), END.isoformat()],
        "target": f"{CLUSTER}: MergeTree PARTITION BY intDiv(updated_at, 3600000000) ORDER BY id on each "
        "shard, Distributed by cityHash64(id)",
        "operator": {},
        "clients": {},
        "ceiling": {},
    }

    # 1. the operator, end to end, each write path in a fresh process
    reference: list[tuple[int, str]] | None = None
    for path in ("local_shards", "distributed"):
        target.truncate()
        result, cost = measure(servers, run_operator, table, snapshot, target.distributed, path)
        report = result["report"]
        if report["rows"] != rows or sum(s["rows"] for s in report["shards"]) != rows:
            raise SystemExit(f"operator {path}: {report['rows']} rows reported, {rows} in the window")
        target.check(f"operator {path}", per_shard(report))
        if reference is None:
            reference = per_shard(report)
        elif per_shard(report) != reference:
            raise SystemExit(f"the write paths disagree: {per_shard(report)} vs {reference}")
        result["servers_cpu_s"] = cost["servers_cpu_s"]
        load["operator"][path] = result
        print(
            f"operator {path}: {result['rows_per_s']:,} rows/s, peak RSS {result['peak_rss_mb']} MB, "
            f"per shard {per_shard(report)}"
        )
        if path == "local_shards":
            # The ceiling's input: each shard's rows, written out by ClickHouse itself.
            native = export_files(target, workdir, "Native")
            tsv = export_files(target, workdir, "TabSeparated")
    assert reference is not None

    target.truncate()
    phased = run_operator(table, snapshot, target.distributed, "local_shards", phases=target)
    target.check("operator local_shards, phases timed", reference)
    for run in (phased, phased["second_execute_same_process"]):
        if per_shard(run["report"]) != reference:
            raise SystemExit(
                f"operator local_shards, phases timed: {per_shard(run['report'])} vs {reference}"
            )
    load["operator_phases"] = phased
    warm = phased["second_execute_same_process"]
    print(f"operator local_shards, phases timed: {phased['seconds']} s, {phased['phases_s']}")
    print(f"  again in the same process: {warm['seconds']} s, {warm['phases_s']}")

    # 2. clients on the same rows, already in Arrow (read and split once, not timed)
    lake = hook.load_table(table)
    arrow = lake.scan(snapshot_id=snapshot).to_arrow()
    arrow = arrow.set_column(
        arrow.schema.get_field_index("updated_at"),
        "updated_at",
        pc.cast(arrow.column("updated_at"), pa.int64()),
    )
    conn = chdb.connect(":memory:")
    try:
        parts = split_rows(conn, arrow, target.cluster)
        del arrow
        if [p.num_rows for p in parts] != [n for n, _ in reference]:
            raise SystemExit(
                f"split per shard {[p.num_rows for p in parts]}, the operator placed {reference}"
            )
        clients: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = [
            ("clickhouse_driver_insert_columns", insert_driver, (target, parts)),
            ("http_native_chdb_requests", insert_http_native, (target, conn, parts)),
        ]
        for name, insert, args in clients:
            target.truncate()
            detail, cost = measure(servers, insert, *args)
            target.check(name, reference)
            load["clients"][name] = {
                "into": "each shard's local table, both shards at once",
                "rows": rows,
                **cost,
                "rows_per_s": round(rows / cost["seconds"]),
                **detail,
            }
            print(f"client {name}: {load['clients'][name]}")
    finally:
        conn.close()
    del parts, clients

    # 3. the ceiling: clickhouse-client inserting ClickHouse's own files into each shard
    for fmt, files in (("Native", native), ("TabSeparated", tsv)):
        for concurrent in (True, False) if fmt == "Native" else (True,):
            target.truncate()
            per, cost = measure(servers, client_inserts, target, files, fmt, concurrent)
            target.check(f"clickhouse-client {fmt}", reference)
            key = f"{fmt.lower()}_{'both_shards_at_once' if concurrent else 'one_shard_after_the_other'}"
            load["ceiling"][key] = {
                "rows": rows,
                **cost,
                "rows_per_s": round(rows / cost["seconds"]),
                "per_shard_s": per,
                "file_bytes": [size for _, size in files],
            }
            print(f"ceiling {key}: {load['ceiling'][key]}")

    # 4. ratios
    native_rates = {k: v["rows_per_s"] for k, v in load["ceiling"].items() if k.startswith("native")}
    ceiling_key = max(native_rates, key=native_rates.__getitem__)
    ceiling = load["ceiling"][ceiling_key]["rows_per_s"]
    load["ratio"] = {
        "ceiling": ceiling_key,
        "ceiling_rows_per_s": ceiling,
        **{
            f"operator_{p}": round(load["operator"][p]["rows_per_s"] / ceiling, 3)
            for p in ("local_shards", "distributed")
        },
        "goal": 0.70,
    }
    load["peak_rss_le_1gib"] = {p: load["operator"][p]["peak_rss_mb"] <= 1024 for p in load["operator"]}
    return load


def rss_run(hook: Any, target: Target, namespace: str, rows: int, timeout: float) -> dict[str, Any]:
    """The operator (local_shards) on a table of ``rows`` rows: peak RSS, if done in ``timeout`` s."""
    identifier = f"{namespace}.orders_rss"
    began = time.perf_counter()
    snapshot = build(hook, identifier, rows)
    built = time.perf_counter() - began
    print(f"built {identifier} ({rows:,} rows) in {built:.1f} s")
    target.truncate()
    try:
        result = run_operator(identifier, snapshot, target.distributed, "local_shards", timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"rows": rows, "finished": False, "timeout_s": timeout}
    finally:
        hook.catalog.purge_table(identifier)
    report = result["report"]
    if report["rows"] != rows:
        raise SystemExit(f"operator on {rows:,} rows: {report['rows']} rows reported")
    target.check(f"operator on {rows:,} rows", per_shard(report))
    return {"finished": True, "timeout_s": timeout, **result}


def print_table(rows: int, load: dict[str, Any]) -> None:
    lines = [("measurement", "rows/s", "seconds", "peak RSS MB", "client CPU s", "servers CPU s")]
    for path, r in load["operator"].items():
        lines.append(
            (
                f"operator {path} (execute, end to end)",
                f"{r['rows_per_s']:,}",
                f"{r['seconds']:.2f}",
                str(r["peak_rss_mb"]),
                f"{r['process_cpu_s']:.1f}",
                f"{r['servers_cpu_s']}",
            )
        )
    warm = load["operator_phases"]["second_execute_same_process"]
    lines.append(
        (
            "operator local_shards, 2nd execute in one process",
            f"{warm['rows_per_s']:,}",
            f"{warm['seconds']:.2f}",
            "",
            f"{warm['process_cpu_s']:.1f}",
            "",
        )
    )
    for name, r in {**load["clients"], **load["ceiling"]}.items():
        kind = "client" if name in load["clients"] else "clickhouse-client"
        lines.append(
            (
                f"{kind} {name}",
                f"{r['rows_per_s']:,}",
                f"{r['seconds']:.2f}",
                "",
                f"{r['client_cpu_s']:.1f}",
                f"{r['servers_cpu_s']}",
            )
        )
    if (big := load.get("rss_run")) and big.get("finished"):
        lines.append(
            (
                f"operator local_shards, {big['rows']:,} rows",
                f"{big['rows_per_s']:,}",
                f"{big['seconds']:.2f}",
                str(big["peak_rss_mb"]),
                f"{big['process_cpu_s']:.1f}",
                "",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    print(f"\n{rows:,} rows, one hour window, {CLUSTER} (2 shards)")
    for n, line in enumerate(lines):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    ratio = load["ratio"]
    print(
        f"operator / ceiling ({ratio['ceiling']}, {ratio['ceiling_rows_per_s']:,} rows/s): "
        f"local_shards {ratio['operator_local_shards']}, distributed {ratio['operator_distributed']} "
        f"(goal >= {ratio['goal']}); peak RSS <= 1 GiB: {load['peak_rss_le_1gib']}"
    )
    if big and big.get("finished") is False:
        print(f"operator on {big['rows']:,} rows: not finished within {big['timeout_s']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rss-rows", type=int, default=10_000_000, help="0 skips the large run")
    parser.add_argument("--rss-timeout", type=float, default=360.0)
    parser.add_argument(
        "--provider",
        default="HEAD",
        help="the provider code measured: a git revision (default HEAD), or 'worktree' (as it is on disk)",
    )
    args = parser.parse_args()
    provider = use_provider(args.provider)
    print(f"provider code: {provider}")
    import airflow_provider_rtp
    from airflow_provider_rtp.hooks.clickhouse import ClickHouseHook
    from airflow_provider_rtp.hooks.iceberg import IcebergHook

    if "directory" in provider and not airflow_provider_rtp.__file__.startswith(provider["directory"]):
        raise SystemExit(
            f"imported {airflow_provider_rtp.__file__}, not the code exported for {args.provider}"
        )
    hook = IcebergHook()
    ch = ClickHouseHook()
    namespace = f"bench_load_{uuid.uuid4().hex[:8]}"
    table = f"{namespace}.orders"
    target = Target(ch)
    servers = ServerCpu()
    figures: dict[str, Any] = {
        "rows": args.rows,
        "provider_code": {k: v for k, v in provider.items() if k != "directory"},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    ((server_version,),) = ch.execute("SELECT version()")
    try:
        hook.catalog.create_namespace(namespace)
        began = time.perf_counter()
        snapshot = build(hook, table, args.rows)
        print(f"built {table} ({args.rows:,} rows) in {time.perf_counter() - began:.1f} s")
        figures["read"] = part1(hook, table, snapshot)
        target.create()
        with tempfile.TemporaryDirectory(prefix="bench_load_") as workdir:
            figures["load"] = part2(hook, target, table, snapshot, args.rows, servers, Path(workdir))
        if args.rss_rows:
            figures["load"]["rss_run"] = rss_run(hook, target, namespace, args.rss_rows, args.rss_timeout)
            print(f"operator on {args.rss_rows:,} rows: {figures['load']['rss_run']}")
        else:
            figures["load"]["rss_run"] = {"skipped": True}
    finally:
        target.drop()
        ch.close()
        for identifier in (table, f"{namespace}.orders_rss"):
            try:
                if hook.catalog.table_exists(identifier):
                    hook.catalog.purge_table(identifier)
            except Exception as exc:
                print(f"dropping {identifier}: {exc}")
        try:
            hook.catalog.drop_namespace(namespace)
        except Exception as exc:
            print(f"dropping {namespace}: {exc}")
        if "directory" in provider:
            shutil.rmtree(provider["directory"], ignore_errors=True)
    print_table(args.rows, figures["load"])
    import chdb
    import clickhouse_driver
    import pyiceberg
    import requests

    versions = {
        "chdb": chdb.__version__,
        "pyiceberg": pyiceberg.__version__,
        "clickhouse_server": server_version,
        "clickhouse_driver": clickhouse_driver.__version__,
        "requests": requests.__version__,
    }
    path = write_results(__file__, figures, versions)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
