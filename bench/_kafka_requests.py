"""Counting what a KafkaLagReader sends, from outside the library.

librdkafka reports per-broker request counts in its statistics, but only when a
client is polled; the reader's probe consumers are closed inside its methods and
its admin client is never polled. The benchmark's reader subclass polls each
client once more before it is closed or read, so every request is in a report.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from airflow_provider_rtp.kafka import KafkaLagReader

__all__ = ["CountingAdmin", "RequestCountingReader"]

_STATS_INTERVAL_MS = 50


class CountingAdmin:
    """Counts the admin calls the reader makes; each is one batched request per broker involved."""

    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._admin, name)
        if not callable(attr) or name == "poll":
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


class _PolledOnClose:
    """A probe consumer that serves one more statistics report before it closes."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)

    def close(self) -> None:
        self._consumer.poll(2 * _STATS_INTERVAL_MS / 1000)
        self._consumer.close()


class RequestCountingReader(KafkaLagReader):
    """A lag reader whose admin calls and broker requests (by type) are counted."""

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self._sent: dict[str, Counter[str]] = {}
        super().__init__(
            {**config, "statistics.interval.ms": _STATS_INTERVAL_MS, "stats_cb": self._on_stats}, **kwargs
        )
        self.admin_counter = CountingAdmin(self._admin)
        self._admin = self.admin_counter  # type: ignore[assignment]

    def _on_stats(self, raw: str) -> None:
        stats = json.loads(raw)
        sent: Counter[str] = Counter()
        for broker in stats.get("brokers", {}).values():
            sent.update({k: v for k, v in (broker.get("req") or {}).items() if v})
        self._sent[stats["name"]] = sent  # cumulative per client: the last report wins

    def _probe_consumer(self, purpose: str) -> Consumer:
        return _PolledOnClose(super()._probe_consumer(purpose))  # type: ignore[return-value]

    def reset(self) -> None:
        """Start counting afresh (after a warm-up call)."""
        self.flush()
        self.admin_counter.calls.clear()
        self._sent.clear()

    def flush(self) -> None:
        """Serve the admin client's last statistics, so its latest requests are counted."""
        self.admin_counter._admin.poll(2 * _STATS_INTERVAL_MS / 1000)

    def protocol_requests(self) -> dict[str, int]:
        """Requests sent to the brokers, by type, summed over every client of this reader."""
        self.flush()
        total: Counter[str] = Counter()
        for sent in self._sent.values():
            total.update(sent)
        return dict(sorted(total.items()))

    def admin_calls(self) -> dict[str, int]:
        return dict(sorted(self.admin_counter.calls.items()))
