"""Managed table properties as plain data: what is wanted, what changes, bad values."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.properties import bloom_filter_columns, managed_properties, property_changes


def test_metadata_retention_and_bloom_filters() -> None:
    props = managed_properties(
        previous_versions_max=50,
        bloom_filters={"customer_id": 0.05, "status": None},
        bloom_filter_max_bytes=1 << 20,
    )
    assert props == {
        "write.metadata.delete-after-commit.enabled": "true",
        "write.metadata.previous-versions-max": "50",
        "write.parquet.bloom-filter-enabled.column.customer_id": "true",
        "write.parquet.bloom-filter-fpp.column.customer_id": "0.05",
        "write.parquet.bloom-filter-enabled.column.status": "true",
        "write.parquet.bloom-filter-max-bytes": "1048576",
    }
    assert bloom_filter_columns(props) == ["customer_id", "status"]


def test_columns_may_be_a_plain_list_and_retention_left_alone() -> None:
    assert managed_properties(previous_versions_max=None, bloom_filters=["id"]) == {
        "write.parquet.bloom-filter-enabled.column.id": "true"
    }


def test_only_differing_properties_change() -> None:
    current = {"write.metadata.previous-versions-max": "50", "other": "x"}
    wanted = {
        "write.metadata.previous-versions-max": "50",
        "write.metadata.delete-after-commit.enabled": "true",
    }
    assert property_changes(current, wanted) == {"write.metadata.delete-after-commit.enabled": "true"}
    assert property_changes({**current, **wanted}, wanted) == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"previous_versions_max": 0},
        {"bloom_filters": {"id": 1.5}},
        {"bloom_filters": {"id": True}},
        {"bloom_filters": [""]},
        {"bloom_filter_max_bytes": -1},
    ],
)
def test_bad_values_are_invalid_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        managed_properties(**kwargs)  # type: ignore[arg-type]
