"""CDC sources: heartbeat-table SQL, free of Airflow imports.

The metric watermark (a CDC job without heartbeats) is one model in the core,
:func:`airflow_provider_rtp.completeness.metric_watermark`, read by
:mod:`airflow_provider_rtp.evaluation.cdc`.
"""

from airflow_provider_rtp.cdc.heartbeat import HeartbeatSetup, quote_identifier

__all__ = ["HeartbeatSetup", "quote_identifier"]
