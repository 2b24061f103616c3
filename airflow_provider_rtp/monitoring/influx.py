"""N InfluxDB instances as one store, over the v1-compatible HTTP API.

``POST /write`` (line protocol) and ``GET``/``POST /query`` (InfluxQL) are
served by InfluxDB 1.x, by 2.x's compatibility endpoints and by 3.x, so one
client speaks to all of them. A hash ring routes each series key (a pipeline
or job name) to one shard; every point and query of that key goes there.

Connection errors, timeouts and HTTP 5xx are retried with exponential backoff;
a 4xx is the server refusing the request and is never retried. A shard that
stays down fails only the writes of the keys it owns: the others are written,
then :class:`ShardWriteError` names each failed shard and its keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_rtp.exceptions import InfluxError, InvalidInputError
from airflow_provider_rtp.monitoring.line_protocol import PRECISIONS, Point
from airflow_provider_rtp.monitoring.ring import HashRing

__all__ = [
    "InfluxSettings",
    "Shard",
    "ShardFailure",
    "ShardWriteError",
    "ShardedInfluxClient",
    "parse_shards",
]

_READ_VERBS = ("SELECT", "SHOW", "EXPLAIN")  # statements GET may carry; all else must POST


@dataclass(frozen=True)
class Shard:
    """One InfluxDB instance. ``name`` places it on the ring; ``url`` is only where it is now."""

    name: str
    url: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"shard {self.name!r}: url must be http(s)://host:port, got {self.url!r}")
        if parts.username or parts.password:
            raise InvalidInputError(f"shard {self.name!r}: put credentials in the connection, not in the url")


def parse_shards(spec: str | Sequence[Mapping[str, Any]]) -> list[Shard]:
    """Shards from a list of ``{"name", "url", "weight"}`` objects, or from text.

    The text form suits a connection form field: ``name=url`` entries separated
    by commas or whitespace, e.g. ``influxdb1=http://influx1:8086, influxdb2=http://influx2:8086``
    (weight 1 each).
    """
    if isinstance(spec, str):
        entries = [e for e in spec.replace(",", " ").split() if e]
        items: list[Mapping[str, Any]] = []
        for entry in entries:
            name, sep, url = entry.partition("=")
            if not sep or not name or not url:
                raise InvalidInputError(f"shard entry {entry!r} must be name=url")
            items.append({"name": name, "url": url})
    else:
        items = list(spec)
    shards = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("name") or not item.get("url"):
            raise InvalidInputError(f"each shard needs a name and a url, got {item!r}")
        unknown = set(item) - {"name", "url", "weight"}
        if unknown:
            raise InvalidInputError(
                f"shard {item['name']!r}: unknown keys {sorted(unknown)}; allowed: name, url, weight"
            )
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise InvalidInputError(
                f"shard {item['name']!r}: weight must be a positive number, got {weight!r}"
            )
        shards.append(Shard(str(item["name"]), str(item["url"]), float(weight)))
    if not shards:
        raise InvalidInputError("no InfluxDB shards given")
    return shards


@dataclass(frozen=True)
class InfluxSettings:
    """Shared by every shard. ``token`` (2.x/3.x) wins over ``username``/``password`` (1.x)."""

    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    precision: str = "ms"
    batch_size: int = 5000
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.database:
            raise InvalidInputError("an InfluxDB database name is needed")
        if self.precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.batch_size < 1 or self.retries < 0:
            raise InvalidInputError("batch_size must be >= 1 and retries >= 0")


@dataclass(frozen=True)
class ShardFailure:
    shard: str
    url: str
    keys: tuple[str, ...]
    error: str


class ShardWriteError(InfluxError):
    """Some shards did not take their keys' points; the others did (see ``written``)."""

    def __init__(self, failures: Sequence[ShardFailure], written: Mapping[str, int]) -> None:
        self.failures = tuple(failures)
        self.written = dict(written)
        lines = [
            f"shard {f.shard} ({f.url}) did not take the points of {', '.join(f.keys)}: {f.error}"
            for f in self.failures
        ]
        ok = ", ".join(f"{name}: {n} points" for name, n in sorted(self.written.items())) or "none"
        super().__init__("; ".join(lines) + f" (written to the other shards: {ok})")

    @property
    def failed_keys(self) -> set[str]:
        return {k for f in self.failures for k in f.keys}


class ShardedInfluxClient:
    """Writes and queries series keys on the shard the ring assigns them."""

    def __init__(self, shards: Sequence[Shard], settings: InfluxSettings) -> None:
        if not shards:
            raise InvalidInputError("at least one InfluxDB shard is needed")
        names = [s.name for s in shards]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"shard names must be unique, got {names}")
        self.shards = {s.name: s for s in shards}
        self.settings = settings
        self.ring = HashRing({s.name: s.weight for s in shards})
        self._session = requests.Session()
        self._session.verify = settings.verify
        if settings.token:
            self._session.headers["Authorization"] = f"Token {settings.token}"
        elif settings.username:
            self._session.auth = (settings.username, settings.password or "")

    # -- routing -------------------------------------------------------------
    def owner(self, key: str) -> Shard:
        return self.shards[self.ring.owner(key)]

    # -- writes --------------------------------------------------------------
    def write(self, key: str, points: Iterable[Point], *, precision: str | None = None) -> Shard:
        """Write the points of one series key to its owner; returns that shard."""
        self.write_many({key: points}, precision=precision)
        return self.owner(key)

    def write_many(
        self, points_by_key: Mapping[str, Iterable[Point]], *, precision: str | None = None
    ) -> dict[str, int]:
        """Write each key's points to its owner, every shard in turn; returns points written per shard.

        Point times are in ``precision`` (default: the settings'). Lines are rendered first,
        so a bad point (an ``InvalidInputError``) writes nothing at all.
        """
        precision = precision or self.settings.precision
        if precision not in PRECISIONS:
            raise InvalidInputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        by_shard: dict[str, tuple[list[str], list[str]]] = {}
        for key, points in points_by_key.items():
            keys, lines = by_shard.setdefault(self.ring.owner(key), ([], []))
            keys.append(key)
            lines.extend(p.to_line() for p in points)
        written: dict[str, int] = {}
        failures: list[ShardFailure] = []
        for name, (keys, lines) in by_shard.items():
            shard = self.shards[name]
            try:
                for start in range(0, len(lines), self.settings.batch_size):
                    self._write_batch(shard, lines[start : start + self.settings.batch_size], precision)
                written[name] = len(lines)
            except InfluxError as exc:
                failures.append(ShardFailure(name, shard.url, tuple(keys), str(exc)))
        if failures:
            raise ShardWriteError(failures, written)
        return written

    def _write_batch(self, shard: Shard, lines: Sequence[str], precision: str) -> None:
        if not lines:
            return
        params = {"db": self.settings.database, "precision": precision}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        self._request(shard, "POST", "/write", params=params, data="\n".join(lines).encode())

    # -- queries -------------------------------------------------------------
    def query(self, key: str, influxql: str, *, epoch: str = "ms") -> list[dict[str, Any]]:
        """Run InfluxQL on the shard owning ``key``; returns the first statement's series."""
        return self.query_shard(self.ring.owner(key), influxql, epoch=epoch)

    def query_shard(self, name: str, influxql: str, *, epoch: str = "ms") -> list[dict[str, Any]]:
        if name not in self.shards:
            raise KeyError(f"no shard named {name!r}; shards: {sorted(self.shards)}")
        shard = self.shards[name]
        method = "GET" if influxql.lstrip().upper().startswith(_READ_VERBS) else "POST"
        params = {"db": self.settings.database, "q": influxql, "epoch": epoch}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        body = self._request(shard, method, "/query", params=params).json()
        results = body.get("results") or [{}]
        first = results[0]
        if "error" in first:
            raise InfluxError(f"shard {name} ({shard.url}) rejected the query: {first['error']}")
        return list(first.get("series") or [])

    def query_all(self, influxql: str, *, epoch: str = "ms") -> dict[str, list[dict[str, Any]]]:
        """The same query on every shard, e.g. to list the pipelines all shards hold."""
        return {name: self.query_shard(name, influxql, epoch=epoch) for name in self.shards}

    def ping(self, name: str) -> str:
        """The server's version, from ``/ping``; raises InfluxError when the shard does not answer."""
        resp = self._request(self.shards[name], "GET", "/ping")
        return resp.headers.get("X-Influxdb-Version", "unknown")

    # -- HTTP ----------------------------------------------------------------
    def _request(self, shard: Shard, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = shard.url.rstrip("/") + path
        s = self.settings
        last = ""
        for attempt in range(s.retries + 1):
            if attempt:
                time.sleep(min(s.backoff * 2 ** (attempt - 1), 10.0))
            try:
                resp = self._session.request(
                    method, url, timeout=(s.connect_timeout, s.read_timeout), **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {_error_text(resp)}"
                continue
            if resp.status_code >= 400:
                raise InfluxError(
                    f"shard {shard.name} ({shard.url}) refused {method} {path}: "
                    f"HTTP {resp.status_code}: {_error_text(resp)}"
                )
            return resp
        raise InfluxError(
            f"shard {shard.name} ({shard.url}) unreachable after {s.retries + 1} attempts: {last}"
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ShardedInfluxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error_text(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))[:500]
    except ValueError:
        return resp.text[:500]
