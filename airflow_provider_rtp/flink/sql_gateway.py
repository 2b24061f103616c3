"""Client of the Flink SQL Gateway REST API.

Sessions are the resource that leaks: every public entry point here opens at
most one session and closes it in ``finally``, also when a statement fails.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_rtp.exceptions import (
    FlinkError,
    FlinkOperationTimeout,
    FlinkSqlError,
    InvalidInputError,
)
from airflow_provider_rtp.flink._http import HttpSettings, JsonHttpClient

__all__ = ["SqlGatewayClient", "SqlResult", "statement_set"]


@dataclass(frozen=True)
class SqlResult:
    """What one statement produced: a job id for INSERT/statement sets, rows for queries."""

    statement: str
    job_id: str | None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def statement_set(inserts: Sequence[str]) -> str:
    """Wrap INSERT statements so Flink runs them as one job."""
    if not inserts:
        raise InvalidInputError("a statement set needs at least one INSERT statement")
    body = "\n".join(s.strip().rstrip(";") + ";" for s in inserts)
    return f"EXECUTE STATEMENT SET\nBEGIN\n{body}\nEND"


class SqlGatewayClient:
    def __init__(self, settings: HttpSettings) -> None:
        self.http = JsonHttpClient(settings, system="Flink SQL Gateway")

    def close(self) -> None:
        self.http.close()

    def info(self) -> dict[str, Any]:
        return self.http.request("GET", "/v1/info")

    def open_session(self, properties: Mapping[str, str] | None = None, name: str | None = None) -> str:
        body: dict[str, Any] = {"properties": dict(properties or {})}
        if name:
            body["sessionName"] = name
        return str(self.http.request("POST", "/v1/sessions", json=body)["sessionHandle"])

    def close_session(self, handle: str) -> None:
        try:
            self.http.request("DELETE", f"/v1/sessions/{handle}")
        except FlinkError as exc:
            if exc.status != 404:  # already gone (expired or closed): nothing leaks
                raise

    @contextmanager
    def session(self, properties: Mapping[str, str] | None = None, name: str | None = None) -> Iterator[str]:
        handle = self.open_session(properties, name)
        try:
            yield handle
        finally:
            self.close_session(handle)

    def execute(
        self,
        session: str,
        statement: str,
        *,
        config: Mapping[str, str] | None = None,
        timeout: float = 300.0,
        max_rows: int = 10_000,
        poll: float = 0.5,
    ) -> SqlResult:
        """Run one statement in ``session``. ``config`` applies to this statement only."""
        body: dict[str, Any] = {"statement": statement}
        if config:
            body["executionConfig"] = dict(config)
        try:
            op = str(
                self.http.request("POST", f"/v1/sessions/{session}/statements", json=body)["operationHandle"]
            )
        except FlinkError as exc:
            raise FlinkSqlError(
                _sql_message(statement, exc), status=exc.status, flink_errors=exc.flink_errors
            ) from exc
        try:
            return self._collect(session, op, statement, timeout, max_rows, poll)
        finally:
            self._close_operation(session, op)

    def _collect(
        self, session: str, op: str, statement: str, timeout: float, max_rows: int, poll: float
    ) -> SqlResult:
        deadline = time.monotonic() + timeout
        token: str | None = "0"
        columns: list[str] = []
        rows: list[list[Any]] = []
        job_id: str | None = None
        while token is not None:
            try:
                raw = self.http.request(
                    "GET",
                    f"/v2/sessions/{session}/operations/{op}/result/{token}",
                    params={"rowFormat": "JSON"},
                    # A failed statement's result is Flink's error (HTTP 500) on every try: the
                    # client's retry policy never repeats such an answer.
                    timeout=max(5.0, deadline - time.monotonic()),
                )
            except FlinkError as exc:
                raise FlinkSqlError(
                    _sql_message(statement, exc), status=exc.status, flink_errors=exc.flink_errors
                ) from exc
            job_id = raw.get("jobID") or job_id
            kind = raw.get("resultType")
            results = raw.get("results") or {}
            if not columns and results.get("columns"):
                columns = [c["name"] for c in results["columns"]]
            for row in results.get("data") or []:
                if len(rows) < max_rows:
                    rows.append(_apply_row_kind(row))
            if kind == "EOS":
                break
            next_uri = raw.get("nextResultUri")
            if kind == "NOT_READY":
                if time.monotonic() > deadline:
                    raise FlinkOperationTimeout(
                        f"statement did not finish within {timeout:.0f}s: {_short(statement)}"
                    )
                time.sleep(poll)
            if not next_uri:
                break
            token = str(next_uri).rstrip("/").split("/")[-1].split("?")[0]
            if len(rows) >= max_rows and job_id is None:
                break
        # INSERT / statement sets answer one row holding the job id.
        if job_id is None and columns == ["job id"] and rows:
            job_id = str(rows[0][0])
        return SqlResult(statement=statement, job_id=job_id, columns=columns, rows=rows)

    def _close_operation(self, session: str, op: str) -> None:
        # Closing the session releases the operation anyway.
        with contextlib.suppress(FlinkError):
            self.http.request("DELETE", f"/v1/sessions/{session}/operations/{op}/close")

    def run_script(
        self,
        statements: Sequence[str],
        *,
        session_properties: Mapping[str, str] | None = None,
        last_config: Mapping[str, str] | None = None,
        timeout: float = 300.0,
    ) -> list[SqlResult]:
        """Run statements in one fresh session that is always closed.

        ``last_config`` (e.g. ``pipeline.name``) applies to the last statement
        only, so it never sticks to the session for the statements before it.
        """
        results = []
        with self.session(session_properties) as handle:
            for i, stmt in enumerate(statements):
                cfg = last_config if i == len(statements) - 1 else None
                results.append(self.execute(handle, stmt, config=cfg, timeout=timeout))
        return results


def _apply_row_kind(row: Mapping[str, Any]) -> list[Any]:
    return list(row.get("fields") or [])


def _short(statement: str, limit: int = 200) -> str:
    s = " ".join(statement.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _sql_message(statement: str, exc: FlinkError) -> str:
    # The deepest "Caused by" usually names the real problem (syntax, unknown table…).
    causes = [
        line.strip()
        for err in exc.flink_errors
        for line in err.splitlines()
        if line.strip().startswith("Caused by:")
    ]
    summary = causes[-1] if causes else (str(exc).splitlines()[0] if str(exc) else "failed")
    return f"Flink SQL failed: {summary}\nstatement: {_short(statement)}\n" + "\n".join(exc.flink_errors)
