"""The health report's text table: aligned columns, a total, the verdicts, and a row limit."""

from __future__ import annotations

from airflow_provider_rtp.iceberg.health import HealthReport, PartitionHealth, RefInfo, TableHealth
from airflow_provider_rtp.iceberg.health_format import format_health

NOW = 1_796_000_000_000  # 2026-11-30T00:53:20Z
MiB = 1024 * 1024


def _health(*parts: PartitionHealth, useless: int | None = 3) -> TableHealth:
    return TableHealth(
        table="ods.orders",
        snapshot_id=42,
        snapshot_ms=NOW,
        read_at_ms=NOW,
        small_file_bytes=32 * MiB,
        partitions=parts,
        snapshots=8640,
        oldest_snapshot_ms=NOW - 86_000_000,
        refs=(RefInfo("main", "branch", 42), RefInfo("daily", "tag", 40)),
        metadata_file_bytes=2 * MiB,
        metadata_log_files=100,
        metadata_log_bytes=200 * MiB,
        metadata_log_missing=1,
        properties={"write.upsert.enabled": "true"},
        useless_equality_deletes=useless,
        useless_note="exact: read the keys of 4 files, 100 rows",
    )


P1 = PartitionHealth(
    "change_hour=2026-11-29-22", 0, 360, 1204, 3 * MiB, 360, 358, 1190, 12, 12, 1536, None, 3
)
P2 = PartitionHealth("change_hour=2026-11-29-23", 0, 2, 10, 1024, 2, 0, 0, 0, 0, 0, None, 0)


def test_the_table_reads_as_documented() -> None:
    text = format_health(HealthReport.judge(_health(P1, P2)))
    assert text.splitlines() == [
        "table ods.orders  snapshot 42 (2026-11-30T00:53:20Z)  read 2026-11-30T00:53:20Z  small < 32 MiB",
        "partition                  data  records  bytes  small  eq.del"
        "  eq.rows  pos.del  pos.rows  del.bytes  useless",
        "change_hour=2026-11-29-22   360    1,204  3 MiB    360 "
        "    358    1,190       12        12    1.5 KiB        3",
        "change_hour=2026-11-29-23     2       10  1 KiB      2 "
        "      0        0        0         0        0 B        0",
        "total (2 partitions)        362    1,214  3 MiB    362 "
        "    358    1,190       12        12    1.5 KiB        3",
        "snapshots 8,640, oldest 23h53m20s old; refs main=42 (branch), daily=40 (tag)",
        "metadata 2 MiB, log 100 files 200 MiB (1 gone)",
        "properties write.upsert.enabled=true",
        "useless equality deletes 3 (exact: read the keys of 4 files, 100 rows)",
        "compact  compact        1 of 2 partitions have more than 0 delete files or 10 small files, worst "
        "change_hour=2026-11-29-22 with 370 delete files and 360 small files.",
        "expire   nothing to do  8,640 snapshots (limit 10,000), oldest 23h53m20s old (limit 1d), "
        "metadata 202 MiB (limit 256 MiB).",
        "clean    unknown        no orphan-file summary was given, so orphans are unknown.",
    ]


def test_many_partitions_show_the_fullest_and_say_how_many_are_left_out() -> None:
    parts = [PartitionHealth(f"h={i:02d}", data_files=i) for i in range(10)]
    lines = format_health(HealthReport.judge(_health(*parts)), max_rows=3).splitlines()
    assert [line.split()[0] for line in lines[2:6]] == ["h=07", "h=08", "h=09", "…"]
    assert lines[5].startswith("… 7 more partitions")
    assert lines[6].split()[:4] == ["total", "(10", "partitions)", "45"]


def test_unknown_figures_show_as_question_marks() -> None:
    text = format_health(HealthReport.judge(_health(PartitionHealth("", data_files=1), useless=None)))
    assert "\n(unpartitioned)" in text
    assert text.splitlines()[2].endswith("?") and text.splitlines()[3].endswith("?")
