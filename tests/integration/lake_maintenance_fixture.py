"""A private pipeline with both lake tables and a steady writer, for the maintenance tests.

The changelog table (ods-orders.sql) and the upsert mirror (ods-orders-mirror.sql) are fed
from one private CDC topic, so maintenance runs beside two live Flink writers without
touching the shared reference tables other tests read.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.integration.private_pipeline import PrivatePipeline


@dataclass
class ChangeWriter:
    """Inserts, updates and deletes in the pipeline's source table at about ``rate`` per second,
    each its own transaction, until stopped. Updates and deletes hit existing rows, so both
    tables keep receiving equality deletes in every partition."""

    pipeline: PrivatePipeline
    rate: float = 20.0
    changes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self) -> ChangeWriter:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="change-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self._error is not None:
            raise AssertionError(f"the change writer failed: {self._error!r}")
        return self.changes

    def _run(self) -> None:
        rng = random.Random(7)
        try:
            with self.pipeline.db(self.pipeline.database) as conn, conn.cursor() as cur:
                while not self._stop.wait(1 / self.rate):
                    roll = rng.random()
                    if roll < 0.4:
                        cur.execute(
                            "INSERT INTO orders (customer_id, amount) VALUES (%s, %s)",
                            (rng.randint(1, 100), rng.randint(100, 99999) / 100),
                        )
                    else:
                        cur.execute("SELECT MIN(id), MAX(id) FROM orders")
                        lo, hi = cur.fetchone()
                        if lo is None:
                            continue
                        key = rng.randint(lo, hi)
                        if roll < 0.9:
                            cur.execute(
                                "UPDATE orders SET amount = %s, status = %s"
                                " WHERE id >= %s ORDER BY id LIMIT 1",
                                (rng.randint(100, 99999) / 100, rng.choice(["paid", "shipped", "new"]), key),
                            )
                        else:
                            cur.execute("DELETE FROM orders WHERE id >= %s ORDER BY id LIMIT 1", (key,))
                    self.changes += 1
        except BaseException as exc:  # reported by stop()
            self._error = exc


def maintenance_pipeline() -> Iterator[PrivatePipeline]:
    """Up with the mirror, 2 s checkpoints (files and snapshots build up fast); down afterwards."""
    pipeline = PrivatePipeline(checkpoint_interval_s=2)
    try:
        yield pipeline.up(mirror=True)
    finally:
        pipeline.down()
