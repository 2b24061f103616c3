"""Where an Iceberg table is: a catalog identifier or a metadata location (Hadoop layout)."""

from __future__ import annotations

import re

__all__ = ["is_metadata_location", "local_location"]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


def is_metadata_location(identifier: str) -> bool:
    """A path or URI (a Hadoop-layout table) rather than ``namespace.table``."""
    return bool(_URI.match(identifier)) or identifier.startswith("/")


def local_location(location: str) -> str:
    """Java writes local locations as ``file:/path``, which Python's FileIO reads as a path."""
    if location.startswith("file:/") and not location.startswith("file://"):
        return location.removeprefix("file:")
    return location
