"""Which files a table's metadata reaches: shared by snapshot expiry and orphan cleanup.

A snapshot reaches its manifest list, the manifests listed there and the data and delete
files those manifests hold as live (added or existing). A file a manifest marks deleted is
reached only through the snapshots that still hold it live: once they are all gone, nothing
reads it. Metadata files reached are the current one, the metadata log, statistics files and
``version-hint.text``.

Paths are compared in one form (:func:`normalize`): Java writes ``file:/x``, Python lists ``/x``;
S3 listings name ``bucket/key``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ReachableFiles", "metadata_files", "normalize", "reachable_files", "snapshot_files"]

_SCHEMES = ("s3://", "s3a://", "s3n://", "gs://", "abfs://", "abfss://", "hdfs://", "oss://")


def normalize(path: str) -> str:
    """One spelling per file: ``file:/x``, ``file:///x`` and ``/x`` alike; ``s3://b/k`` as ``b/k``."""
    if path.startswith("file://"):
        return path.removeprefix("file://")
    if path.startswith("file:/"):
        return path.removeprefix("file:")
    for scheme in _SCHEMES:
        if path.startswith(scheme):
            return path.removeprefix(scheme)
    return path


@dataclass(frozen=True)
class ReachableFiles:
    """Normalized paths, by kind."""

    manifest_lists: frozenset[str] = frozenset()
    manifests: frozenset[str] = frozenset()
    content_files: frozenset[str] = frozenset()  # data and delete files
    metadata: frozenset[str] = frozenset()

    def all(self) -> frozenset[str]:
        return self.manifest_lists | self.manifests | self.content_files | self.metadata

    def __sub__(self, other: ReachableFiles) -> ReachableFiles:
        """What only ``self`` reaches (metadata files are never subtracted into a deletion)."""
        keep = other.all()
        return ReachableFiles(
            self.manifest_lists - keep,
            self.manifests - keep,
            self.content_files - keep,
            frozenset(),
        )

    def count(self) -> int:
        return len(self.all())


class _ManifestCache:
    """Manifests are shared by thousands of snapshots: each is read once per run."""

    def __init__(self, io: Any) -> None:
        self.io = io
        self.files: dict[str, frozenset[str]] = {}

    def content(self, manifest: Any) -> frozenset[str]:
        path = normalize(manifest.manifest_path)
        found = self.files.get(path)
        if found is None:
            entries = manifest.fetch_manifest_entry(self.io, discard_deleted=True)
            found = frozenset(normalize(e.data_file.file_path) for e in entries)
            self.files[path] = found
        return found


def snapshot_files(io: Any, snapshots: Iterable[Any], cache: _ManifestCache | None = None) -> ReachableFiles:
    """The files ``snapshots`` (pyiceberg ``Snapshot``) reach, read through ``io``."""
    cache = cache or _ManifestCache(io)
    lists: set[str] = set()
    manifests: set[str] = set()
    content: set[str] = set()
    for snap in snapshots:
        if snap.manifest_list:
            lists.add(normalize(snap.manifest_list))
        for manifest in snap.manifests(io):
            path = normalize(manifest.manifest_path)
            if path not in manifests:
                manifests.add(path)
                content |= cache.content(manifest)
    return ReachableFiles(frozenset(lists), frozenset(manifests), frozenset(content))


def metadata_files(metadata: Any, metadata_location: str | None) -> frozenset[str]:
    """Current and logged metadata files, statistics files and the Hadoop version hint."""
    found = {normalize(e.metadata_file) for e in metadata.metadata_log}
    if metadata_location:
        found.add(normalize(metadata_location))
    found.update(normalize(s.statistics_path) for s in metadata.statistics)
    found.update(normalize(s.statistics_path) for s in metadata.partition_statistics)
    found.add(normalize(f"{metadata.location.rstrip('/')}/metadata/version-hint.text"))
    return frozenset(found)


def reachable_files(table: Any, cache: _ManifestCache | None = None) -> ReachableFiles:
    """Everything a pyiceberg ``Table`` reaches: every snapshot's files plus its metadata files."""
    snaps = snapshot_files(table.io, table.metadata.snapshots, cache)
    return ReachableFiles(
        snaps.manifest_lists,
        snaps.manifests,
        snaps.content_files,
        metadata_files(table.metadata, table.metadata_location),
    )


def manifest_cache(io: Any) -> _ManifestCache:
    """A cache to share between reachability runs over the same table."""
    return _ManifestCache(io)
