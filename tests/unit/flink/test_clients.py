"""Request building and retry rules of the Flink clients, against a tiny local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from airflow_provider_rtp.exceptions import FlinkConnectionError, FlinkError, FlinkSqlError, InvalidInputError
from airflow_provider_rtp.flink import (
    CheckpointStats,
    HttpSettings,
    JobState,
    SqlGatewayClient,
    statement_set,
)
from airflow_provider_rtp.flink._http import JsonHttpClient
from airflow_provider_rtp.hooks.platform import _auth_header


class _Handler(BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict | str]]] = []
    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path))
        status, body = self.script.pop(0) if self.script else (200, {})
        text = isinstance(body, str)  # e.g. a proxy's HTML error page
        data = body.encode() if text else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.script, _Handler.seen = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def _client(url: str, retries: int = 2) -> JsonHttpClient:
    return JsonHttpClient(HttpSettings(url, retries=retries, backoff=0.01))


def test_get_is_retried_on_5xx(server: str) -> None:
    _Handler.script = [(503, {"errors": ["busy"]}), (200, {"ok": 1})]
    assert _client(server).request("GET", "/overview") == {"ok": 1}
    assert len(_Handler.seen) == 2


def test_post_is_not_retried_on_5xx_and_keeps_flink_text(server: str) -> None:
    _Handler.script = [(500, {"errors": ["org.apache.flink.SomeException: boom", "Caused by: X"]})]
    with pytest.raises(FlinkError, match="boom") as info:
        _client(server).request("POST", "/v1/sessions", json={})
    assert info.value.status == 500 and len(_Handler.seen) == 1
    assert info.value.flink_errors[1] == "Caused by: X"


def test_4xx_is_never_retried(server: str) -> None:
    _Handler.script = [(404, {"errors": ["Job could not be found."]})]
    with pytest.raises(FlinkError, match="Job could not be found"):
        _client(server).request("GET", "/jobs/x")
    assert len(_Handler.seen) == 1


def test_flink_error_500_is_never_retried_but_a_bodiless_one_is(server: str) -> None:
    _Handler.script = [(500, {"errors": ["Internal server error.", "SqlParseException: bad"]})]
    with pytest.raises(FlinkError, match="SqlParseException"):
        _client(server).request("GET", "/v2/x")
    assert len(_Handler.seen) == 1
    # Without Flink's error body (a proxy's page) the 5xx is treated as transient.
    _Handler.script, _Handler.seen = [(502, "<html>Bad Gateway</html>"), (200, {"ok": 1})], []
    assert _client(server).request("GET", "/v2/x") == {"ok": 1}
    assert len(_Handler.seen) == 2
    _Handler.script, _Handler.seen = [(500, "<html>oops</html>"), (200, {"ok": 2})], []
    assert _client(server).request("GET", "/v2/x") == {"ok": 2}
    assert len(_Handler.seen) == 2


def test_5xx_retries_are_bounded_and_end_with_the_last_answer(server: str) -> None:
    _Handler.script = [(503, {"errors": ["leader election"]})] * 3
    with pytest.raises(FlinkError, match="HTTP 503: leader election") as info:
        _client(server, retries=2).request("GET", "/overview")
    assert info.value.status == 503 and len(_Handler.seen) == 3


def test_failed_statement_result_is_fetched_once(server: str) -> None:
    """A failed statement answers HTTP 500 with Flink's error: one fetch, then the session closes."""
    parse_error = "Caused by: org.apache.flink.table.api.SqlParserException: SQL parse failed."
    _Handler.script = [
        (200, {"sessionHandle": "s1"}),
        (200, {"operationHandle": "op1"}),
        (500, {"errors": ["Internal server error.", f"<Exception on server side:\n{parse_error}"]}),
    ]
    gateway = SqlGatewayClient(HttpSettings(server, retries=3, backoff=0.5))
    with pytest.raises(FlinkSqlError, match="SqlParserException") as info:
        gateway.run_script(["INSERT INTO sink SELEC 1"])
    assert "statement: INSERT INTO sink SELEC 1" in str(info.value)
    fetches = [p for m, p in _Handler.seen if m == "GET"]
    assert fetches == ["/v2/sessions/s1/operations/op1/result/0?rowFormat=JSON"]
    assert ("DELETE", "/v1/sessions/s1") in _Handler.seen


def test_unreachable_url_fails_after_bounded_retries() -> None:
    with pytest.raises(FlinkConnectionError, match=r"unreachable.*3 times"):
        _client("http://127.0.0.1:9", retries=2).request("GET", "/overview")


def test_rest_url_must_have_a_scheme() -> None:
    with pytest.raises(InvalidInputError, match="http://"):
        HttpSettings("jobmanager:8081")


def test_auth_header_hides_nothing_but_builds_right() -> None:
    assert _auth_header("none", "u", "p") is None
    assert _auth_header("basic", "u", "p") == "Basic dTpw"
    assert _auth_header("bearer", None, "tok") == "Bearer tok"
    with pytest.raises(InvalidInputError, match="bearer"):
        _auth_header("bearer", None, None)
    with pytest.raises(InvalidInputError, match="unknown auth_type"):
        _auth_header("kerberos", None, None)


def test_settings_repr_hides_auth_header() -> None:
    assert "secret" not in repr(HttpSettings("http://x", auth_header="Bearer secret"))


def test_statement_set_wraps_inserts() -> None:
    sql = statement_set(["INSERT INTO a SELECT 1;", "INSERT INTO b SELECT 2"])
    assert sql.startswith("EXECUTE STATEMENT SET\nBEGIN\n") and sql.endswith("\nEND")
    assert "INSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;" in sql
    with pytest.raises(InvalidInputError):
        statement_set([])


def test_job_state_parse_names_the_bad_value() -> None:
    assert JobState.parse("running") is JobState.RUNNING
    with pytest.raises(InvalidInputError, match="'SLEEPING'"):
        JobState.parse("SLEEPING")


def test_checkpoint_stats_from_rest() -> None:
    stats = CheckpointStats.from_rest(
        {
            "counts": {"completed": 5, "failed": 1, "in_progress": 0},
            "latest": {
                "completed": {"id": 7, "trigger_timestamp": 1700000000000, "external_path": "file:/c/7"},
                "restored": {"id": 3, "external_path": "file:/s/3", "is_savepoint": True},
            },
        }
    )
    assert (stats.latest_completed_id, stats.restored_id, stats.restored_is_savepoint) == (7, 3, True)
    empty = CheckpointStats.from_rest({"counts": {}, "latest": {"completed": None}})
    assert empty.latest_completed_id is None and empty.completed == 0
    assert stats.previous_completed_trigger_ms is None  # no history listed


def test_previous_completed_checkpoint_comes_from_the_history() -> None:
    history = [  # newest first, as the JobManager lists it
        {"id": 9, "status": "IN_PROGRESS", "trigger_timestamp": 9000},
        {"id": 8, "status": "COMPLETED", "trigger_timestamp": 8000},
        {"id": 7, "status": "FAILED", "trigger_timestamp": 7000},
        {"id": 6, "status": "COMPLETED", "trigger_timestamp": 6000, "is_savepoint": True},
        {"id": 5, "status": "COMPLETED", "trigger_timestamp": 5000},
    ]
    stats = CheckpointStats.from_rest(
        {"counts": {}, "latest": {"completed": {"id": 8, "trigger_timestamp": 8000}}, "history": history}
    )
    assert stats.previous_completed_trigger_ms == 5000  # not the failed 7, not the savepoint 6


def test_error_summary_names_the_server_side_exception(server: str) -> None:
    trace = (
        "<Exception on server side:\njava.util.concurrent.CompletionException: org.apache.flink.client."
        "program.ProgramInvocationException: The program's entry point class 'com.x.Main' was not found"
        "\n\tat org.apache.flink.Foo(Foo.java:1)\nCaused by: java.lang.ClassNotFoundException: com.x.Main\n"
        "End of exception on server side>"
    )
    _Handler.script = [(500, {"errors": ["Internal server error.", trace]})]
    with pytest.raises(FlinkError) as info:
        _client(server).request("POST", "/jars/j/run", json={})
    first = str(info.value).splitlines()[0]
    assert first == (
        "Flink POST /jars/j/run returned HTTP 500: org.apache.flink.client.program."
        "ProgramInvocationException: The program's entry point class 'com.x.Main' was not found"
    )
    assert info.value.flink_errors == ["Internal server error.", trace]  # all of it, verbatim
