"""Useless equality deletes: counted on plain keys, then read from real Parquet key columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.useless_deletes import (
    KeyFile,
    KeyPlan,
    UselessDeleteBudget,
    count_useless,
    count_useless_deletes,
)


def test_a_delete_of_a_key_never_written_is_useless() -> None:
    assert count_useless([(1, [(1,), (2,)])], [(2, [(3,)])]) == 1


def test_a_delete_of_an_older_row_is_useful() -> None:
    assert count_useless([(1, [(1,), (2,)])], [(2, [(1,), (2,)])]) == 0


def test_a_row_of_the_same_commit_does_not_count() -> None:
    """Equality deletes apply to lower sequence numbers only: the same commit's insert is newer."""
    assert count_useless([(5, [(1,)])], [(5, [(1,)])]) == 1


def test_the_upsert_pattern_counts_only_first_sightings() -> None:
    # Upsert: every insert is preceded by a delete of its key, in the same commit.
    data = [(1, [(1,), (2,)]), (2, [(1,)]), (3, [(3,), (2,)])]
    deletes = [(1, [(1,), (2,)]), (2, [(1,)]), (3, [(3,), (2,)])]
    # seq 1: 1 and 2 new; seq 2: 1 seen at 1; seq 3: 3 new, 2 seen at 1
    assert count_useless(data, deletes) == 3


def test_a_row_deleted_later_still_counts_as_present() -> None:
    data = [(1, [(7,)])]
    deletes = [(2, [(7,)]), (3, [(7,)])]  # the second delete finds the row physically there
    assert count_useless(data, deletes) == 0


def test_keys_are_whole_tuples_and_nulls_match_nulls() -> None:
    data = [(1, [(1, "a"), (2, None)])]
    deletes = [(2, [(1, "b"), (2, None), (1, "a")])]
    assert count_useless(data, deletes) == 1


def test_no_deletes_count_nothing() -> None:
    assert count_useless([(1, [(1,)])], []) == 0


def _write(path: Path, ids: list[int], names: list[str], rows: list[tuple]) -> str:
    fields = [
        pa.field(n, pa.int64(), metadata={b"PARQUET:field_id": str(i).encode()})
        for i, n in zip(ids, names, strict=True)
    ]
    columns = [pa.array([r[k] for r in rows], pa.int64()) for k in range(len(names))]
    pq.write_table(pa.Table.from_arrays(columns, schema=pa.schema(fields)), path)
    return str(path)


def _open(path: str):
    return pa.OSFile(path, "rb")


def test_reads_the_key_columns_by_field_id(tmp_path: Path) -> None:
    # Data files carry more columns than the key, and a renamed one: the field id decides.
    d1 = _write(tmp_path / "d1.parquet", [1, 2, 3], ["id", "amount", "region"], [(1, 10, 1), (2, 20, 1)])
    d2 = _write(tmp_path / "d2.parquet", [1, 2, 3], ["order_id", "amount", "region"], [(3, 30, 2)])
    e1 = _write(tmp_path / "e1.parquet", [1, 3], ["id", "region"], [(1, 1), (3, 2), (4, 1)])
    plan = KeyPlan(
        "p=1",
        (1, 3),
        (KeyFile(d1, 1, 10), KeyFile(d2, 2, 10)),
        (KeyFile(e1, 3, 10),),
    )
    counts, note = count_useless_deletes([plan], _open, UselessDeleteBudget())
    assert counts == {"p=1": 1} and note == "exact: read the keys of 3 files, 30 rows"


def test_over_budget_nothing_is_read_and_nothing_is_guessed(tmp_path: Path) -> None:
    plan = KeyPlan("p=1", (1,), (KeyFile(str(tmp_path / "absent"), 1, 100),), (KeyFile("x", 2, 100),))
    counts, note = count_useless_deletes([plan], _open, UselessDeleteBudget(max_files=10, max_rows=199))
    assert counts is None and note == (
        "not computed: would read the keys of 2 files, 200 rows (budget 10 files, 199 rows)"
    )
    counts, note = count_useless_deletes([plan], _open, UselessDeleteBudget(max_files=1))
    assert counts is None and "2 files" in note


def test_a_missing_key_column_is_not_computed_and_says_why(tmp_path: Path) -> None:
    d1 = _write(tmp_path / "d1.parquet", [2], ["amount"], [(10,)])
    e1 = _write(tmp_path / "e1.parquet", [1], ["id"], [(1,)])
    plan = KeyPlan("", (1,), (KeyFile(d1, 1, 1),), (KeyFile(e1, 2, 1),))
    counts, note = count_useless_deletes([plan], _open, UselessDeleteBudget())
    assert counts is None and "field id [1]" in note


def test_no_plans_is_exactly_zero() -> None:
    assert count_useless_deletes([], _open, UselessDeleteBudget()) == ({}, "exact (no equality deletes)")


def test_negative_budget_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="budget"):
        UselessDeleteBudget(max_files=-1)
