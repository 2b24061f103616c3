"""Pipelines declared once in YAML and reused by DAGs and the CLI.

```yaml
pipelines:
  ods.orders:                      # the Iceberg table
    topics: [shop.orders]
    group: rtp-ods-orders
    ingestion_job: ods-orders-ingest
    cdc_job: shop-cdc              # optional
    heartbeat_topic: shop.rtp_heartbeat   # optional
```
"""

from __future__ import annotations

from pathlib import Path

import yaml

from airflow_provider_rtp.evaluation import Pipeline

__all__ = ["load_pipelines"]

_KEYS = {"topics", "group", "ingestion_job", "cdc_job", "heartbeat_topic"}


def load_pipelines(path: str | Path) -> dict[str, Pipeline]:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    entries = raw.get("pipelines")
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{path}: expected a non-empty 'pipelines:' mapping of table -> settings")
    out = {}
    for table, spec in entries.items():
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: pipeline {table!r} must be a mapping")
        unknown = set(spec) - _KEYS
        if unknown:
            raise ValueError(
                f"{path}: pipeline {table!r} has unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}"
            )
        missing = {"topics", "group", "ingestion_job"} - set(spec)
        if missing:
            raise ValueError(f"{path}: pipeline {table!r} lacks {sorted(missing)}")
        topics = spec["topics"]
        out[str(table)] = Pipeline(
            table=str(table),
            topics=tuple([topics] if isinstance(topics, str) else topics),
            group=str(spec["group"]),
            ingestion_job=str(spec["ingestion_job"]),
            cdc_job=spec.get("cdc_job"),
            heartbeat_topic=spec.get("heartbeat_topic"),
        )
    return out
