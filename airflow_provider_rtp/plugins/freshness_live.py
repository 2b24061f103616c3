"""One live evaluation per pipeline for the freshness page: bounded, concurrent, cached.

The page asks the sensor's own evaluator (:func:`~airflow_provider_rtp.evaluation.run_check`
with the clients :class:`~airflow_provider_rtp.hooks.completeness.CheckClients` builds), so it
shows what a sensor would be told. Refreshing the page must not hammer Kafka and Flink:

- an answer is reused for ``ttl`` seconds;
- at most one evaluation per pipeline is in flight; a request arriving meanwhile shares it;
- evaluations run in a small thread pool, and a request waits for them at most ``budget``
  seconds in all (stale-while-revalidate): a pipeline not done by then is answered with its
  previous answer marked ``running``, or with a ``running`` answer without result when it has
  none yet; its evaluation goes on and the next request gets it;
- an evaluation that raises shows its error for that pipeline only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.plugins.freshness_grid import DEFAULT_LIVE_BUDGET, Live

__all__ = ["LiveEvaluations"]

log = logging.getLogger(__name__)

ClientsFactory = Callable[[CompletenessCheck], Any]


def _looked_up_clients(check: CompletenessCheck) -> Any:
    from airflow_provider_rtp.hooks.completeness import CheckClients

    return CheckClients.looked_up(check)


@dataclass(frozen=True)
class _Entry:
    window: Window
    future: Future[Live]


class LiveEvaluations:
    """Live answers per pipeline, shared by all requests of one API server process.

    :param ttl: seconds an answer is reused.
    :param budget: seconds a request waits for the answers of all its pipelines together.
    :param workers: evaluations running at the same time.
    :param clients: builds a check's clients (default: from Airflow connections, looked up
        as any process finds them); kept per pipeline and reused, closed when replaced.
    """

    def __init__(
        self,
        *,
        ttl: float = 5.0,
        budget: float = DEFAULT_LIVE_BUDGET,
        workers: int = 4,
        clients: ClientsFactory = _looked_up_clients,
    ) -> None:
        self.ttl = ttl
        self.budget = budget
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rtp-freshness")
        self._make_clients = clients
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._last: dict[str, tuple[Live, float]] = {}  # each pipeline's newest answer, when it came
        self._clients: dict[str, tuple[CompletenessCheck, Any]] = {}

    def evaluate(
        self,
        asks: Sequence[tuple[CompletenessCheck, Window]],
        *,
        budget: float | None = None,
        since: float | None = None,
    ) -> dict[str, Live]:
        """The live answer of each check (by table) for its window, waiting until ``since + budget``
        at most (``since``: the request's start, ``time.monotonic()``; default now; ``budget``:
        default ``self.budget``). A pipeline not done by then gets its previous answer marked
        ``running``, else a ``running`` answer without result."""
        budget = self.budget if budget is None else budget
        until = (time.monotonic() if since is None else since) + budget
        futures = {check.pipeline.table: (window, self._future(check, window)) for check, window in asks}
        wait([future for _, future in futures.values()], timeout=max(0.0, until - time.monotonic()))
        answers = {}
        for table, (window, future) in futures.items():
            if future.done() and not future.cancelled():
                answers[table] = future.result()
            else:
                answers[table] = self._meanwhile(table, window)
        return answers

    def _meanwhile(self, table: str, window: Window) -> Live:
        """What is shown of a pipeline whose evaluation is still running."""
        with self._lock:
            last = self._last.get(table)
        return Live(window, running=True) if last is None else replace(last[0], running=True)

    def _future(self, check: CompletenessCheck, window: Window) -> Future[Live]:
        key = check.pipeline.table
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.future.done():
                return entry.future  # one evaluation in flight per pipeline, whatever its window
            last = self._last.get(key)
            fresh = last is not None and time.monotonic() - last[1] < self.ttl
            if entry is not None and entry.window == window and fresh:
                return entry.future
            future = self._pool.submit(self._run, check, window)
            self._entries[key] = _Entry(window, future)
        return future

    def _run(self, check: CompletenessCheck, window: Window) -> Live:
        live = self._evaluated(check, window)
        with self._lock:  # kept before the future is done, so the TTL check always finds it
            self._last[check.pipeline.table] = (live, time.monotonic())
        return live

    def _evaluated(self, check: CompletenessCheck, window: Window) -> Live:
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
