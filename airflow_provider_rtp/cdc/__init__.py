"""CDC watermarks: heartbeat-table SQL and the frozen-metric decision, free of Airflow imports."""

from airflow_provider_rtp.cdc.heartbeat import HeartbeatSetup, quote_identifier
from airflow_provider_rtp.cdc.metrics import (
    CdcMetricSample,
    MetricWatermark,
    MetricWatermarkStatus,
    metric_watermark,
)

__all__ = [
    "CdcMetricSample",
    "HeartbeatSetup",
    "MetricWatermark",
    "MetricWatermarkStatus",
    "metric_watermark",
    "quote_identifier",
]
