"""Write pipelines' Kafka lag and CDC watermarks to sharded InfluxDB from a task."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.exceptions import InvalidInputError, RtpError
from airflow_provider_rtp.hooks.influxdb import ShardedInfluxDBHook
from airflow_provider_rtp.hooks.kafka import KafkaHook
from airflow_provider_rtp.monitoring.exporter import LagExporter, LagTarget, targets_from_pipelines

__all__ = ["KafkaLagExporterOperator"]


class KafkaLagExporterOperator(BaseOperator):
    """Measure each pipeline's consumer-group lag (per partition, slowest partition) and CDC heartbeat
    watermark, and write the points to the InfluxDB shard owning the pipeline.

    Pipelines come from a pipelines YAML (``pipelines_file``, optionally narrowed by
    ``pipelines``) and/or ``targets``: dicts with ``name``, ``group``, ``topics`` and
    optional ``heartbeat_topic``/``cdc_job``. The schema of the points is in
    docs/monitoring.md.

    The task makes ``rounds`` measurements ``interval`` seconds apart (a scheduled
    DAG usually wants one). It fails after the last round if any pipeline could not
    be measured or its shard refused the write; the other pipelines are written
    all the same. Returns, per pipeline, the owning shard, the points written and
    a one-line summary.

    :param kafka_config_id: Kafka connection (type ``kafka``, librdkafka config in the extra).
    :param influxdb_conn_id: InfluxDB shards connection (type ``rtp_influxdb``).
    """

    template_fields: Sequence[str] = ("pipelines_file", "pipelines", "targets")
    ui_color = "#f3ecf9"

    def __init__(
        self,
        *,
        pipelines_file: str | None = None,
        pipelines: Sequence[str] = (),
        targets: Sequence[dict[str, Any]] = (),
        rounds: int = 1,
        interval: float = 30.0,
        kafka_config_id: str = KafkaHook.default_conn_name,
        influxdb_conn_id: str = ShardedInfluxDBHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not pipelines_file and not targets:
            raise InvalidInputError("give pipelines_file and/or targets: there is nothing to measure")
        if rounds < 1 or interval <= 0:
            raise InvalidInputError(f"rounds must be >= 1 and interval > 0, got {rounds} and {interval}")
        self.pipelines_file = pipelines_file
        # Kept as given: either may be a template rendering to a list.
        self.pipelines = pipelines
        self.targets = targets
        self.rounds = rounds
        self.interval = interval
        self.kafka_config_id = kafka_config_id
        self.influxdb_conn_id = influxdb_conn_id

    def _lag_targets(self) -> list[LagTarget]:
        out: list[LagTarget] = []
        if self.pipelines_file:
            from airflow_provider_rtp.completeness import load_pipelines

            names = [self.pipelines] if isinstance(self.pipelines, str) else list(self.pipelines)
            out += targets_from_pipelines(load_pipelines(self.pipelines_file), names)
        for spec in self.targets:
            if not isinstance(spec, dict):
                raise InvalidInputError(f"each target must be a mapping, got {spec!r}")
            unknown = set(spec) - {"name", "group", "topics", "heartbeat_topic", "cdc_job"}
            if unknown:
                raise InvalidInputError(f"target {spec!r}: unknown keys {sorted(unknown)}")
            topics = spec.get("topics") or ()
            out.append(
                LagTarget(
                    name=str(spec.get("name") or spec.get("group") or ""),
                    group=str(spec.get("group") or ""),
                    topics=(topics,) if isinstance(topics, str) else tuple(topics),
                    heartbeat_topic=spec.get("heartbeat_topic"),
                    cdc_job=spec.get("cdc_job"),
                )
            )
        return out

    def execute(self, context: Any) -> dict[str, Any]:
        kafka = KafkaHook(self.kafka_config_id)
        influx = ShardedInfluxDBHook(self.influxdb_conn_id)
        try:
            exporter = LagExporter(kafka.reader, influx.client, self._lag_targets())
            for n in range(self.rounds):
                if n:
                    time.sleep(self.interval)
                result = exporter.run_once()
                for line in result.lines():
                    self.log.info("round %d/%d: %s", n + 1, self.rounds, line)
        finally:
            kafka.close()
            influx.close()
        if not result.ok:
            raise RtpError(
                "lag export failed for "
                + "; ".join(f"{name}: {err}" for name, err in sorted(result.errors.items()))
            )
        return {
            name: {"shard": result.shards[name], "points": result.points[name], "summary": summary}
            for name, summary in result.summaries.items()
        }
