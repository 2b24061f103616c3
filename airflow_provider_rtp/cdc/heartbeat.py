"""The heartbeat table and the EVENT that rewrites it, as idempotent MySQL/MariaDB statements.

A heartbeat row rewritten every few seconds by the database itself and captured by
the same binlog reader as the data tables turns "the CDC job has read everything
logged before h" into a record in Kafka (see docs/completeness.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["HeartbeatSetup", "quote_identifier"]

# Unquoted-safe MySQL identifiers only: letters, digits, _ and $, at most 64 characters, not all
# digits. Anything else (quotes, dots, spaces, comments) is refused rather than escaped.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_$]{1,64}")


def quote_identifier(name: str, what: str = "identifier") -> str:
    """``name`` in backquotes, or InvalidInputError naming it when it is not a plain identifier."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or name.isdigit():
        raise InvalidInputError(
            f"invalid {what} {name!r}: use 1-64 letters, digits, '_' or '$' (not only digits)"
        )
    return f"`{name}`"


@dataclass(frozen=True)
class HeartbeatSetup:
    """Where the heartbeat lives and how often it beats.

    :param database: the captured source database.
    :param table: the heartbeat table (one row, ``id`` = 1, ``ts`` = the beat time, ms precision);
        the CDC job must capture it with the same source as the data tables.
    :param event: the EVENT that rewrites the row; default ``<table>_tick``.
    :param interval_s: seconds between two beats.
    """

    database: str
    table: str = "rtp_heartbeat"
    event: str | None = None
    interval_s: int = 5

    def __post_init__(self) -> None:
        quote_identifier(self.database, "database name")
        quote_identifier(self.table, "heartbeat table name")
        quote_identifier(self.event_name, "event name")
        if isinstance(self.interval_s, bool) or not isinstance(self.interval_s, int):
            raise TypeError(f"interval_s must be an int, got {type(self.interval_s).__name__}")
        if not 1 <= self.interval_s <= 3600:
            raise InvalidInputError(f"interval_s must be 1..3600 seconds, got {self.interval_s}")

    @property
    def event_name(self) -> str:
        return self.event or f"{self.table}_tick"

    @property
    def _table(self) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(self.table)}"

    @property
    def _event(self) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(self.event_name)}"

    def install_statements(self) -> list[str]:
        """Statements that create what is missing and set the interval; safe to run again."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            "id INT NOT NULL PRIMARY KEY, "
            "ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE = InnoDB",
            f"INSERT IGNORE INTO {self._table} (id, ts) VALUES (1, NOW(3))",
            f"CREATE EVENT IF NOT EXISTS {self._event} ON SCHEDULE EVERY {self.interval_s} SECOND "
            f"ON COMPLETION PRESERVE DO UPDATE {self._table} SET ts = NOW(3) WHERE id = 1",
            # An existing event gets this interval and is switched on (it may have been disabled).
            f"ALTER EVENT {self._event} ON SCHEDULE EVERY {self.interval_s} SECOND ENABLE",
        ]

    def drop_statements(self) -> list[str]:
        return [f"DROP EVENT IF EXISTS {self._event}", f"DROP TABLE IF EXISTS {self._table}"]

    def disable_statement(self) -> str:
        return f"ALTER EVENT {self._event} DISABLE"
