"""Orphan classification on plain listings: reachability, age, the floor and Flink's temporary manifests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.files import normalize
from airflow_provider_rtp.iceberg.orphans import (
    HARD_FLOOR,
    ListedFile,
    OrphanPolicy,
    find_orphans,
    flink_manifest_job,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ROOT = "/wh/ods.db/t"
JOB, OTHER = "a" * 32, "b" * 32
OP = "c" * 32


def _file(rel: str, age: timedelta, size: int = 10) -> ListedFile:
    return ListedFile(f"{ROOT}/{rel}", size, NOW - age)


def _orphans(listing: list[ListedFile], reachable: set[str], **kwargs: object) -> list[str]:
    kwargs.setdefault("running_jobs", ())
    plan = find_orphans("file:" + ROOT, listing, reachable, NOW, OrphanPolicy(), **kwargs)  # type: ignore[arg-type]
    return [f.path.removeprefix(ROOT + "/") for f in plan.orphans]


def test_unreachable_old_files_are_orphans_reachable_and_young_are_not() -> None:
    old, young = timedelta(days=4), timedelta(days=2)
    listing = [
        _file("data/a.parquet", old),
        _file("data/b.parquet", old),
        _file("data/c.parquet", young),
        _file("metadata/v1.metadata.json", old),
    ]
    reachable = {f"{ROOT}/data/a.parquet", f"{ROOT}/metadata/v1.metadata.json"}
    assert _orphans(listing, reachable) == ["data/b.parquet"]


def test_total_bytes_and_counts() -> None:
    listing = [
        _file("data/x.parquet", timedelta(days=5), 100),
        _file("data/y.parquet", timedelta(days=5), 23),
    ]
    plan = find_orphans(ROOT, listing, set(), NOW, OrphanPolicy(), running_jobs=())
    assert plan.total_bytes == 123
    assert plan.listed == 2


def test_flink_temporary_manifests_of_running_or_retained_jobs_are_kept_whatever_their_age() -> None:
    old = timedelta(days=30)
    listing = [
        _file(f"metadata/{JOB}-{OP}-00000-0-17-00001.avro", old),
        _file(f"metadata/{OTHER}-{OP}-00000-0-9-00001.avro", old),
        _file(f"metadata/{'d' * 32}-{OP}-00000-0-9-00001.avro", old),
    ]
    assert _orphans(listing, set(), running_jobs=[JOB], retained_jobs=[OTHER]) == [
        f"metadata/{'d' * 32}-{OP}-00000-0-9-00001.avro"
    ]


def test_flink_temporary_manifests_are_all_kept_when_running_jobs_are_unknown() -> None:
    listing = [_file(f"metadata/{JOB}-{OP}-00000-0-17-00001.avro", timedelta(days=30))]
    assert _orphans(listing, set(), running_jobs=None) == []


def test_an_ended_jobs_young_temporary_manifest_waits_for_min_age() -> None:
    listing = [_file(f"metadata/{JOB}-{OP}-00000-0-17-00001.avro", timedelta(hours=5))]
    assert _orphans(listing, set()) == []


def test_a_nested_table_is_left_alone() -> None:
    old = timedelta(days=9)
    listing = [
        _file("data/a.parquet", old),
        _file("inner/metadata/v3.metadata.json", old),
        _file("inner/data/z.parquet", old),
    ]
    assert _orphans(listing, set()) == ["data/a.parquet"]


def test_flink_manifest_job_only_under_metadata() -> None:
    assert flink_manifest_job(f"/t/metadata/{JOB}-{OP}-00000-0-1-00001.avro") == JOB
    assert flink_manifest_job(f"/t/data/{JOB}-{OP}-00000-0-1-00001.avro") is None
    assert flink_manifest_job("/t/metadata/8a3c7e8e-1b2c-4d5e-9f00-aa11bb22cc33-m0.avro") is None
    assert flink_manifest_job("/t/metadata/snap-123-1-8a3c7e8e-1b2c-4d5e-9f00-aa11bb22cc33.avro") is None


@pytest.mark.parametrize(
    ("min_age", "floor", "match"),
    [
        (timedelta(hours=-1), timedelta(0), "non-negative"),
        (timedelta(minutes=30), timedelta(0), "below the floor"),
        (timedelta(hours=2), timedelta(hours=3), "below the floor"),
        (timedelta(hours=1), timedelta(seconds=-5), "non-negative"),
    ],
)
def test_min_age_below_the_floor_or_negative_is_refused(
    min_age: timedelta, floor: timedelta, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        OrphanPolicy(min_age=min_age, writer_floor=floor)


def test_the_hard_floor_itself_is_allowed() -> None:
    assert OrphanPolicy(min_age=HARD_FLOOR).min_age == HARD_FLOOR


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("file:/wh/t/a", "/wh/t/a"),
        ("file:///wh/t/a", "/wh/t/a"),
        ("/wh/t/a", "/wh/t/a"),
        ("s3://bucket/wh/a", "bucket/wh/a"),
        ("s3a://bucket/wh/a", "bucket/wh/a"),
    ],
)
def test_paths_compare_in_one_form(raw: str, normal: str) -> None:
    assert normalize(raw) == normal
