"""The sharded client's membership parsing and retry policy, on plain data and a local HTTP stub.

The stub only answers with status codes chosen by the test, to count how often the client
asks; what InfluxDB itself does is tested against the real servers in tests/integration.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from airflow_provider_rtp.exceptions import InfluxError, InvalidInputError
from airflow_provider_rtp.monitoring.influx import (
    InfluxSettings,
    Shard,
    ShardedInfluxClient,
    ShardWriteError,
    parse_shards,
)
from airflow_provider_rtp.monitoring.line_protocol import Point


def test_parse_shards_text_and_json() -> None:
    assert parse_shards("a=http://h1:8086, b=https://h2:8086\n c=http://h3") == [
        Shard("a", "http://h1:8086"),
        Shard("b", "https://h2:8086"),
        Shard("c", "http://h3"),
    ]
    assert parse_shards([{"name": "a", "url": "http://h1:8086", "weight": 2}]) == [
        Shard("a", "http://h1:8086", 2.0)
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no InfluxDB shards"),
        ("a", "name=url"),
        ("a=ftp://x", "http"),
        ("a=http://user:pw@h:8086", "credentials"),
        ([{"name": "a"}], "name and a url"),
        ([{"name": "a", "url": "http://h", "weight": 0}], "positive"),
        ([{"name": "a", "url": "http://h", "token": "x"}], "unknown keys"),
    ],
)
def test_parse_shards_refuses_bad_input(spec: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_shards(spec)  # type: ignore[arg-type]


def test_duplicate_shard_names_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unique"):
        ShardedInfluxClient([Shard("a", "http://h1"), Shard("a", "http://h2")], InfluxSettings("db"))


def test_settings_hide_secrets_from_repr() -> None:
    text = repr(InfluxSettings("db", username="u", password="s3cret", token="t0ken"))
    assert "s3cret" not in text and "t0ken" not in text


class _Stub(BaseHTTPRequestHandler):
    codes: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).seen.append(body)
        type(self).paths.append(self.path)
        code = type(self).codes.pop(0) if type(self).codes else 204
        self.send_response(code)
        payload = b'{"error": "stub says no"}' if code >= 400 else b""
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.codes, _Stub.seen, _Stub.paths = [], [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _client(url: str, **kw: object) -> ShardedInfluxClient:
    return ShardedInfluxClient([Shard("s", url)], InfluxSettings("db", retries=3, backoff=0.01, **kw))


def test_5xx_is_retried_until_it_succeeds(stub: str) -> None:
    _Stub.codes = [503, 500]
    _client(stub).write("k", [Point("m", {"f": 1})])
    assert len(_Stub.seen) == 3


def test_4xx_is_never_retried(stub: str) -> None:
    _Stub.codes = [400]
    with pytest.raises(ShardWriteError, match="HTTP 400: stub says no") as info:
        _client(stub).write("k", [Point("m", {"f": 1})])
    assert len(_Stub.seen) == 1
    assert info.value.failed_keys == {"k"}


def test_5xx_gives_up_after_the_retries(stub: str) -> None:
    _Stub.codes = [503] * 10
    with pytest.raises(InfluxError, match="after 4 attempts: HTTP 503"):
        _client(stub).write("k", [Point("m", {"f": 1})])
    assert len(_Stub.seen) == 4


def test_writes_are_batched(stub: str) -> None:
    _client(stub, batch_size=2).write("k", [Point("m", {"f": i}, time=i) for i in range(5)])
    assert [len(b.splitlines()) for b in _Stub.seen] == [2, 2, 1]


def test_a_bad_point_writes_nothing(stub: str) -> None:
    with pytest.raises(InvalidInputError, match="line break"):
        _client(stub).write_many({"a": [Point("m", {"f": 1})], "b": [Point("m\n", {"f": 1})]})
    assert _Stub.seen == []


def test_precision_per_write(stub: str) -> None:
    client = _client(stub)
    client.write("k", [Point("m", {"f": 1}, time=5)], precision="s")
    assert _Stub.paths[-1].endswith("precision=s")
    client.write("k", [Point("m", {"f": 1}, time=5)])
    assert _Stub.paths[-1].endswith("precision=ms")
    with pytest.raises(InvalidInputError, match="precision"):
        client.write("k", [Point("m", {"f": 1})], precision="h")
