"""ClickHouse SQL text from values: identifiers and string literals, whatever characters they hold.

One quoting for every statement the provider writes (a sharding key's casts, a chdb read of an
Iceberg window, an insert's column list): a hostile name stays one name.
"""

from __future__ import annotations

__all__ = ["quote_identifier", "quote_string"]

_ESCAPES = {"\\": "\\\\", "\0": "\\0", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NAME_ESCAPES = str.maketrans({**_ESCAPES, "`": "\\`"})
_STRING_ESCAPES = str.maketrans({**_ESCAPES, "'": "\\'"})


def quote_identifier(name: str) -> str:
    """``name`` backquoted for ClickHouse SQL."""
    return f"`{name.translate(_NAME_ESCAPES)}`"


def quote_string(value: str) -> str:
    """``value`` as a single-quoted ClickHouse string literal."""
    return f"'{value.translate(_STRING_ESCAPES)}'"
