"""The CDC observation: the heartbeat topic, or the CDC job's source gauges, then the job itself.

The one reader of the source gauges over Flink's REST API (the sensor, the trigger, the CLI
and ``CdcHook.metric_watermark`` all come here); what the gauges mean is decided in the core
(:func:`airflow_provider_rtp.completeness.metric_watermark`).

Flink's REST server answers metric requests from a store it refreshes in the background when
its data is older than ``metrics.fetcher.update-interval`` (10 s by default, the stack's value):
the first request after a quiet spell returns values of any age and starts a refresh. So the
reader polls until the values change: a fetch landed that started at most one interval before
the first request. The values always change between two fetches (the idle time or, while the
source emits, the emit lag is computed when read); values that stay put for two intervals
are unknown, never taken as fresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from airflow_provider_rtp.completeness import CdcObservation, JobObservation, LagSample, Pipeline
from airflow_provider_rtp.exceptions import FlinkJobNotFound, RtpError
from airflow_provider_rtp.flink import FlinkRestClient, JobState
from airflow_provider_rtp.kafka import KafkaLagReader

__all__ = ["DEFAULT_METRIC_REFRESH", "observe_cdc", "read_lag_sample"]

#: Flink's ``metrics.fetcher.update-interval`` default (the stack does not change it).
DEFAULT_METRIC_REFRESH = timedelta(seconds=10)
_GAUGES = ("currentEmitEventTimeLag", "sourceIdleTime", "currentFetchEventTimeLag")
_POLL_S = 0.25
_FETCH_SLACK_S = 3.0


def _source_vertex(flink: FlinkRestClient, job_id: str, job_name: str) -> str:
    vertices = flink.job_details(job_id).get("vertices", [])
    sources = [v for v in vertices if str(v.get("name", "")).startswith("Source")]
    if not sources:
        raise RtpError(f"Flink job {job_name!r} ({job_id}) has no source vertex to read CDC gauges from")
    return str(sources[0]["id"])


def _gauge_ids(flink: FlinkRestClient, job_id: str, vertex: str) -> dict[str, str]:
    """Gauge name -> metric id (operator gauges carry the operator's name as a prefix)."""
    ids = flink.vertex_metric_ids(job_id, vertex)
    found = {g: [i for i in ids if i == g or i.endswith("." + g)] for g in _GAUGES}
    return {g: matches[0] for g, matches in found.items() if matches}


def read_lag_sample(
    flink: FlinkRestClient,
    job_name: str,
    *,
    refresh: timedelta = DEFAULT_METRIC_REFRESH,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> LagSample | None:
    """The source gauges of the running job ``job_name`` (max over subtasks: the safe side).

    ``None`` when the job is not running, does not report ``sourceIdleTime`` and
    ``currentEmitEventTimeLag`` (both are Flink's own source gauges), or its values did not
    refresh within two intervals. Takes from a fraction of a second (this request starts the
    refresh) to one refresh interval (someone else's request just did).

    :param refresh: the cluster's ``metrics.fetcher.update-interval``.
    :raises FlinkJobNotFound: no job of that name exists, running or ended.
    """
    job = flink.find_job(job_name)
    if job is None:
        raise FlinkJobNotFound(f"no Flink job named {job_name!r} on the cluster (running or finished)")
    if job.state is not JobState.RUNNING:
        return None  # no gauges to read; the job's state is reported by the job observation
    vertex = _source_vertex(flink, job.job_id, job_name)
    started = clock()
    # Two refreshes: a fetch on a busy cluster may take a while to land.
    deadline = started + 2 * refresh.total_seconds() + _FETCH_SLACK_S
    ids = _gauge_ids(flink, job.job_id, vertex)
    while "currentEmitEventTimeLag" not in ids or "sourceIdleTime" not in ids:
        if clock() > deadline:  # a new job is listed once a fetch has seen it
            return None
        sleep(_POLL_S)
        ids = _gauge_ids(flink, job.job_id, vertex)

    def read() -> dict[str, float | None]:
        values = flink.vertex_metrics(job.job_id, vertex, list(ids.values()))
        return {g: (values.get(i) or {}).get("max") for g, i in ids.items()}

    first = read()
    values = first
    # A change means a fetch landed that started at most one refresh before ``started``; values
    # that stay put (fetches failing) are unknown.
    while values == first:
        if clock() > deadline:
            return None
        sleep(_POLL_S)
        values = read()
    read_at = clock()
    if values["sourceIdleTime"] is None or values["currentEmitEventTimeLag"] is None:
        return None

    def ms(value: float | None) -> timedelta | None:
        return None if value is None or value < 0 else timedelta(milliseconds=value)  # -1: never

    return LagSample(
        job_id=job.job_id,
        read_at=datetime.fromtimestamp(read_at, tz=UTC),
        # Computed by a fetch that started at most one refresh before the first request.
        max_age=refresh + timedelta(seconds=read_at - started),
        emit_lag=ms(values["currentEmitEventTimeLag"]),
        idle=ms(values["sourceIdleTime"]) or timedelta(0),
        fetch_lag=ms(values.get("currentFetchEventTimeLag")),
    )


def observe_cdc(
    pipeline: Pipeline,
    *,
    kafka: KafkaLagReader,
    flink: FlinkRestClient,
    observe_job: Callable[[FlinkRestClient, str], JobObservation],
    refresh: timedelta = DEFAULT_METRIC_REFRESH,
) -> CdcObservation | None:
    """The CDC stage's observation in the pipeline's mode (``None`` for a Kafka-native pipeline).

    ``heartbeat``: the newest committed heartbeat. ``metrics``: the source gauges, read *before*
    the job (``observe_job``) so that the job's latest checkpoint can prove them durable.
    """
    mode = pipeline.cdc_mode
    if mode == "none":
        return None
    heartbeat, metric = None, None
    if mode == "heartbeat":
        assert pipeline.heartbeat_topic is not None
        ms = kafka.newest_committed_timestamp(pipeline.heartbeat_topic)
        heartbeat = datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None and ms >= 0 else None
    elif pipeline.cdc_job:
        metric = read_lag_sample(flink, pipeline.cdc_job, refresh=refresh)
    job = observe_job(flink, pipeline.cdc_job) if pipeline.cdc_job else None
    return CdcObservation(
        name=pipeline.cdc_job or str(pipeline.heartbeat_topic), heartbeat=heartbeat, metric=metric, job=job
    )
