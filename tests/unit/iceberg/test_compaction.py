from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.compaction import (
    FLINK_JOB_KEY,
    CompactionRequest,
    compaction_job_name,
    find_compaction,
    is_commit_conflict,
    partition_selection,
)

CATALOG = {"catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog", "jdbc.password": "s3cret"}


def test_arguments_name_partitions_and_catalog() -> None:
    request = CompactionRequest("ods.orders", ("change_hour=2026-12-05-10", "change_hour=2026-12-05-11"))
    args = request.job_arguments("run1", "lake", CATALOG)
    assert args[:6] == ["--table", "ods.orders", "--run-id", "run1", "--catalog-name", "lake"]
    assert args.count("--partition") == 2
    assert "jdbc.password=s3cret" in args  # travels as an argument, which is why it is never logged
    assert "--all-partitions" not in args


def test_every_partition_and_unpartitioned() -> None:
    assert "--all-partitions" in CompactionRequest("ods.orders", None).job_arguments("r", "lake", {})
    args = CompactionRequest("ods.orders", ("",)).job_arguments("r", "lake", {})
    assert args[args.index("--partition") + 1] == ""


@pytest.mark.parametrize(
    ("table", "partitions", "size", "message"),
    [
        ("orders", None, None, "namespace.table"),
        ("ods.orders; DROP", None, None, "namespace.table"),
        ("ods.orders", (), None, "no partition"),
        ("ods.orders", ("a\nb",), None, "control character"),
        ("ods.orders", None, 1000, "at least 1 MiB"),
    ],
)
def test_bad_input_is_refused(
    table: str, partitions: tuple[str, ...] | None, size: int | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        CompactionRequest(table, partitions, target_file_size_bytes=size)


def test_selection() -> None:
    assert partition_selection("all") is None
    assert partition_selection(None) is None
    assert partition_selection("id_bucket=1") == ("id_bucket=1",)
    assert partition_selection(["id_bucket=1", "id_bucket=2"]) == ("id_bucket=1", "id_bucket=2")


def test_job_name_is_per_table() -> None:
    assert compaction_job_name("lake", "ods.orders") != compaction_job_name("lake", "ods.orders_mirror")


def test_conflicts_are_told_apart_from_other_failures() -> None:
    assert is_commit_conflict(
        "org.apache.iceberg.exceptions.ValidationException: "
        "Cannot commit, found new delete for replaced data file"
    )
    assert is_commit_conflict(
        "CommitFailedException: Cannot commit ods.orders because base metadata location changed"
    )
    assert not is_commit_conflict("IllegalArgumentException: no such partition in lake.ods.orders")


def _snap(snapshot_id: int, summary: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(
        snapshot_id=snapshot_id,
        sequence_number=7,
        timestamp_ms=1000,
        summary=SimpleNamespace(additional_properties=summary),
    )


def test_result_is_read_from_the_commit_summary() -> None:
    summary = {
        "rtp.maintenance.run-id": "run1",
        FLINK_JOB_KEY: "job1",
        "rtp.maintenance.partitions": "id_bucket=0,id_bucket=1",
        "deleted-data-files": "40",
        "removed-delete-files": "38",
        "added-data-files": "2",
        "added-records": "1234",
        "rtp.maintenance.start-snapshot-id": "1",
        "rtp.maintenance.start-sequence-number": "5",
    }
    snaps = [_snap(1, {"flink.job-id": "x"}), _snap(2, summary)]
    found = find_compaction(snaps, "run1")
    assert found is not None and found.snapshot_id == 2
    assert (found.replaced_data_files, found.replaced_delete_files, found.added_data_files) == (40, 38, 2)
    assert found.partitions == ("id_bucket=0", "id_bucket=1")
    assert (found.start_snapshot_id, found.start_sequence_number) == (1, 5)
    assert find_compaction(snaps, "job1", key=FLINK_JOB_KEY) == found
    assert find_compaction(snaps, "run2") is None
