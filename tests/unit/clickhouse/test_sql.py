"""Quoting: a hostile name or value stays one identifier or one literal (checked by chdb's parser)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_rtp.clickhouse.sql import quote_identifier, quote_string

HOSTILE = ["a` FROM system.users --", "back\\`", "new\nline", "quote ' and \" too", "nul\0byte", ""]


def test_identifiers_and_strings_escape_what_would_end_them() -> None:
    assert quote_identifier("a` FROM system.users --") == "`a\\` FROM system.users --`"
    assert quote_identifier("back\\`") == "`back\\\\\\``"
    assert quote_string("it's\\") == "'it\\'s\\\\'"


@pytest.mark.parametrize("text", HOSTILE)
def test_clickhouse_reads_back_exactly_the_text(text: str) -> None:
    chdb = pytest.importorskip("chdb")
    query = f"SELECT {quote_string(text)} AS {quote_identifier(text or 'x')} "
    result = chdb.query(query, "JSONCompact")
    data = json.loads(result.bytes())
    assert data["meta"][0]["name"] == (text or "x")
    assert data["data"][0][0] == text
