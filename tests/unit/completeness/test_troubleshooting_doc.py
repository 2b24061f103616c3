"""docs/troubleshooting.md is keyed by the report's codes: every waiting reason and every advice
code the decision core can give has its entry, and the doc names no code that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_rtp.completeness.results import AdviceCode, Reason

DOC = (Path(__file__).resolve().parents[3] / "docs" / "troubleshooting.md").read_text()
CODES = set(re.findall(r"^\|[^|]*\| `([a-z_]+)` \|", DOC, re.MULTILINE)) | set(
    re.findall(r"^\| `([a-z_]+)` \|", DOC, re.MULTILINE)
)


def test_every_reason_and_advice_code_has_an_entry() -> None:
    known = {r.value for r in Reason if r is not Reason.OK} | {a.value for a in AdviceCode}
    # The partition's own "ok" codes are named in the text, not given a row of their own.
    listed = CODES | {c for c in ("caught_up_cdc", "caught_up_idle") if f"`{c}`" in DOC}
    assert sorted(known - listed) == []


def test_the_doc_names_only_codes_that_exist() -> None:
    known = {r.value for r in Reason} | {a.value for a in AdviceCode}
    assert sorted(CODES - known) == []
