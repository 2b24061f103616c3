"""One live evaluation per pipeline for the freshness page: bounded, concurrent, cached.

The page asks the sensor's own evaluator (:func:`~airflow_provider_rtp.evaluation.run_check`
with the clients :class:`~airflow_provider_rtp.hooks.completeness.CheckClients` builds), so it
shows what a sensor would be told. Refreshing the page must not hammer Kafka and Flink:

- an answer is reused for ``ttl`` seconds;
- at most one evaluation per pipeline is in flight; a request arriving meanwhile waits for it;
- evaluations run in a small thread pool; a request waits at most ``timeout`` for each, and a
  late one shows "no answer within …" while it finishes in the background (and is cached then);
- an evaluation that raises shows its error for that pipeline only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.plugins.freshness_grid import Live

__all__ = ["LiveEvaluations"]

log = logging.getLogger(__name__)

ClientsFactory = Callable[[CompletenessCheck], Any]


def _looked_up_clients(check: CompletenessCheck) -> Any:
    from airflow_provider_rtp.hooks.completeness import CheckClients

    return CheckClients.looked_up(check)


@dataclass
class _Entry:
    window: Window
    future: Future[Live]
    done_at: float | None = None


class LiveEvaluations:
    """Live answers per pipeline, shared by all requests of one API server process.

    :param ttl: seconds an answer is reused.
    :param timeout: seconds a request waits for one pipeline's answer.
    :param workers: evaluations running at the same time.
    :param clients: builds a check's clients (default: from Airflow connections, looked up
        as any process finds them); kept per pipeline and reused, closed when replaced.
    """

    def __init__(
        self,
        *,
        ttl: float = 5.0,
        timeout: float = 10.0,
        workers: int = 4,
        clients: ClientsFactory = _looked_up_clients,
    ) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rtp-freshness")
        self._make_clients = clients
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._clients: dict[str, tuple[CompletenessCheck, Any]] = {}

    def evaluate(self, asks: Sequence[tuple[CompletenessCheck, Window]]) -> dict[str, Live]:
        """The live answer of each check (by table) for its window, waiting at most ``timeout`` each."""
        futures = {check.pipeline.table: (window, self._future(check, window)) for check, window in asks}
        deadline = time.monotonic() + self.timeout
        answers = {}
        for table, (window, future) in futures.items():
            try:
                answers[table] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                answers[table] = Live(
                    window, error=f"no answer within {self.timeout:g} s (still evaluating; refresh later)"
                )
        return answers

    def _future(self, check: CompletenessCheck, window: Window) -> Future[Live]:
        key = check.pipeline.table
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.window == window:
                if not entry.future.done():
                    return entry.future  # one evaluation in flight per pipeline
                if entry.done_at is not None and time.monotonic() - entry.done_at < self.ttl:
                    return entry.future
            elif entry is not None and not entry.future.done():
                return entry.future  # another window is still being evaluated: no second one beside it
            future = self._pool.submit(self._run, check, window)
            entry = _Entry(window, future)
            self._entries[key] = entry
        future.add_done_callback(lambda _: setattr(entry, "done_at", time.monotonic()))
        return future

    def _run(self, check: CompletenessCheck, window: Window) -> Live:
        started = datetime.now(tz=UTC)
        try:
            clients = self._clients_for(check)
            result: CheckResult = run_check(check, window, clients)
        except Exception as exc:  # one pipeline's trouble is shown on its row, never a 500
            log.warning("freshness: live evaluation of %s failed: %s", check.pipeline.table, exc)
            self._drop_clients(check)
            return Live(window, error=f"{type(exc).__name__}: {exc}", evaluated_at=started)
        return Live(window, result=result, evaluated_at=started)

    def _clients_for(self, check: CompletenessCheck) -> Any:
        key = check.pipeline.table
        held = self._clients.get(key)
        if held is not None and held[0] == check:
            return held[1]
        self._drop_clients(check)
        clients = self._make_clients(check)
        self._clients[key] = (check, clients)
        return clients

    def _drop_clients(self, check: CompletenessCheck) -> None:
        held = self._clients.pop(check.pipeline.table, None)
        if held is not None and hasattr(held[1], "close"):
            try:
                held[1].close()
            except Exception:  # closing a broken client must not hide the evaluation's error
                log.debug("freshness: closing the clients of %s failed", check.pipeline.table, exc_info=True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for check, _clients in list(self._clients.values()):
            self._drop_clients(check)
