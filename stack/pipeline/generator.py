"""Steady stream of changes into shop.orders: inserts, updates and deletes.

Each change is its own transaction, so every change is one binlog transaction
with its own commit. Runs until SIGTERM/SIGINT (or --duration seconds).

Uses pymysql when the interpreter has it, otherwise one long-lived `mariadb`
command-line client fed through stdin. Both run the same SQL: updates and
deletes pick a random existing row on the server side, so neither backend has
to read results.

    MYSQL_PWD=... python3 stack/pipeline/generator.py --rate 5 --port 13306 --user root

Bench mode, many delete files fast: --hot-rows N sends every update and delete to one
of the N newest rows (inserts keep adding new ones), so each commit of the lake tables
deletes earlier versions of the same few rows.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from functools import partial

STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")


def pick_row(hot_rows: int) -> tuple[str, ...]:
    """A random existing id as @k, chosen on the server: ids are dense apart from deletes,
    so the first id at or above a uniform draw over [lo, MAX] is always a row. lo is MIN,
    or with hot_rows > 0 the lowest of the newest hot_rows ids."""
    lo = "MIN(id)" if hot_rows <= 0 else f"GREATEST(MIN(id), MAX(id) - {hot_rows - 1})"
    return (
        f"SELECT {lo}, MAX(id) INTO @lo, @hi FROM orders",
        "SET @k = @lo + FLOOR(RAND() * (@hi - @lo + 1))",
    )


def insert_sql(rng: random.Random) -> list[str]:
    return [
        "INSERT INTO orders (customer_id, amount, status) "
        f"VALUES ({rng.randint(1, 1000)}, {rng.randint(100, 50000) / 100:.2f}, 'new')"
    ]


def update_sql(rng: random.Random, hot_rows: int = 0) -> list[str]:
    return [
        *pick_row(hot_rows),
        f"UPDATE orders SET amount = {rng.randint(100, 50000) / 100:.2f}, "
        f"status = '{rng.choice(STATUSES)}' WHERE id >= @k ORDER BY id LIMIT 1",
    ]


def delete_sql(rng: random.Random, hot_rows: int = 0) -> list[str]:
    return [*pick_row(hot_rows), "DELETE FROM orders WHERE id >= @k ORDER BY id LIMIT 1"]


class PyMySQLBackend:
    name = "pymysql"

    def __init__(self, args: argparse.Namespace) -> None:
        import pymysql

        self._conn = pymysql.connect(
            host=args.host,
            port=args.port,
            user=args.user,
            password=args.password,
            database=args.database,
            autocommit=True,
        )

    def transaction(self, statements: list[str]) -> None:
        with self._conn.cursor() as cur:
            cur.execute("START TRANSACTION")
            for statement in statements:
                cur.execute(statement)
            cur.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class CliBackend:
    name = "mariadb-cli"

    def __init__(self, args: argparse.Namespace) -> None:
        env = dict(os.environ, MYSQL_PWD=args.password)
        cmd = [
            "mariadb", "--no-defaults", "--batch", "--silent",
            f"--host={args.host}", f"--port={args.port}", f"--user={args.user}", args.database,
        ]  # fmt: skip
        # Without --force the client exits on the first error: we notice on the next write.
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=env, text=True)

    def transaction(self, statements: list[str]) -> None:
        if self._proc.poll() is not None:
            raise RuntimeError(f"mariadb client exited with code {self._proc.returncode}")
        body = "".join(f"{s};\n" for s in ("START TRANSACTION", *statements, "COMMIT"))
        self._proc.stdin.write(body)
        self._proc.stdin.flush()

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


def open_backend(args: argparse.Namespace):
    if args.backend in ("auto", "pymysql"):
        try:
            return PyMySQLBackend(args)
        except ImportError:
            if args.backend == "pymysql":
                raise
    return CliBackend(args)


def parse_mix(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split("/")]
    if len(parts) != 3 or min(parts) < 0 or sum(parts) == 0:
        raise argparse.ArgumentTypeError(
            f"--mix wants INSERT/UPDATE/DELETE weights like 60/30/10, got {text!r}"
        )
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=5.0, help="changes per second (default 5)")
    p.add_argument("--mix", type=parse_mix, default=(60, 30, 10), help="insert/update/delete weights")
    p.add_argument(
        "--hot-rows", type=int, default=0, metavar="N", help="updates and deletes hit the N newest rows only"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="root")
    p.add_argument("--password", default=os.environ.get("MYSQL_PWD", ""), help="default: $MYSQL_PWD")
    p.add_argument("--database", default="shop")
    p.add_argument("--backend", choices=("auto", "pymysql", "cli"), default="auto")
    p.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: run until stopped)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--report-every", type=float, default=30, help="seconds between progress lines")
    args = p.parse_args(argv)
    if args.rate <= 0:
        p.error("--rate must be > 0")
    if args.hot_rows < 0:
        p.error("--hot-rows must be >= 0")

    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    rng = random.Random(args.seed)
    kinds = ("insert", "update", "delete")
    builders = {
        "insert": insert_sql,
        "update": partial(update_sql, hot_rows=args.hot_rows),
        "delete": partial(delete_sql, hot_rows=args.hot_rows),
    }
    backend = open_backend(args)
    hot = f", updates/deletes on the {args.hot_rows} newest rows" if args.hot_rows else ""
    print(
        f"generator: {args.rate:g} changes/s, mix {'/'.join(map(str, args.mix))}{hot}, via {backend.name}",
        flush=True,
    )

    done: Counter[str] = Counter()
    start = time.monotonic()
    next_report = start + args.report_every
    n = 0
    # Paced against a fixed origin, so a slow change does not lower the rate; after a
    # stall of more than a second the origin moves, so there is no burst to catch up.
    origin, paced = start, 0
    try:
        while not stopping:
            now = time.monotonic()
            if args.duration and now - start >= args.duration:
                break
            due = origin + paced / args.rate
            if due > now:
                time.sleep(min(due - now, 0.5))
                continue
            if now - due > 1.0:
                origin, paced = now, 0
            kind = rng.choices(kinds, weights=args.mix)[0]
            backend.transaction(builders[kind](rng))
            done[kind] += 1
            n += 1
            paced += 1
            if now >= next_report:
                print(f"generator: {n} changes ({dict(done)})", flush=True)
                next_report = now + args.report_every
    finally:
        backend.close()
    print(f"generator: stopped after {n} changes ({dict(done)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
