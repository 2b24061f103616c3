"""What feeds one lake table, declared once: the field list every layer reads.

Sensors, triggers, the CLI, the lag exporter and a decision's stored key all take
their fields from :class:`Pipeline`; a pipelines file is the same fields in YAML::

    pipelines:
      ods.orders:                      # the Iceberg table
        topics: [shop.orders]
        group: rtp-ods-orders
        ingestion_job: ods-orders-ingest
        cdc_job: shop-cdc              # optional
        heartbeat_topic: shop.rtp_heartbeat   # optional: without it, the CDC job's metrics
      ods.orders_ch:                   # a ClickHouse-sink pipeline (sink: iceberg is the default)
        topics: [shop.orders]
        group: rtp-orders-ch
        ingestion_job: orders-clickhouse
        sink: clickhouse               # J flushes to ClickHouse on every checkpoint
        clickhouse_table: shop.orders  # database.table J writes
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_rtp.completeness.errors import InvalidPipelineError

__all__ = ["SINKS", "Pipeline", "load_pipelines"]

#: What J writes to: Iceberg (a snapshot of J covering c* is the commit, the default) or
#: ClickHouse (J flushes on every checkpoint; a checkpoint completed after the Kafka stage held
#: is the commit, a weaker guarantee: see docs/completeness.md).
SINKS = ("iceberg", "clickhouse")
_CLICKHOUSE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Pipeline:
    """What feeds one lake table.

    :param table: the Iceberg table, ``namespace.table`` (or a Hadoop-layout table's location).
    :param topics: the Kafka topics the ingestion job reads.
    :param group: the ingestion job's consumer group (offsets committed on checkpoint).
    :param ingestion_job: the Flink job name writing the table.
    :param cdc_job: the Flink CDC job name feeding the topics, if any.
    :param heartbeat_topic: the topic the CDC job writes source heartbeats to, if any; a CDC job
        without one is judged by its source metrics (see docs/completeness.md).
    :param sink: ``iceberg`` (default) or ``clickhouse``: J writes ``clickhouse_table`` and
        flushes it on every checkpoint; ``table`` then only names the pipeline (and its asset).
    :param clickhouse_table: ``database.table`` in ClickHouse, for ``sink: clickhouse`` only.
    """

    table: str
    topics: tuple[str, ...]
    group: str
    ingestion_job: str
    cdc_job: str | None = None
    heartbeat_topic: str | None = None
    sink: str = "iceberg"
    clickhouse_table: str | None = None

    def __post_init__(self) -> None:
        is_location = ":/" in self.table or self.table.startswith("/")  # a Hadoop-layout table
        if not isinstance(self.table, str) or ("." not in self.table and not is_location):
            raise InvalidPipelineError(
                f"table must be 'namespace.table' or a metadata location, got {self.table!r}"
            )
        topics = (self.topics,) if isinstance(self.topics, str) else tuple(self.topics)
        if not topics or not all(isinstance(t, str) and t for t in topics):
            raise InvalidPipelineError(
                f"pipeline {self.table}: topics must be non-empty names, got {topics!r}"
            )
        object.__setattr__(self, "topics", topics)
        for name in ("group", "ingestion_job"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidPipelineError(f"pipeline {self.table}: {name} must be a non-empty name")
        for name in ("cdc_job", "heartbeat_topic"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidPipelineError(f"pipeline {self.table}: {name} must be a name or None")
        self._check_sink()

    def _check_sink(self) -> None:
        if self.sink not in SINKS:
            raise InvalidPipelineError(
                f"pipeline {self.table}: unknown sink {self.sink!r}; allowed: {', '.join(SINKS)}"
            )
        if self.sink == "iceberg":
            if self.clickhouse_table is not None:
                raise InvalidPipelineError(
                    f"pipeline {self.table}: clickhouse_table {self.clickhouse_table!r} is only read with "
                    "sink: clickhouse (this pipeline's sink is iceberg)"
                )
            return
        name = self.clickhouse_table
        parts = name.split(".") if isinstance(name, str) else []
        if len(parts) != 2 or not all(_CLICKHOUSE_NAME.fullmatch(p) for p in parts):
            raise InvalidPipelineError(
                f"pipeline {self.table}: sink clickhouse needs clickhouse_table 'database.table' "
                f"(letters, digits, underscores), got {name!r}"
            )

    @property
    def commit_target(self) -> str:
        """What the commit stage reads: the Iceberg table, or the ClickHouse table."""
        return self.clickhouse_table if self.sink == "clickhouse" and self.clickhouse_table else self.table

    @property
    def cdc_mode(self) -> str:
        """``heartbeat``, ``metrics`` (a CDC job without a heartbeat topic) or ``none``."""
        if self.heartbeat_topic:
            return "heartbeat"
        return "metrics" if self.cdc_job else "none"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["topics"] = list(self.topics)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "pipeline") -> Pipeline:
        """Build from plain data; unknown or missing keys are named."""
        if not isinstance(raw, Mapping):
            raise InvalidPipelineError(f"{where} must be a mapping, got {type(raw).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise InvalidPipelineError(
                f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(names)}"
            )
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing = required - set(raw)
        if missing:
            raise InvalidPipelineError(f"{where} lacks {sorted(missing)}")
        return cls(**dict(raw))

    def key(self) -> str:
        """The pipeline a decision was taken for, as stored beside it (topic order does not matter).

        The sink fields join the key only when they differ from an Iceberg pipeline's, so the
        decisions stored for Iceberg pipelines keep their key.
        """
        values = [
            sorted(v) if f.name == "topics" else v
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
            if self.sink != "iceberg" or f.name not in ("sink", "clickhouse_table")
        ]
        return json.dumps(values, separators=(",", ":"))


def load_pipelines(path: str | Path) -> dict[str, Pipeline]:
    """The pipelines of a YAML file, by table."""
    import yaml  # the core itself needs no YAML; only reading a file does

    raw = yaml.safe_load(Path(path).read_text()) or {}
    entries = raw.get("pipelines") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise InvalidPipelineError(f"{path}: expected a non-empty 'pipelines:' mapping of table -> settings")
    out = {}
    for table, spec in entries.items():
        if not isinstance(spec, dict):
            raise InvalidPipelineError(f"{path}: pipeline {table!r} must be a mapping")
        out[str(table)] = Pipeline.from_dict({"table": str(table), **spec}, f"{path}: pipeline {table!r}")
    return out
