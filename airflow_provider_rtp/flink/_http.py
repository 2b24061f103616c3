"""A small JSON-over-HTTP client with the retry rules every Flink endpoint shares.

Retry policy (bounded, exponential backoff):
- connection errors: retried for every method when the request never reached
  the server (connect failures), and for idempotent methods otherwise;
- HTTP 5xx: retried for idempotent methods only — a POST that reached Flink
  (a statement, a jar run) may have taken effect, so repeating it could run a
  job twice;
- HTTP 4xx: never retried; Flink's own error text is raised verbatim.

A caller may also turn off retries of 5xx answers that carry Flink's error body
(``retry_flink_errors=False``): e.g. a failed SQL statement's result answers 500
every time, which is Flink's verdict, not a transient fault.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from airflow_provider_rtp.exceptions import FlinkConnectionError, FlinkError

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "PUT", "OPTIONS"})


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
            raise ValueError(f"REST URL must start with http:// or https://, got {self.base_url!r}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")


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


class JsonHttpClient:
    """One ``requests.Session`` per client; ``close()`` releases its connections."""

    def __init__(self, settings: HttpSettings, *, system: str = "Flink") -> None:
        self.settings = settings
        self.system = system
        self._session = requests.Session()
        if settings.auth_header:
            self._session.headers["Authorization"] = settings.auth_header
        self._session.verify = settings.verify

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
        retry_flink_errors: bool = True,
    ) -> Any:
        method = method.upper()
        url = self.url(path)
        attempts = self.settings.retries + 1
        last_exc: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.settings.backoff * (2 ** (attempt - 1)))
            try:
                resp = self._session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    files=files,
                    timeout=(self.settings.connect_timeout, timeout or self.settings.read_timeout),
                )
            except requests.ConnectionError as exc:
                last_exc = exc
                # A refused/unresolvable connection never reached the server: safe to retry.
                if method in IDEMPOTENT or _never_sent(exc):
                    log.warning(
                        "%s %s %s: connection failed (attempt %d/%d)",
                        self.system,
                        method,
                        path,
                        attempt + 1,
                        attempts,
                    )
                    continue
                raise FlinkConnectionError(
                    f"{self.system} at {self.settings.base_url}: {method} {path} "
                    f"failed and is not safe to repeat: {exc}"
                ) from exc
            except requests.Timeout as exc:
                last_exc = exc
                if method in IDEMPOTENT:
                    continue
                raise FlinkConnectionError(f"{self.system} {method} {path} timed out: {exc}") from exc
            if resp.status_code in expected:
                if not resp.content:
                    return None
                try:
                    return resp.json()
                except ValueError:
                    return resp.text
            errors = flink_error_text(resp)
            retryable = retry_flink_errors or not _is_flink_error_body(resp)
            if resp.status_code >= 500 and method in IDEMPOTENT and retryable and attempt + 1 < attempts:
                log.warning(
                    "%s %s %s: HTTP %d (attempt %d/%d)",
                    self.system,
                    method,
                    path,
                    resp.status_code,
                    attempt + 1,
                    attempts,
                )
                continue
            summary = error_summary(errors) or resp.reason
            raise FlinkError(
                f"{self.system} {method} {path} returned HTTP {resp.status_code}: {summary}\n"
                + "\n".join(errors),
                status=resp.status_code,
                flink_errors=errors,
            )
        raise FlinkConnectionError(
            f"{self.system} at {self.settings.base_url} is unreachable: {method} {path} failed "
            f"{attempts} times; last error: {last_exc}"
        )


def _is_flink_error_body(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, Mapping) and isinstance(body.get("errors"), list)


def _never_sent(exc: requests.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        s in text
        for s in (
            "ConnectionRefused",
            "NewConnectionError",
            "NameResolution",
            "Failed to establish a new connection",
        )
    )
