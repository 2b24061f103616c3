"""The one rule set: gather observations from the systems, in the contract's order, and decide.

The sensor's ``poke()``, the deferrable and event triggers and the ``rtp-completeness``
CLI all call :func:`run_check`; only how they schedule it and where their clients come
from differ. Nothing here reads an Airflow connection: :mod:`airflow_provider_rtp.hooks`
turns connections into the clients handed in.
"""

from airflow_provider_rtp.evaluation.check import (
    CheckResult,
    Clients,
    CompletenessCheck,
    is_transient,
    run_check,
)
from airflow_provider_rtp.evaluation.gather import evaluate, observe_job, observe_kafka

__all__ = [
    "CheckResult",
    "Clients",
    "CompletenessCheck",
    "evaluate",
    "is_transient",
    "observe_job",
    "observe_kafka",
    "run_check",
]
