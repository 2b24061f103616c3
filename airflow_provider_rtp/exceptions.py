"""Errors raised by this provider.

One base class, one family per system, so a DAG can catch what it can handle::

    RtpError
    ├── InvalidInputError          bad input: an argument, a name, a window or a declaration
    │   └── CompletenessError      the decision core's family (completeness/errors.py)
    ├── FlinkError                 the Flink JobManager or SQL Gateway said no
    │   ├── FlinkConnectionError   not reachable after bounded retries
    │   ├── FlinkJobNotFound       no job with that id / RUNNING job with that name
    │   ├── FlinkJobAmbiguous      two RUNNING jobs share one name
    │   ├── FlinkSqlError          a statement failed; Flink's own text is kept verbatim
    │   └── FlinkOperationTimeout  a savepoint, statement or state change took too long
    ├── KafkaError                 broker/admin errors, unknown topic or group
    ├── IcebergError               catalog or table errors
    ├── InfluxError                a shard rejected a write or query
    └── ClickHouseError            ClickHouse rejected a statement

Bad input is an :class:`InvalidInputError`, raised as early as it can be told (at DAG parse
time where the value is known then): a task fails at once with its message instead of waiting.
"""

from __future__ import annotations

__all__ = [
    "ClickHouseError",
    "FlinkConnectionError",
    "FlinkError",
    "FlinkJobAmbiguous",
    "FlinkJobNotFound",
    "FlinkOperationTimeout",
    "FlinkSqlError",
    "IcebergError",
    "InfluxError",
    "InvalidInputError",
    "KafkaError",
    "RtpError",
]


class RtpError(Exception):
    """Base of every error this provider raises on purpose."""


class InvalidInputError(RtpError):
    """Bad input: the message names the offending value and, where there is one, the fix."""


class FlinkError(RtpError):
    """The Flink cluster rejected a request; the message carries Flink's own text."""

    def __init__(self, message: str, *, status: int | None = None, flink_errors: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.flink_errors = flink_errors or []


class FlinkConnectionError(FlinkError):
    """The REST endpoint could not be reached, even after bounded retries."""


class FlinkJobNotFound(FlinkError):
    """No job matches the id or the name asked for."""


class FlinkJobAmbiguous(FlinkError):
    """More than one RUNNING job carries the same name, so the name is no identity."""


class FlinkSqlError(FlinkError):
    """A SQL statement failed to parse, validate or run."""


class FlinkOperationTimeout(FlinkError):
    """An asynchronous operation did not finish within its deadline."""


class KafkaError(RtpError):
    """Kafka admin or consumer calls failed, or a topic/group does not exist."""


class IcebergError(RtpError):
    """The Iceberg catalog or table could not be read."""


class InfluxError(RtpError):
    """An InfluxDB shard rejected a write or a query."""


class ClickHouseError(RtpError):
    """ClickHouse rejected a statement."""
