"""What the completeness triggers of one triggerer process share: clients, evaluation slots, results.

A triggerer runs hundreds of completeness triggers at once (a backfill defers one per
window). Each with its own Kafka admin client (librdkafka threads), Flink HTTP session
and catalog engine (a connection pool) would exhaust threads, sockets and memory, and
evaluating them all at the same moment would queue up the event loop's worker threads.
So, per event loop:

- **Clients** are shared per connection set (the three connection ids), reference
  counted, and closed when the last trigger using them ends. They only carry
  connections: every evaluation still reads every system afresh.
- **Evaluations** run at most ``MAX_CONCURRENT_EVALUATIONS`` at a time; the others wait
  their turn without holding a worker thread.
- **Identical evaluations** (same pipeline, window, policy and connections) asked for
  while one of them waits for its turn are answered by that one evaluation. It has not
  read anything yet when they join it, so its reads all happen after each of them asked:
  the result is what each would have got on its own, read in the contract's order (CDC,
  Kafka, checkpoint id, snapshot log) within that one evaluation, never an older
  observation. An evaluation already reading is never joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_rtp.completeness import Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.hooks.completeness import CheckClients

__all__ = ["MAX_CONCURRENT_EVALUATIONS", "acquire_clients", "evaluate", "release_clients"]

#: Evaluations in flight per triggerer process: each mostly waits on the network, and the
#: event loop's default executor (min(32, CPUs + 4) threads) also serves other triggers.
MAX_CONCURRENT_EVALUATIONS = 4

ConnectionFetcher = Callable[[CompletenessCheck], Awaitable[CheckClients]]


@dataclass
class _Clients:
    ready: asyncio.Future[CheckClients]
    users: int = 0


@dataclass
class _Round:
    """One evaluation and the triggers waiting for its result."""

    result: asyncio.Future[CheckResult]


@dataclass
class _LoopState:
    clients: dict[tuple[str, str, str], _Clients] = field(default_factory=dict)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_EVALUATIONS))
    rounds: dict[str, _Round] = field(default_factory=dict)


# Per event loop: asyncio primitives belong to one loop, and tests run one loop after another.
_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _STATES.get(loop)
    if state is None:
        state = _STATES[loop] = _LoopState()
    return state


async def acquire_clients(check: CompletenessCheck, build: ConnectionFetcher) -> CheckClients:
    """The shared clients of ``check``'s connection set, built by ``build`` for the first user."""
    state = _state()
    key = check.conn_ids
    while True:
        entry = state.clients.get(key)
        if entry is None:
            entry = state.clients[key] = _Clients(asyncio.get_running_loop().create_future())
            try:
                clients = await build(check)
                # Build the lazy clients once, here, so concurrent first evaluations do not each build one.
                await asyncio.to_thread(_warm, clients)
            except BaseException as exc:
                del state.clients[key]
                entry.ready.set_exception(exc)
                entry.ready.exception()  # retrieved: waiters re-raise it, no "never retrieved" warning
                raise
            entry.ready.set_result(clients)
        clients = await asyncio.shield(entry.ready)
        if state.clients.get(key) is entry:  # not closed by its last user while this one waited
            entry.users += 1
            return clients


def _warm(clients: CheckClients) -> None:
    _ = clients.kafka, clients.platform.rest
    with contextlib.suppress(Exception):  # an unreachable catalog is reported by the first evaluation
        _ = clients.iceberg.catalog


async def release_clients(check: CompletenessCheck, clients: CheckClients) -> None:
    state = _state()
    entry = state.clients.get(check.conn_ids)
    if entry is None or not entry.ready.done() or entry.ready.result() is not clients:
        await asyncio.to_thread(clients.close)  # not shared (never registered): close it alone
        return
    entry.users -= 1
    if entry.users <= 0:
        del state.clients[check.conn_ids]
        await asyncio.to_thread(clients.close)


async def evaluate(
    check: CompletenessCheck,
    window: Window,
    clients: CheckClients,
    persisted: Any,
    kafka_held_since: datetime | None = None,
) -> CheckResult:
    """``run_check`` in a worker thread, within the process's evaluation slots, shared with
    identical evaluations that are still waiting for a slot (``kafka_held_since``: see run_check)."""
    state = _state()
    if persisted is not None:  # a stored decision to reuse: rare, and specific to its caller
        return await _run(state, check, window, clients, persisted)
    held = None if kafka_held_since is None else kafka_held_since.isoformat()
    key = json.dumps([check.to_dict(), window.to_dict(), held], sort_keys=True)
    while True:
        pending = state.rounds.get(key)  # only rounds that have not started reading are listed
        if pending is None:
            return await _lead(state, key, check, window, clients, kafka_held_since)
        try:
            return await asyncio.shield(pending.result)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not pending.result.cancelled() or (task is not None and task.cancelling()):
                raise  # this trigger itself is being cancelled
            # Only the round's leader was cancelled (its trigger ended): ask again.


async def _lead(
    state: _LoopState,
    key: str,
    check: CompletenessCheck,
    window: Window,
    clients: CheckClients,
    kafka_held_since: datetime | None = None,
) -> CheckResult:
    this = state.rounds[key] = _Round(asyncio.get_running_loop().create_future())
    try:
        async with state.slots:
            del state.rounds[key]  # reading starts now: later requests start a new round
            # Only a ClickHouse sink carries the Kafka stage's time from one evaluation to the next.
            carried: dict[str, Any] = (
                {} if kafka_held_since is None else {"kafka_held_since": kafka_held_since}
            )
            result = await asyncio.to_thread(run_check, check, window, clients, persisted=None, **carried)
    except asyncio.CancelledError:
        if state.rounds.get(key) is this:
            del state.rounds[key]
        this.result.cancel()
        raise
    except BaseException as exc:
        this.result.set_exception(exc)
        this.result.exception()  # retrieved: joiners re-raise it, no "never retrieved" warning
        raise
    this.result.set_result(result)
    return result


async def _run(
    state: _LoopState, check: CompletenessCheck, window: Window, clients: CheckClients, persisted: Any
) -> CheckResult:
    async with state.slots:
        return await asyncio.to_thread(run_check, check, window, clients, persisted=persisted)
