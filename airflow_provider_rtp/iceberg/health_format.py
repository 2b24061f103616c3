"""The health report as a text table, for task logs and the ``rtp-lake`` CLI::

table ods.orders  snapshot 42 (2026-11-30T00:53:20Z)  read 2026-11-30T00:53:20Z  small < 32 MiB
partition                  data  records  bytes  small  eq.del  eq.rows  pos.del  pos.rows  del.bytes  useless
change_hour=2026-11-29-22   360    1,204  3 MiB    360     358    1,190       12        12    1.5 KiB        3
total (1 partitions)        360    1,204  3 MiB    360     358    1,190       12        12    1.5 KiB        3
snapshots 8,640, oldest 23h53m20s old; refs main=42 (branch)
metadata 2 MiB, log 100 files 200 MiB (0 gone)
useless equality deletes 3 (exact: read the keys of 4 files, 100 rows)
compact  compact        1 of 1 partitions have more than 0 delete files or 10 small files, worst …
expire   nothing to do  8,640 snapshots (limit 10,000), oldest 23h53m20s old (limit 1d), …
clean    unknown        no orphan-file summary was given, so orphans are unknown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_provider_rtp.completeness._time import fmt_duration
from airflow_provider_rtp.iceberg.health import HealthReport, PartitionHealth, fmt_bytes

__all__ = ["format_health"]

_HEADER = (
    "partition", "data", "records", "bytes", "small", "eq.del", "eq.rows", "pos.del", "pos.rows",
    "del.bytes", "useless",
)  # fmt: skip


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _row(label: str, p: PartitionHealth) -> list[str]:
    return [
        label,
        _n(p.data_files),
        _n(p.data_records),
        fmt_bytes(p.data_bytes),
        _n(p.small_data_files),
        _n(p.equality_delete_files),
        _n(p.equality_delete_records),
        _n(p.position_delete_files),
        _n(p.position_delete_records),
        fmt_bytes(p.delete_bytes),
        _n(p.useless_equality_deletes),
    ]


def format_health(report: HealthReport, *, max_rows: int = 50) -> str:
    """One row per partition (the ``max_rows`` with the most files when there are more), a total,
    then snapshots, metadata, properties, and one line per verdict."""
    h = report.health
    parts = list(h.partitions)
    hidden = 0
    if len(parts) > max_rows:
        keep = sorted(parts, key=lambda p: (-(p.data_files + p.delete_files), p.partition))[:max_rows]
        hidden, parts = len(parts) - max_rows, sorted(keep, key=lambda p: p.partition)
    total = PartitionHealth(
        "",
        data_files=h.total("data_files"),
        data_records=h.total("data_records"),
        data_bytes=h.total("data_bytes"),
        small_data_files=h.total("small_data_files"),
        equality_delete_files=h.total("equality_delete_files"),
        equality_delete_records=h.total("equality_delete_records"),
        position_delete_files=h.total("position_delete_files"),
        position_delete_records=h.total("position_delete_records"),
        delete_bytes=h.total("delete_bytes"),
        useless_equality_deletes=h.useless_equality_deletes,
    )
    rows = [list(_HEADER), *(_row(p.partition or "(unpartitioned)", p) for p in parts)]
    if hidden:
        rows.append([f"… {hidden} more partitions", *[""] * (len(_HEADER) - 1)])
    rows.append(_row(f"total ({len(h.partitions)} partitions)", total))
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]

    def line(r: list[str]) -> str:
        return "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )

    snap = (
        "no snapshot" if h.snapshot_id is None else f"snapshot {h.snapshot_id} ({_iso(h.snapshot_ms or 0)})"
    )
    out = [f"table {h.table}  {snap}  read {_iso(h.read_at_ms)}  small < {fmt_bytes(h.small_file_bytes)}"]
    out += [line(r).rstrip() for r in rows]
    oldest = (
        "none"
        if h.oldest_snapshot_ms is None
        else fmt_duration(timedelta(seconds=(h.read_at_ms - h.oldest_snapshot_ms) // 1000)) + " old"
    )
    refs = ", ".join(f"{r.name}={r.snapshot_id} ({r.type})" for r in h.refs) or "none"
    out.append(f"snapshots {h.snapshots:,}, oldest {oldest}; refs {refs}")
    out.append(
        f"metadata {fmt_bytes(h.metadata_file_bytes)}, log {h.metadata_log_files} files "
        f"{fmt_bytes(h.metadata_log_bytes)} ({h.metadata_log_missing} gone)"
    )
    if h.properties:
        out.append("properties " + ", ".join(f"{k}={v}" for k, v in sorted(h.properties.items())))
    out.append(f"useless equality deletes {_n(h.useless_equality_deletes)} ({h.useless_note})")
    width = max(len(v.verdict) for v in report.verdicts)
    out += [f"{v.action.value:<8} {v.verdict:<{width}}  {v.reason}" for v in report.verdicts]
    return "\n".join(out)
