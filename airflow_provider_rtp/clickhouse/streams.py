"""Streams of a load: Native blocks fed to one HTTP insert per server, and the progress log."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from airflow_provider_rtp.exceptions import ClickHouseError

__all__ = ["NativeSender", "Progress"]

log = logging.getLogger(__name__)

_QUEUED_BLOCKS = 4  # Native blocks waiting per server: memory stays a few batches


class NativeSender:
    """One streamed ``INSERT ... FORMAT Native`` on its own thread, fed through a bounded queue."""

    def __init__(self, run: Callable[[Iterable[bytes]], None], where: str):
        self.where = where
        self.error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_BLOCKS)
        self._thread = threading.Thread(
            target=self._run, args=(run,), name=f"rtp-insert {where}", daemon=True
        )
        self._thread.start()

    def _blocks(self) -> Iterator[bytes]:
        while (block := self._queue.get()) is not None:
            yield block

    def _run(self, run: Callable[[Iterable[bytes]], None]) -> None:
        try:
            run(self._blocks())
        except BaseException as exc:  # handed to the producer, which raises it
            self.error = exc
            # Unblock a producer waiting on a full queue; nothing more will be read.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def put(self, block: bytes | None) -> None:
        while True:
            self._raise()
            try:
                self._queue.put(block, timeout=0.5)
                return
            except queue.Full:
                continue

    def _raise(self) -> None:
        if self.error is not None:
            raise ClickHouseError(f"insert into {self.where} failed: {self.error}") from self.error
        if not self._thread.is_alive():
            raise ClickHouseError(f"insert into {self.where} ended early")

    def finish(self) -> None:
        self.put(None)
        self._thread.join()
        if self.error is not None:
            self._raise()

    def abandon(self) -> None:
        """End the stream early (its staging table is dropped next), waiting a little for it."""
        if self._thread.is_alive() and self.error is None:
            try:
                self._queue.put(None, timeout=5)
            except queue.Full:
                return
            self._thread.join(timeout=30)


class Progress:
    """A line with rows and rows/s in the task log every ``interval`` seconds."""

    def __init__(self, interval: float, table: str, verb: str = "sent"):
        self.interval, self.table, self.verb = interval, table, verb
        self.started = self.last = time.monotonic()
        self.rows = 0

    def add(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            log.info("%s: %d rows %s (%.0f rows/s)", self.table, self.rows, self.verb, self.rate(now))

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.monotonic()) - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0
