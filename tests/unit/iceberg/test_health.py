"""The health verdict: which maintenance is due, why, and on which partitions first."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.iceberg.health import (
    Action,
    HealthReport,
    HealthThresholds,
    OrphanSummary,
    PartitionHealth,
    RefInfo,
    TableHealth,
    fmt_bytes,
    judge_health,
    small_file_threshold,
)

NOW = 1_796_000_000_000
HOUR = 3_600_000
MiB = 1024 * 1024


def _part(path: str, *, small: int = 0, eq: int = 0, pos: int = 0, rows: int = 0, updated: int | None = None):
    return PartitionHealth(
        path,
        data_files=small + 1,
        data_records=100,
        data_bytes=(small + 1) * MiB,
        small_data_files=small,
        equality_delete_files=eq,
        equality_delete_records=rows,
        position_delete_files=pos,
        delete_bytes=(eq + pos) * 1024,
        last_updated_ms=updated,
    )


def _table(*parts: PartitionHealth, snapshots: int = 10, oldest_h: float = 1, meta: int = MiB) -> TableHealth:
    return TableHealth(
        table="ods.orders",
        snapshot_id=7,
        snapshot_ms=NOW - 1000,
        read_at_ms=NOW,
        small_file_bytes=32 * MiB,
        partitions=parts,
        snapshots=snapshots,
        oldest_snapshot_ms=int(NOW - oldest_h * HOUR),
        refs=(RefInfo("main", "branch", 7),),
        metadata_file_bytes=meta,
        metadata_log_files=3,
        metadata_log_bytes=3 * meta,
    )


def _verdicts(health: TableHealth, t: HealthThresholds | None = None, orphans: OrphanSummary | None = None):
    return {v.action: v for v in judge_health(health, t, now_ms=NOW, orphans=orphans)}


def test_a_clean_table_needs_nothing_and_says_so_with_figures() -> None:
    v = _verdicts(_table(_part("h=1", small=3)))
    assert v[Action.COMPACT].verdict == "nothing to do"
    assert v[Action.COMPACT].reason == ("no partition of 1 has more than 0 delete files or 10 small files.")
    assert v[Action.EXPIRE].verdict == "nothing to do"
    assert v[Action.EXPIRE].reason == (
        "10 snapshots (limit 10,000), oldest 1h old (limit 1d), metadata 4 MiB (limit 256 MiB)."
    )


def test_delete_files_or_too_many_small_files_ask_for_compaction_worst_first() -> None:
    health = _table(
        _part("h=1", small=11),
        _part("h=2", eq=5, rows=50),
        _part("h=3", small=10),  # at the limit: nothing due
        _part("h=4", eq=5, pos=1, small=20, rows=9),
        _part("h=5", pos=1),
    )
    compact = _verdicts(health)[Action.COMPACT]
    assert compact.due is True and compact.verdict == "compact"
    assert compact.partitions == ("h=4", "h=1", "h=2", "h=5")
    assert compact.reason.startswith("4 of 5 partitions have more than 0 delete files or 10 small files")
    assert "worst h=4 with 6 delete files and 20 small files" in compact.reason


def test_ties_go_to_the_partition_with_more_delete_rows() -> None:
    compact = _verdicts(_table(_part("a", eq=2, rows=1), _part("b", eq=2, rows=9)))[Action.COMPACT]
    assert compact.partitions == ("b", "a")


def test_a_partition_still_being_written_is_left_to_the_writer() -> None:
    t = HealthThresholds(min_quiet=timedelta(minutes=30))
    health = _table(_part("old", eq=1, updated=NOW - 2 * HOUR), _part("hot", eq=9, updated=NOW - 60_000))
    compact = _verdicts(health, t)[Action.COMPACT]
    assert compact.partitions == ("old",)
    assert "1 written within 30m left to the writer" in compact.reason
    only_hot = _verdicts(_table(_part("hot", eq=9, updated=NOW - 60_000)), t)[Action.COMPACT]
    assert only_hot.due is False and "1 written within 30m" in only_hot.reason


def test_the_unpartitioned_table_is_named_as_such() -> None:
    compact = _verdicts(_table(_part("", eq=1)))[Action.COMPACT]
    assert compact.partitions == ("",) and "worst (unpartitioned)" in compact.reason


@pytest.mark.parametrize(
    ("health", "over"),
    [
        (_table(snapshots=10_001), "snapshots"),
        (_table(oldest_h=25), "age"),
        (_table(meta=65 * MiB), "metadata"),
    ],
)
def test_expiry_is_due_on_each_limit(health: TableHealth, over: str) -> None:
    expire = _verdicts(health)[Action.EXPIRE]
    assert expire.due is True and expire.reason.endswith(f"above the limit on {over}.")


def test_expiry_names_every_limit_passed() -> None:
    expire = _verdicts(_table(snapshots=20_000, oldest_h=48, meta=100 * MiB))[Action.EXPIRE]
    assert expire.reason == (
        "20,000 snapshots (limit 10,000), oldest 2d old (limit 1d), metadata 400 MiB (limit 256 MiB): "
        "above the limit on snapshots, age, metadata."
    )


def test_a_table_without_snapshots_has_nothing_to_expire() -> None:
    health = TableHealth("ods.empty", None, None, NOW, 32 * MiB)
    v = _verdicts(health)
    assert v[Action.EXPIRE].reason == "0 snapshots (limit 10,000), metadata 0 B (limit 256 MiB)."
    assert v[Action.COMPACT].due is False


def test_clean_is_unknown_without_an_orphan_summary() -> None:
    clean = _verdicts(_table())[Action.CLEAN]
    assert clean.due is None and clean.verdict == "unknown"
    assert "no orphan-file summary" in clean.reason


def test_clean_follows_the_orphan_summary() -> None:
    clean = _verdicts(_table(), orphans=OrphanSummary(12, 3 * MiB))[Action.CLEAN]
    assert clean.verdict == "clean" and clean.reason == "12 orphan files, 3 MiB (limit 0 files)."
    tolerant = HealthThresholds(max_orphan_files=12)
    assert _verdicts(_table(), tolerant, OrphanSummary(12, 1))[Action.CLEAN].verdict == "nothing to do"


def test_thresholds_from_plain_values() -> None:
    t = HealthThresholds.from_dict({"max_small_files": "4", "min_quiet": 600, "max_snapshot_age": "3600"})
    assert t.max_small_files == 4 and t.min_quiet == timedelta(minutes=10)
    assert t.max_snapshot_age == timedelta(hours=1)
    assert HealthThresholds.from_dict(t.to_dict()) == t


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"max_smal_files": 1}, "unknown thresholds"),
        ({"max_small_files": 1.5}, "max_small_files"),
        ({"max_small_files": True}, "max_small_files"),
        ({"max_small_files": -1}, "non-negative"),
        ({"max_snapshot_age": 0}, "max_snapshot_age"),
        ({"min_quiet": "soon"}, "min_quiet"),
    ],
)
def test_bad_thresholds_are_named(values: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        HealthThresholds.from_dict(values)


def test_small_file_threshold_follows_a_lower_target() -> None:
    assert small_file_threshold({}) == 32 * MiB
    assert small_file_threshold({"write.target-file-size-bytes": str(1024 * MiB)}) == 32 * MiB
    assert small_file_threshold({"write.target-file-size-bytes": str(64 * MiB)}) == 16 * MiB
    with pytest.raises(InvalidInputError, match=r"write\.target-file-size-bytes"):
        small_file_threshold({"write.target-file-size-bytes": "big"})


def test_totals_sum_the_partitions_and_refuse_unknown_names() -> None:
    health = _table(_part("a", small=2, eq=1), _part("b", eq=3))
    assert health.total("equality_delete_files") == 4 and health.total("data_files") == 4
    with pytest.raises(InvalidInputError, match="no per-partition count"):
        health.total("snapshots")


def test_report_dict_is_json_safe_and_complete() -> None:
    report = HealthReport.judge(_table(_part("h=1", eq=1)), orphans=OrphanSummary(1, 2))
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["totals"]["partitions"] == 1 and d["totals"]["equality_delete_files"] == 1
    assert d["metadata"]["total_bytes"] == 4 * MiB
    assert [v["verdict"] for v in d["verdicts"]] == ["compact", "nothing to do", "clean"]
    assert d["verdicts"][0]["partitions"] == ["h=1"]
    assert d["thresholds"]["max_snapshot_age"] == 86400.0
    assert report.verdict(Action.EXPIRE).due is False


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "?"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (120 * MiB, "120 MiB"),
        (3 * 1024**4, "3 TiB"),
    ],
)
def test_fmt_bytes(n: int | None, text: str) -> None:
    assert fmt_bytes(n) == text
