"""Tag names from a window and a pattern."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.tags import DEFAULT_TAG_PATTERN, tag_name

START, END = datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC)


def test_default_pattern_names_the_hour() -> None:
    assert tag_name(DEFAULT_TAG_PATTERN, START, END) == "complete-2026-12-01T10"


def test_pattern_may_use_the_end() -> None:
    assert tag_name("w-{start:%H%M}-{end:%H%M}", START, END) == "w-1000-1100"


@pytest.mark.parametrize("pattern", ["{window}", "{start:%H", "main", "a/{start:%H}", "it's-{start:%H}", " "])
def test_unusable_patterns_are_invalid_input(pattern: str) -> None:
    with pytest.raises(InvalidInputError):
        tag_name(pattern, START, END)
