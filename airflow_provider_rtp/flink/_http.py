"""A small JSON-over-HTTP client with the one retry policy every Flink endpoint shares.

Retries are urllib3's ``Retry``, mounted on the client's one ``requests.Session``
(bounded; urllib3's exponential backoff: at once, then ``2·backoff``, ``4·backoff``...):
- connection errors that never reached the server (refused, unresolvable, connect
  timeout): retried for every method;
- read errors and timeouts: retried for idempotent methods only — a POST that reached
  Flink (a statement, a jar run) may have taken effect, so repeating it could run a job twice;
- HTTP 502/503/504, and a 500 without Flink's JSON error body (a proxy's page, an empty
  answer): retried for idempotent methods;
- an HTTP 500 carrying Flink's ``{"errors": [...]}`` is Flink's verdict on the request
  (e.g. a failed SQL statement's result answers it every time): never retried;
- HTTP 4xx: never retried. Flink's own error text is raised verbatim.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from airflow_provider_rtp.exceptions import FlinkConnectionError, FlinkError, InvalidInputError

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "PUT", "OPTIONS"})
RETRIED_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    """How to reach one REST endpoint. ``auth_header`` is never logged."""

    base_url: str
    auth_header: str | None = field(default=None, repr=False)
    verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"REST URL must start with http:// or https://, got {self.base_url!r}")
        if self.retries < 0:
            raise InvalidInputError(f"retries must be >= 0, got {self.retries}")


def flink_error_text(response: requests.Response) -> list[str]:
    """Flink answers errors as ``{"errors": [...]}``; keep every entry verbatim."""
    try:
        body = response.json()
    except ValueError:
        return [response.text.strip()] if response.text.strip() else []
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        return [str(e) for e in body["errors"]]
    return [str(body)]


_SERVER_SIDE = "<Exception on server side:"
_WRAPPERS = ("java.util.concurrent.CompletionException: ", "java.util.concurrent.ExecutionException: ")


def error_summary(errors: list[str]) -> str:
    """One line saying what went wrong. Flink's HTTP 500 answers lead with "Internal server
    error." and carry the server-side exception after it: its first line names the problem."""
    for err in errors:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].startswith(_SERVER_SIDE):
            first = lines[1]
            for wrapper in _WRAPPERS:
                first = first.removeprefix(wrapper)
            return first
    return errors[0].splitlines()[0] if errors and errors[0].strip() else ""


class _FlinkRetry(Retry):
    """urllib3's policy plus two rules: Flink's JSON 500 ends the retries, and each retry is logged."""

    system = "Flink"
    attempts = 1

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.system, retry.attempts = self.system, self.attempts
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None and response.status == 500 and _is_json(response):
            # Handed back as it is (raise_on_status=False): the caller raises Flink's text.
            raise MaxRetryError(_pool, url or "", ResponseError("Flink's error answer"))  # type: ignore[arg-type]
        what = "connection failed" if error is not None else f"HTTP {response.status if response else '?'}"
        attempt = len(self.history) + 1
        log.warning("%s %s %s: %s (attempt %d/%d)", self.system, method, url, what, attempt, self.attempts)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _is_json(response: Any) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith("application/json")


class JsonHttpClient:
    """One ``requests.Session`` per client, with the retry policy mounted; ``close()`` releases it."""

    def __init__(self, settings: HttpSettings, *, system: str = "Flink") -> None:
        self.settings = settings
        self.system = system
        self._session = requests.Session()
        if settings.auth_header:
            self._session.headers["Authorization"] = settings.auth_header
        self._session.verify = settings.verify
        retry = _FlinkRetry(
            total=None,
            connect=settings.retries,
            read=settings.retries,
            status=settings.retries,
            other=0,
            allowed_methods=IDEMPOTENT,
            status_forcelist=RETRIED_STATUSES,
            backoff_factor=settings.backoff,
            raise_on_status=False,
        )
        retry.system, retry.attempts = system, settings.retries + 1
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> JsonHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Any = None,
        expected: tuple[int, ...] = (200, 201, 202),
        timeout: float | None = None,
    ) -> Any:
        method = method.upper()
        where = f"{self.system} at {self.settings.base_url}"
        try:
            resp = self._session.request(
                method,
                self.url(path),
                json=json,
                params=params,
                files=files,
                timeout=(self.settings.connect_timeout, timeout or self.settings.read_timeout),
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            if _retries_ran_out(exc):
                raise FlinkConnectionError(
                    f"{where} is unreachable: {method} {path} failed {self.settings.retries + 1} times; "
                    f"last error: {exc}"
                ) from exc
            if method not in IDEMPOTENT:
                raise FlinkConnectionError(
                    f"{where}: {method} {path} failed and is not safe to repeat: {exc}"
                ) from exc
            raise FlinkConnectionError(f"{where}: {method} {path} failed: {exc}") from exc
        if resp.status_code in expected:
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                return resp.text
        errors = flink_error_text(resp)
        summary = error_summary(errors) or resp.reason
        raise FlinkError(
            f"{self.system} {method} {path} returned HTTP {resp.status_code}: {summary}\n"
            + "\n".join(errors),
            status=resp.status_code,
            flink_errors=errors,
        )


def _retries_ran_out(exc: Exception) -> bool:
    return any(isinstance(arg, MaxRetryError) for arg in exc.args)
