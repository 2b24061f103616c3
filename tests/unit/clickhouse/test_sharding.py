"""Distributed engines, sharding keys and row placement, checked against ClickHouse itself (chdb).

The cross-checks need chdb: the embedded ClickHouse evaluates value_sql(), computes the slot
in SQL of its own, and, in a child process with a cluster in its config, inserts the rows into
real Distributed tables and says which shard's queue each row went to.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_rtp.clickhouse.sharding import (
    DistributedEngine,
    ShardingKey,
    UnreproducibleShardingKeyError,
    parse_distributed_engine,
    quote_identifier,
    shard_indexes,
)
from airflow_provider_rtp.clickhouse.topology import Cluster, Replica, Shard
from airflow_provider_rtp.exceptions import InvalidInputError

# Weights 3, 0, 5, 2, 1: total 11, so a negative Int8/Int16 key widened to 32 bits (as ClickHouse
# does) lands elsewhere than one taken at its own width: 2^32 - 2^8 and 2^32 - 2^16 are not multiples of 11.
WEIGHTS = (3, 0, 5, 2, 1)
CLUSTER = Cluster(
    "main",
    tuple(Shard(n, w, (Replica(f"192.0.2.{n}", 1),)) for n, w in enumerate(WEIGHTS, 1)),
)

COLUMNS = {
    "id": "UInt32",
    "i8": "Int8",
    "i16": "Int16",
    "i32": "Int32",
    "i64": "Int64",
    "u8": "UInt8",
    "u16": "UInt16",
    "u32": "UInt32",
    "u64": "UInt64",
    "s": "String",
    "fs": "FixedString(5)",
    "d": "Date",
    "dt": "DateTime",
    "dtz": "DateTime('Asia/Kolkata')",
}
KEYS = [
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "cityHash64(s, i32)",
    "sipHash64(fs, d) % 7",
    "intHash32(dt)",
    "murmurHash3_64(u16, i64)",
    "intHash64(i16)",
    "murmurHash2_64(s)",
    "cityHash64(`dtz`, i8)",
]


# --- engine_full ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine_full", "expected"),
    [
        ("Distributed('c', 'db', 't', cityHash64(id))", DistributedEngine("c", "db", "t", "cityHash64(id)")),
        ("Distributed(c, db, t, id)", DistributedEngine("c", "db", "t", "id")),
        ("Distributed(c, db, t)", DistributedEngine("c", "db", "t", None)),
        (  # as ClickHouse 26 shows it
            "Distributed('three', 'd', 'local', k) SETTINGS background_insert_sleep_time_ms = 1000000, "
            "background_insert_max_sleep_time_ms = 1000000",
            DistributedEngine("three", "d", "local", "k"),
        ),
        (
            "Distributed('my,cluster', 'd(b)', 'it''s', sipHash64(a, `b,c)`) % 4, 'hot')",
            DistributedEngine("my,cluster", "d(b)", "it's", "sipHash64(a, `b,c)`) % 4", "hot"),
        ),
        (
            r"Distributed(`c\`1`, currentDatabase(), 'it\'s', arrayElement([1, 2], x))",
            DistributedEngine("c`1", None, "it's", "arrayElement([1, 2], x)"),
        ),
        (
            'Distributed("c", "db", "t",  cityHash64(a, b)  ) settings x = 1',
            DistributedEngine("c", "db", "t", "cityHash64(a, b)"),
        ),
    ],
)
def test_engine_full_is_read(engine_full: str, expected: DistributedEngine) -> None:
    assert parse_distributed_engine(engine_full) == expected


def test_current_database_is_left_to_the_caller() -> None:
    engine = parse_distributed_engine("Distributed(c, currentDatabase(), t, rand())")
    assert engine.database is None
    assert engine.remote_database("analytics") == "analytics"
    assert parse_distributed_engine("Distributed(c, db, t)").remote_database("analytics") == "db"


@pytest.mark.parametrize(
    ("engine_full", "message"),
    [
        ("MergeTree ORDER BY id", "is not a Distributed engine"),
        ("Distributed(c, db)", "has 2 arguments"),
        ("Distributed(c, db, t, k, p, x)", "has 6 arguments"),
        ("Distributed(c, , t)", "argument 2 is empty"),
        ("Distributed(c, db, t, cityHash64(id)", "bracket at 11 is not closed"),
        ("Distributed('c, db, t)", "quote at 12 is not closed"),
        ("Distributed(getMacro('cluster'), db, t)", "the cluster \"getMacro\\('cluster'\\)\" is not a name"),
        ("Distributed(c, db, t) PARTITION BY x", "'PARTITION BY x' follows"),
    ],
)
def test_engines_that_are_refused(engine_full: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_distributed_engine(engine_full)
    assert repr(engine_full) in str(caught.value)


# --- the key's grammar ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "columns", "value_type", "sql"),
    [
        ("i64", ("i64",), "Int64", "CAST(`i64` AS Int64)"),
        ("`u8`", ("u8",), "UInt8", "CAST(`u8` AS UInt8)"),
        (
            "cityHash64(s, i32, s)",
            ("s", "i32"),
            "UInt64",
            "cityHash64(CAST(`s` AS String), CAST(`i32` AS Int32), CAST(`s` AS String))",
        ),
        ("intHash32(d) % 7", ("d",), "UInt64", "toUInt64(modulo(intHash32(CAST(`d` AS Date)), 7))"),
        ("modulo(u32, 10)", ("u32",), "UInt64", "toUInt64(modulo(CAST(`u32` AS UInt32), 10))"),
        (
            "((sipHash64(fs)) % 8) % 3",
            ("fs",),
            "UInt64",
            "toUInt64(modulo(toUInt64(modulo(sipHash64(CAST(`fs` AS FixedString(5))), 8)), 3))",
        ),
        ("intHash64(i8)", ("i8",), "UInt64", "intHash64(CAST(`i8` AS Int8))"),
        ("intHash32(dtz)", ("dtz",), "UInt32", "intHash32(CAST(`dtz` AS DateTime('Asia/Kolkata')))"),
        ('murmurHash2_64("s")', ("s",), "UInt64", "murmurHash2_64(CAST(`s` AS String))"),
    ],
)
def test_keys_that_are_reproduced(expression: str, columns: tuple, value_type: str, sql: str) -> None:
    key = ShardingKey.parse(expression, COLUMNS)
    assert (key.columns, key.value_type, key.value_sql()) == (columns, value_type, sql)


TYPED = {
    **COLUMNS,
    "f": "Float64",
    "n": "Nullable(Int64)",
    "lc": "LowCardinality(String)",
    "dec": "Decimal(18, 2)",
    "e": "Enum8('a' = 1)",
    "uuid": "UUID",
    "dt64": "DateTime64(3)",
}


@pytest.mark.parametrize(
    ("expression", "part", "reason"),
    [
        ("rand()", "rand()", "is random"),
        ("rand() % 2", "rand()", "is random"),
        ("toYYYYMM(d)", "toYYYYMM(d)", "clock or time zone"),
        ("now()", "now()", "clock or time zone"),
        ("xxHash64(s)", "xxHash64(s)", "does not exist in ClickHouse 18.16"),
        ("javaHash(s)", "javaHash(s)", "does not exist in ClickHouse 18.16"),
        ("halfMD5(s)", "halfMD5(s)", "is not supported"),
        ("cityHash64(toString(i64))", "toString(i64)", "is not a column"),
        ("cityHash64(i64, 'salt')", "'salt'", "is not a column"),
        ("cityHash64()", "cityHash64()", "hashes no column"),
        ("intHash64(i8, i16)", "intHash64(i8, i16)", "takes one argument"),
        ("intHash64(s)", "s", "intHash64 takes a number"),
        ("i64 + 1", "+ 1", "operator '+'"),
        ("-i64", "-", "is not understood"),
        ("1", "1", "is a constant"),
        ("missing", "missing", "is not a column of the Distributed table"),
        ("cityHash64(missing)", "missing", "is not a column of the Distributed table"),
        ("t.i64", "t.i64", "compound name"),
        ("s", "s", "not an integer"),
        ("d", "d", "not an integer"),
        ("i64 % 4", "i64 % 4", "signed Int64"),
        ("modulo(i8, 4)", "modulo(i8, 4)", "signed Int8"),
        ("cityHash64(s) % 0", "0", "not a divisor"),
        ("cityHash64(s) % 4.5", "4.5", "not a divisor"),
        ("cityHash64(s) % 18446744073709551616", "18446744073709551616", "not a divisor"),
        ("cityHash64(f)", "f", "float's bits"),
        ("cityHash64(n)", "n", "NULL"),
        ("n", "n", "NULL"),
        ("cityHash64(lc)", "lc", "dictionary encoding"),
        ("sipHash64(dec)", "dec", "cannot hash it"),
        ("cityHash64(e)", "e", "number of its name"),
        ("cityHash64(uuid)", "uuid", "not a type hashed alike"),
        ("cityHash64(dt64)", "dt64", "not a type hashed alike"),
        ("cityHash64(s", "cityHash64(s", "is malformed"),
        ("cityHash64(s))", ")", "is not understood"),
        ("", "", "is empty"),
    ],
)
def test_keys_that_are_refused_name_the_key_and_the_part(expression: str, part: str, reason: str) -> None:
    with pytest.raises(UnreproducibleShardingKeyError) as caught:
        ShardingKey.parse(expression, TYPED)
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert (error.expression, error.part) == (expression, part)
    assert reason in error.reason
    assert repr(expression) in str(error) and repr(part) in str(error)


HOSTILE = "a`) AS x, rand() --\\\n"


def test_hostile_names_stay_inside_their_quotes() -> None:
    assert quote_identifier("a`b\\c") == "`a\\`b\\\\c`"
    key = ShardingKey.parse(f"cityHash64({quote_identifier(HOSTILE)})", {HOSTILE: "String"})
    assert key.columns == (HOSTILE,)
    assert key.value_sql() == "cityHash64(CAST(`a\\`) AS x, rand() --\\\\\\n` AS String))"
    # A type comes from what was parsed, never from the text given.
    with pytest.raises(UnreproducibleShardingKeyError):
        ShardingKey.parse("dt", {"dt": "DateTime('UTC') AS x, rand()"})


# --- placement -----------------------------------------------------------------------------


def _slot_shard(unsigned: int) -> int:
    return CLUSTER.slot_to_shard[unsigned % CLUSTER.total_weight]


def test_unsigned_values_go_to_the_slot_of_their_remainder() -> None:
    values = [0, 1, 2, 3, 10, 11, 12, 2**64 - 1, 2**63]
    got = shard_indexes(pa.array(values, pa.uint64()), "UInt64", CLUSTER)
    assert got.type == pa.int32()
    assert got.to_pylist() == [_slot_shard(v) for v in values]
    assert 1 not in got.to_pylist()  # weight 0
    assert shard_indexes(pa.array([3, 8], pa.uint8()), "UInt8", CLUSTER).to_pylist() == [2, 3]


@pytest.mark.parametrize(
    ("value_type", "arrow_type", "bits"),
    [
        ("Int8", pa.int8(), 32),
        ("Int16", pa.int16(), 32),
        ("Int32", pa.int32(), 32),
        ("Int64", pa.int64(), 64),
    ],
)
def test_negative_keys_are_widened_to_32_or_64_bits(
    value_type: str, arrow_type: pa.DataType, bits: int
) -> None:
    low = -(2 ** (arrow_type.bit_width - 1))
    values = [-1, -2, low, low + 1, 0, 1, -(2 ** (arrow_type.bit_width - 1) - 1) // 3]
    got = shard_indexes(pa.array(values, arrow_type), value_type, CLUSTER).to_pylist()
    assert got == [_slot_shard(v % 2**bits) for v in values]
    if bits == 32 and arrow_type.bit_width < 32:  # not the unsigned type of the key's own width
        own_width = [_slot_shard(v % 2**arrow_type.bit_width) for v in values]
        assert got != own_width


def test_chunked_sliced_and_empty_inputs() -> None:
    chunked = pa.chunked_array([pa.array([-1, 5], pa.int64()), pa.array([-7], pa.int64())])
    assert shard_indexes(chunked, "Int64", CLUSTER).to_pylist() == [
        _slot_shard(v % 2**64) for v in (-1, 5, -7)
    ]
    sliced = pa.array([9, -3, -4], pa.int16()).slice(1)
    assert shard_indexes(sliced, "Int16", CLUSTER).to_pylist() == [_slot_shard(v % 2**32) for v in (-3, -4)]
    assert len(shard_indexes(pa.chunked_array([], pa.uint64()), "UInt64", CLUSTER)) == 0


@pytest.mark.parametrize(
    ("values", "value_type", "message"),
    [
        (pa.array([1, None, 3], pa.uint64()), "UInt64", "1 of 3 sharding key values are NULL"),
        (pa.array([1], pa.int64()), "UInt64", "are int64, not uint64"),
        (pa.array([1], pa.uint64()), "Float64", "'Float64' is not an integer type"),
    ],
)
def test_values_that_cannot_be_placed(values: pa.Array, value_type: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        shard_indexes(values, value_type, CLUSTER)


def test_ten_million_rows_are_placed_in_vectorised_time() -> None:
    import time

    values = pa.array(range(10_000_000), pa.int64())
    started = time.perf_counter()
    got = shard_indexes(values, "Int64", CLUSTER)
    elapsed = time.perf_counter() - started
    assert got[12345].as_py() == _slot_shard(12345)
    assert elapsed < 3  # about 0.05 s; a loop in Python would take many seconds


# --- against ClickHouse (chdb) -------------------------------------------------------------


def _rows(n: int, seed: int = 20261205) -> pa.Table:
    """Random rows in the types a lake read yields (not the Distributed table's): CAST does the rest."""
    rng = random.Random(seed)

    def ints(bits: int, signed: bool) -> list[int]:
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        edges = [low, high, low + 1, high - 1, 0, 1] + ([-1, -2] if signed else [2])
        return edges + [
            rng.choice([rng.randint(low, high), rng.randint(max(low, -300), min(high, 300))])
            for _ in range(n)
        ]

    def blob(most: int) -> bytes:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(most + 1)))

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    seconds = [0, 2**32 - 1] + [rng.randrange(2**32) for _ in range(n - 2)]
    return pa.table(
        {
            "id": pa.array(range(n), pa.uint32()),
            **{f"i{b}": pa.array(ints(b, True)[:n], pa.int64()) for b in (8, 16, 32, 64)},
            **{f"u{b}": pa.array(ints(b, False)[:n], pa.uint64()) for b in (8, 16, 32, 64)},
            "s": pa.array([blob(40) for _ in range(n)], pa.binary()),
            "fs": pa.array([blob(5) for _ in range(n)], pa.binary()),
            "d": pa.array([dt.date(1970, 1, 1) + dt.timedelta(days=rng.randrange(65536)) for _ in range(n)]),
            "dt": pa.array([epoch + dt.timedelta(seconds=s) for s in seconds], pa.timestamp("s", "UTC")),
            "dtz": pa.array([epoch + dt.timedelta(seconds=s) for s in seconds], pa.timestamp("s", "UTC")),
        }
    )


@pytest.fixture(scope="module")
def lake_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("rows") / "rows.parquet"
    pq.write_table(_rows(3000), path)
    return str(path)


def _query(sql: str) -> pa.Table:
    chdb = pytest.importorskip("chdb")
    return chdb.query(sql, "ArrowTable")


def _unsigned_sql(value: str, value_type: str) -> str:
    """The key as createBlockSelector divides it, in SQL: UInt32 up to 32 bits, UInt64 beyond."""
    if value_type in ("Int64", "UInt64"):
        return f"reinterpretAsUInt64({value})"
    return f"toUInt64(toUInt32({value}))"  # toUInt32 of a negative number wraps, as C++'s cast does


@pytest.mark.parametrize("expression", KEYS)
def test_placement_matches_clickhouse_arithmetic(lake_file: str, expression: str) -> None:
    key = ShardingKey.parse(expression, COLUMNS)
    slots = f"[{', '.join(map(str, CLUSTER.slot_to_shard))}]"
    slot = f"{_unsigned_sql('v', key.value_type)} % {CLUSTER.total_weight}"
    table = _query(
        f"SELECT id, v, arrayElement({slots}, {slot} + 1) AS shard"
        f" FROM (SELECT id, {key.value_sql()} AS v FROM file('{lake_file}', Parquet)) ORDER BY id"
    )
    assert table.num_rows == 3000
    got = shard_indexes(table["v"], key.value_type, CLUSTER).to_pylist()
    assert got == table["shard"].to_pylist()
    assert 1 not in got  # the shard of weight 0
    if "%" not in expression:
        assert set(got) == {0, 2, 3, 4}


def test_value_sql_hashes_like_clickhouse_on_typed_columns(lake_file: str) -> None:
    """cityHash64(a, b) over the read columns CAST equals cityHash64 over columns of those types."""
    key = ShardingKey.parse("cityHash64(i32, s, fs, dtz)", COLUMNS)
    structure = ", ".join(f"{quote_identifier(c)} {t}" for c, t in COLUMNS.items()).replace("'", "\\'")
    ours = _query(f"SELECT id, {key.value_sql()} AS v FROM file('{lake_file}', Parquet) ORDER BY id")
    typed = _query(
        f"SELECT id, cityHash64(i32, s, fs, dtz) AS v"
        f" FROM file('{lake_file}', Parquet, '{structure}') ORDER BY id"
    )
    assert ours["v"].to_pylist() == typed["v"].to_pylist()
    assert ours.schema.field("v").type == pa.uint64()


_M64 = 2**64 - 1


def _int_hash64(x: int) -> int:
    """IntHash64Impl::apply of 18.16's FunctionsHashing.h: Murmur's finalizer after a fixed xor."""
    x ^= 0x4CF2D2BAAE6DA887
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        x ^= x >> 33
        x = (x * multiplier) & _M64
    return x ^ (x >> 33)


def _int_hash32(key: int) -> int:
    """IntHash32Impl::apply of 18.16 (Hash.h's intHash32 with the salt 0x75D9543DE018BF45)."""
    key ^= 0x75D9543DE018BF45
    key = ((~key) + (key << 18)) & _M64
    key ^= (key >> 31) | ((key << 33) & _M64)
    key = (key * 21) & _M64
    key ^= (key >> 11) | ((key << 53) & _M64)
    key = (key + (key << 6)) & _M64
    key ^= (key >> 22) | ((key << 42) & _M64)
    return key & 0xFFFFFFFF


def _hash128_to_64(low: int, high: int) -> int:
    """CityHash v1.0.2's Hash128to64: how cityHash64 combines its arguments' hashes in 18.16."""
    k = 0x9DDFEA08EB382D69
    a = ((low ^ high) * k) & _M64
    a ^= a >> 47
    b = ((high ^ a) * k) & _M64
    b ^= b >> 47
    return (b * k) & _M64


def test_clickhouse_hashes_as_18_16_does(lake_file: str) -> None:
    """Today's hashes of integers and of several arguments follow 18.16's code, row for row."""
    rows = _query(
        "SELECT i8, i16, i64, u16, cityHash64(CAST(i8 AS Int8)) AS city8,"
        " cityHash64(CAST(i64 AS Int64)) AS city64,"
        " intHash64(CAST(i8 AS Int8)) AS int64_8, intHash32(CAST(i16 AS Int16)) AS int32_16,"
        " cityHash64(CAST(d AS Date)) AS city_d, toUInt16(CAST(d AS Date)) AS days,"
        " cityHash64(CAST(s AS String)) AS hs, cityHash64(CAST(i32 AS Int32)) AS hi,"
        " cityHash64(CAST(s AS String), CAST(i32 AS Int32)) AS city2,"
        " murmurHash3_64(CAST(u16 AS UInt16)) AS m1, murmurHash3_64(CAST(i64 AS Int64)) AS m2,"
        " murmurHash3_64(CAST(u16 AS UInt16), CAST(i64 AS Int64)) AS murmur2,"
        " sipHash64(CAST(fs AS FixedString(5)), CAST(d AS Date)) AS sip2,"
        " sipHash64(concat(reinterpretAsFixedString(sipHash64(CAST(fs AS FixedString(5)))),"
        "   reinterpretAsFixedString(sipHash64(CAST(d AS Date))))) AS sip_of_both"
        f" FROM file('{lake_file}', Parquet)"
    ).to_pylist()
    for r in rows:
        assert r["city8"] == _int_hash64(r["i8"] % 2**8)  # the key's bytes, zero-extended
        assert r["city64"] == _int_hash64(r["i64"] % 2**64)
        assert r["int64_8"] == _int_hash64(r["i8"] % 2**64)  # intHash64 converts: sign-extended
        assert r["int32_16"] == _int_hash32(r["i16"] % 2**64)
        assert r["city_d"] == _int_hash64(r["days"])
        assert r["city2"] == _hash128_to_64(r["hs"], r["hi"])
        assert r["murmur2"] == _int_hash64(r["m1"]) ^ r["m2"]
        assert r["sip2"] == r["sip_of_both"]


def test_string_hashes_are_the_reference_algorithms() -> None:
    """CityHash v1.0.2, SipHash-2-4, MurmurHash64A, MurmurHash3_x64_128 (h1 ^ h2), as 18.16 bundles
    them: values from implementations outside ClickHouse (clickhouse-cityhash, mmh3, a SipHash)."""
    expected = {
        "": (11160318154034397263, 2202906307356721367, 0, 0),
        "ClickHouse": (12904064065176299341, 13243501578836323214, 5089175333520975561, 12544855628352084288),
    }
    for text, hashes in expected.items():
        row = _query(
            f"SELECT cityHash64('{text}') AS a, sipHash64('{text}') AS b,"
            f" murmurHash2_64('{text}') AS c, murmurHash3_64('{text}') AS d"
        ).to_pylist()[0]
        assert tuple(row.values()) == hashes


def test_hostile_column_names_work_in_clickhouse(tmp_path: Path) -> None:
    path = tmp_path / "hostile.parquet"
    pq.write_table(pa.table({HOSTILE: pa.array([-1, 7], pa.int64())}), path)
    key = ShardingKey.parse(quote_identifier(HOSTILE), {HOSTILE: "Int16"})
    table = _query(f"SELECT {key.value_sql()} AS v FROM file('{path}', Parquet)")
    assert table.column_names == ["v"]
    assert table["v"].to_pylist() == [-1, 7]
    assert table.schema.field("v").type == pa.int16()


# A child process: a cluster exists only in the config an embedded ClickHouse starts with. Rows go
# into real Distributed tables queued for shards at unroutable addresses (192.0.2.x, port 1, never
# contacted), and each shard's queue is read back: ClickHouse's own placement.
_DISTRIBUTE = r"""
import glob, json, os, re, sys
import chdb

work, parquet, columns, weights, keys = sys.argv[1], sys.argv[2], *map(json.loads, sys.argv[3:6])
shards = "".join(
    f"<shard><weight>{w}</weight><replica><host>192.0.2.{n}</host><port>1</port></replica></shard>"
    for n, w in enumerate(weights, 1)
)
with open(f"{work}/config.xml", "w") as f:
    f.write(f"<clickhouse><remote_servers><main>{shards}</main></remote_servers></clickhouse>")
connection = chdb.connect(f"file:{work}/db?config-file={work}/config.xml")
structure = ", ".join(f"`{c}` {t}" for c, t in columns.items())
cast = ", ".join(f"CAST(`{c}` AS {t})" for c, t in columns.items())
placed = {}
connection.query("CREATE DATABASE d")
for i, key in enumerate(keys):
    connection.query(
        f"CREATE TABLE d.t{i} ({structure}) ENGINE = Distributed(main, d, local, {key})"
        " SETTINGS flush_on_detach = 0, background_insert_sleep_time_ms = 3600000,"
        " background_insert_max_sleep_time_ms = 3600000"
    )
    connection.query(
        f"INSERT INTO d.t{i} SETTINGS distributed_foreground_insert = 0, prefer_localhost_replica = 0,"
        " distributed_background_insert_sleep_time_ms = 3600000"
        f" SELECT {cast} FROM file('{parquet}', Parquet)"
    )
    placed[key] = {}
    for queue in glob.glob(f"{work}/db/data/d/t{i}/shard*_replica*"):
        shard = int(re.fullmatch(r"shard(\d+)_replica\d+", os.path.basename(queue))[1]) - 1
        # Every column: the Distributed format cannot read some of them only.
        rows = connection.query(f"SELECT * FROM file('{queue}/*.bin', 'Distributed')", "ArrowTable")
        for row_id in rows["id"].to_pylist():
            placed[key][row_id] = shard
print(json.dumps(placed), flush=True)
os._exit(0)  # no shutdown: nothing is ever sent
"""


def test_placement_matches_clickhouse_distributed_tables(lake_file: str, tmp_path: Path) -> None:
    pytest.importorskip("chdb")
    args = [json.dumps(COLUMNS), json.dumps(WEIGHTS), json.dumps(KEYS)]
    done = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTE, str(tmp_path), lake_file, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    placed = json.loads(done.stdout.strip().splitlines()[-1])
    for expression in KEYS:
        key = ShardingKey.parse(expression, COLUMNS)
        values = _query(f"SELECT id, {key.value_sql()} AS v FROM file('{lake_file}', Parquet) ORDER BY id")
        ours = shard_indexes(values["v"], key.value_type, CLUSTER).to_pylist()
        theirs = placed[expression]
        assert len(theirs) == 3000, expression
        assert ours == [theirs[str(i)] for i in values["id"].to_pylist()], expression
