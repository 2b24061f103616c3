"""Arrow batches in the target's terms, by an embedded ClickHouse (chdb): placement, checksum, Native.

Each batch is first converted to the target's column types (:func:`.mapping.cast_sql`), so
that the values hashed, the sharding key computed and the blocks sent are the values the
target stores. Per batch: the shard of each row (the Distributed table's key, reproduced),
the rows and checksum per shard (:mod:`.checksum`), and the Native blocks for a shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_rtp.clickhouse.checksum import MASK, row_hash
from airflow_provider_rtp.clickhouse.mapping import SourceColumn, cast_sql
from airflow_provider_rtp.clickhouse.sharding import shard_indexes
from airflow_provider_rtp.clickhouse.sql import quote_identifier
from airflow_provider_rtp.clickhouse.target import Target
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError

__all__ = ["BatchEncoder", "add_sums"]


def add_sums(total: list[tuple[int, int]], more: Sequence[tuple[int, int]]) -> None:
    """``total[i] += more[i]`` for (rows, checksum) pairs, checksums modulo 2**64."""
    for i, (rows, checksum) in enumerate(more):
        total[i] = (total[i][0] + rows, (total[i][1] + checksum) & MASK)


def _sums(shards: Any, hashes: Any, count: int) -> list[tuple[int, int]]:
    """Per shard index: (rows, sum of hashes modulo 2**64; Arrow's unchecked sum wraps like ClickHouse's)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hashes = hashes.combine_chunks() if isinstance(hashes, pa.ChunkedArray) else hashes
    out = []
    for i in range(count):
        mine = pc.filter(hashes, pc.equal(shards, i)) if count > 1 else hashes
        out.append((len(mine), int(pc.sum(mine).as_py() or 0)))
    return out


class BatchEncoder:
    """One chdb session turning batches of ``pairs`` (source column, target type) into ``target``'s terms.

    Unless the target's placement is reproduced here (:attr:`.Target.placed_here`), every row
    counts for shard index 0, and ClickHouse places the rows.
    """

    def __init__(self, target: Target, pairs: Sequence[tuple[SourceColumn, str]]):
        self.target = target
        self.shard_count = len(target.shards)
        self.row_hash = row_hash(target.columns)
        casts = ", ".join(
            f"{cast_sql(s, t, quote_identifier(s.name))} AS {quote_identifier(s.name)}" for s, t in pairs
        )
        # chdb's Python() table function reads the local variable named in the SQL; a column of
        # the same name would shadow it, hence a name no table is expected to use.
        self._selected = f"SELECT {casts} FROM Python(rtp_batch__)"
        # One thread: chdb reads a large Arrow batch in parallel and returns its rows in another
        # order, and the shards measured must line up with the batch's rows.
        self._settings = " SETTINGS max_threads = 1"
        key = target.key.value_sql() if target.key is not None and self.shard_count > 1 else None
        self._measure = (
            f"SELECT {self.row_hash.sql} AS h{f', {key} AS k' if key else ''} FROM ({self._selected})"
        )
        try:
            import chdb
        except ImportError as exc:
            raise ClickHouseError(
                "loading into ClickHouse needs the chdb package "
                "(pip install 'airflow-provider-rtp[lake-read]')"
            ) from exc
        self._conn = chdb.connect(":memory:")

    def __enter__(self) -> BatchEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def measure(self, batch: Any) -> tuple[Any, list[tuple[int, int]]]:
        """The shard index of each row (int32 Arrow array) and (rows, checksum) per shard index."""
        import pyarrow as pa

        if "rtp_batch__" in batch.schema.names:
            raise InvalidInputError("the source has a column named rtp_batch__, which the load uses")
        rtp_batch__ = batch  # noqa: F841 - read by Python(rtp_batch__)
        measured = pa.ipc.open_stream(
            self._conn.query(self._measure + self._settings, "ArrowStream").bytes()
        ).read_all()
        if self.target.placed_here and self.shard_count > 1:
            assert self.target.key is not None and self.target.cluster is not None
            shards = shard_indexes(measured.column("k"), self.target.key.value_type, self.target.cluster)
        else:
            shards = pa.repeat(pa.scalar(0, pa.int32()), batch.num_rows)
        return shards, _sums(shards, measured.column("h"), self.shard_count if self.target.placed_here else 1)

    def native(self, batch: Any, shards: Any = None, shard: int | None = None) -> bytes:
        """Native blocks of the batch's rows in the target's types: all, or those of ``shard``
        (split off in Arrow first, so each row is converted once)."""
        import pyarrow.compute as pc

        if shard is not None:
            batch = batch.filter(pc.equal(shards, shard))
        rtp_batch__ = batch  # noqa: F841 - read by Python(rtp_batch__)
        return bytes(self._conn.query(self._selected + self._settings, "Native").bytes())
