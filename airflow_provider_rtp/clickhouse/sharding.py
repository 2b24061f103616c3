"""Which shard a Distributed table puts a row on, reproduced outside ClickHouse bit for bit.

ClickHouse evaluates the table's sharding key on every inserted row, with the Distributed
table's column types, and sends the row to ``slot_to_shard[unsigned(key) % total_weight]``
(:class:`.topology.Cluster`). ``unsigned`` is not the unsigned type of the key's width: the
row path of ``createBlockSelector`` (Interpreters/createBlockSelector.cpp, alike in 18.16 and
today) casts a key of 32 bits or less to UInt32 and a 64-bit key to UInt64, so a negative Int8
or Int16 key is sign-extended to 32 bits first: Int8 -1 is 4294967295 there, not 255.

The plan: :class:`ShardingKey` accepts only keys whose value ClickHouse 18.16 and the embedded
ClickHouse (chdb) that reads the rows compute alike, and renders one as SQL with each column
CAST to the Distributed table's type (a hash depends on the type: Int64 7 and UInt32 7 hash
differently). chdb evaluates that SQL beside the read; :func:`shard_indexes` maps the values
to shards. The rows written must be those CAST values, so that what was hashed is what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_rtp.clickhouse.sql import quote_identifier
from airflow_provider_rtp.clickhouse.topology import Cluster
from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "DistributedEngine",
    "ShardingKey",
    "UnreproducibleShardingKeyError",
    "parse_distributed_engine",
    "quote_identifier",
    "shard_indexes",
]


class UnreproducibleShardingKeyError(InvalidInputError):
    """The sharding key cannot be computed outside ClickHouse with certainty; names the part and why."""

    def __init__(self, expression: str, part: str, reason: str):
        super().__init__(
            f"sharding key {expression!r} cannot be reproduced outside ClickHouse: {part!r} {reason}"
        )
        self.expression = expression
        self.part = part
        self.reason = reason


# --- tokens: enough of ClickHouse's lexer to split engine arguments and read a key ---------


class _Malformed(Exception):
    """Unbalanced quotes or brackets; the caller names the text."""


@dataclass(frozen=True)
class _Token:
    kind: str  # name | quoted (`x` or "x") | string ('x') | number | punct
    value: str  # unquoted and unescaped for quoted and string; the text otherwise
    start: int
    end: int


_ESCAPES = {
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "0": "\0",
    "a": "\a",
    "v": "\v",
    "e": "\x1b",
}
_OPEN, _CLOSE = "([{", ")]}"
_OPERATORS = "+-*/%<>=!&|^?:"


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        start = i
        if c.isascii() and (c.isalpha() or c == "_"):
            while i < len(text) and text[i].isascii() and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(_Token("name", text[start:i], start, i))
        elif c.isascii() and c.isdigit():
            while i < len(text) and text[i].isascii() and (text[i].isalnum() or text[i] in "._"):
                i += 1
            tokens.append(_Token("number", text[start:i], start, i))
        elif c in "'`\"":
            value, i = _read_quoted(text, i)
            tokens.append(_Token("string" if c == "'" else "quoted", value, start, i))
        else:
            i += 1
            tokens.append(_Token("punct", c, start, i))
    return tokens


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The value of the quoted token at ``i`` and the index after it (backslash escapes, doubled quotes)."""
    quote, j, out = text[i], i + 1, []
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[j + 2 : j + 4]):
                out.append(chr(int(text[j + 2 : j + 4], 16)))
                j += 4
                continue
            # ClickHouse keeps the backslash of an escape it does not know.
            out.append(_ESCAPES.get(nxt, nxt if nxt in "\\'\"`" else "\\" + nxt))
            j += 2
        elif c == quote and text[j + 1 : j + 2] == quote:
            out.append(quote)
            j += 2
        elif c == quote:
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    raise _Malformed(f"the quote at {i} is not closed")


def _closing(tokens: list[_Token], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.kind == "punct" and t.value in _OPEN:
            depth += 1
        elif t.kind == "punct" and t.value in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    raise _Malformed(f"the bracket at {tokens[i].start} is not closed")


def _arguments(tokens: list[_Token], open_at: int) -> tuple[list[list[_Token]], int]:
    """The top-level, comma-separated arguments of the call whose ``(`` is at ``open_at``."""
    close = _closing(tokens, open_at)
    args: list[list[_Token]] = [[]]
    depth = 0
    for t in tokens[open_at + 1 : close]:
        if t.kind == "punct" and t.value in _OPEN:
            depth += 1
        elif t.kind == "punct" and t.value in _CLOSE:
            depth -= 1
        if depth == 0 and t.kind == "punct" and t.value == ",":
            args.append([])
        else:
            args[-1].append(t)
    return ([] if args == [[]] else args), close + 1


# Backslash escapes for a backquoted name: no character of the name can end it.
# --- the engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributedEngine:
    """``Distributed(cluster, database, table[, sharding_key[, policy]])`` as ``engine_full`` shows it.

    ``database`` is None for ``currentDatabase()``: the Distributed table's own database, which
    the caller knows (:meth:`remote_database`). ``cluster`` is kept as written: a ``{macro}`` in
    it is the server's to expand.
    """

    cluster: str
    database: str | None
    table: str
    sharding_key: str | None = None
    policy: str | None = None

    def remote_database(self, current_database: str) -> str:
        return current_database if self.database is None else self.database


def parse_distributed_engine(engine_full: str) -> DistributedEngine:
    """Read ``system.tables.engine_full`` of a Distributed table (a ``SETTINGS`` clause may follow)."""
    what = f"engine {engine_full!r}"
    try:
        tokens = _tokens(engine_full)
        if len(tokens) < 2 or (tokens[0].kind, tokens[0].value, tokens[1].value) != (
            "name",
            "Distributed",
            "(",
        ):
            raise InvalidInputError(f"{what} is not a Distributed engine")
        args, after = _arguments(tokens, 1)
    except _Malformed as e:
        raise InvalidInputError(f"{what}: {e}") from None
    rest = tokens[after:]
    if rest and not (rest[0].kind == "name" and rest[0].value.upper() == "SETTINGS"):
        raise InvalidInputError(f"{what}: {engine_full[rest[0].start :]!r} follows the engine's arguments")
    if not 3 <= len(args) <= 5:
        raise InvalidInputError(
            f"{what} has {len(args)} arguments, not cluster, database, table[, sharding_key[, policy]]"
        )
    for number, arg in enumerate(args, 1):
        if not arg:
            raise InvalidInputError(f"{what}: argument {number} is empty")

    def name(arg: list[_Token], role: str) -> str:
        if len(arg) == 1 and arg[0].kind in ("name", "quoted", "string"):
            return arg[0].value
        text = engine_full[arg[0].start : arg[-1].end]
        raise InvalidInputError(f"{what}: the {role} {text!r} is not a name or a string")

    current = [t.value for t in args[1]] in (["currentDatabase", "(", ")"], ["current_database", "(", ")"])
    key = args[3] if len(args) > 3 else None
    return DistributedEngine(
        cluster=name(args[0], "cluster"),
        database=None if current else name(args[1], "database"),
        table=name(args[2], "table"),
        sharding_key=engine_full[key[0].start : key[-1].end] if key else None,
        policy=name(args[4], "storage policy") if len(args) > 4 else None,
    )


# --- column types whose hash is the same in 18.16 and today -------------------------------

_INTEGERS = {
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
}
_FIXED_STRING = re.compile(r"FixedString\(\s*([1-9][0-9]{0,8})\s*\)")
_DATETIME = re.compile(r"DateTime(?:\(\s*'([A-Za-z0-9_+\-/]+)'\s*\))?")
_SUPPORTED_TYPES = "integers, String, FixedString(N), Date, DateTime"
_TYPE_REFUSALS = (
    ("Nullable(", "a NULL would make the key NULL, which ClickHouse 18.16 cannot shard by"),
    (
        "LowCardinality(",
        "18.16 hashes it through its experimental dictionary encoding, not verified to match",
    ),
    ("Float", "its hash is the float's bits, which NaN payloads and -0.0 do not keep reliably"),
    ("Decimal", "ClickHouse 18.16 cannot hash it, and newer versions changed how they hash it"),
    ("Enum", "it hashes as the number of its name, and names are not mapped to numbers here"),
)


@dataclass(frozen=True)
class _Type:
    kind: str  # integer | string | date | datetime
    sql: str  # canonical: built from what was parsed, never the text given


def _column_type(type_name: str) -> _Type | str:
    """The column type, or why a hash of it cannot be trusted to match."""
    text = type_name.strip()
    if text in _INTEGERS:
        return _Type("integer", text)
    if text == "String":
        return _Type("string", text)
    if m := _FIXED_STRING.fullmatch(text):
        return _Type("string", f"FixedString({int(m[1])})")
    if text == "Date":
        return _Type("date", text)  # days since 1970 as UInt16, hashed as that number
    if m := _DATETIME.fullmatch(text):
        # Seconds since 1970 as UInt32, hashed as that number: the time zone only formats it.
        return _Type("datetime", f"DateTime('{m[1]}')" if m[1] else "DateTime")
    for prefix, reason in _TYPE_REFUSALS:
        if text.startswith(prefix):
            return reason
    return f"not a type hashed alike by ClickHouse 18.16 and today (those are: {_SUPPORTED_TYPES})"


# --- the key -----------------------------------------------------------------------------


class _Hash(NamedTuple):
    result: str
    single: bool  # one argument only (intHash*)
    kinds: frozenset[str]


_ANY = frozenset({"integer", "string", "date", "datetime"})
_NUMBERS = frozenset({"integer", "date", "datetime"})
# Verified against 18.16's FunctionsHashing.h and today's, and against chdb: same bytes hashed,
# same combination of several arguments (cityHash64: CityHash v1.0.2's Hash128to64; sipHash64:
# SipHash of both hashes; murmur: intHash64(h1) ^ h2), integers hashed by width, zero-extended.
_HASHES = {
    "cityHash64": _Hash("UInt64", False, _ANY),
    "sipHash64": _Hash("UInt64", False, _ANY),
    "murmurHash2_64": _Hash("UInt64", False, _ANY),
    "murmurHash3_64": _Hash("UInt64", False, _ANY),
    "intHash64": _Hash("UInt64", True, _NUMBERS),
    "intHash32": _Hash("UInt32", True, _NUMBERS),
}
_SUPPORTED = f"a column of an integer type, {', '.join(_HASHES)} of columns, and % N of an unsigned value"
_RANDOM = frozenset({"rand", "rand32", "rand64", "randConstant", "randCanonical", "generateUUIDv4"})
_NOT_IN_18_16 = frozenset(
    {
        "xxHash32",
        "xxHash64",
        "xxh3",
        "javaHash",
        "javaHashUTF16LE",
        "hiveHash",
        "farmFingerprint64",
        "wyHash64",
    }
)
_TIME = (
    *("now", "today", "yesterday", "timezone", "formatDateTime", "toDate", "toStartOf", "toYYYY", "toYear"),
    *("toQuarter", "toMonth", "toDay", "toHour", "toMinute", "toSecond", "toMonday", "toWeek", "toISO"),
    *("toRelative", "toUnix", "toTime"),
)


def _function_refusal(name: str) -> str:
    if name in _RANDOM:
        return "is random: a row's shard does not follow from its values"
    if name.startswith(_TIME):
        return "depends on the server's clock or time zone"
    if name in _NOT_IN_18_16:
        return "does not exist in ClickHouse 18.16"
    return f"is not supported (supported: {_SUPPORTED})"


@dataclass(frozen=True)
class _Column:
    name: str
    type: _Type
    span: tuple[int, int]

    def sql(self) -> str:
        return f"CAST({quote_identifier(self.name)} AS {self.type.sql})"


@dataclass(frozen=True)
class _Call:
    function: str
    args: tuple[_Column, ...]
    span: tuple[int, int]

    def sql(self) -> str:
        return f"{self.function}({', '.join(a.sql() for a in self.args)})"


@dataclass(frozen=True)
class _Modulo:
    inner: _Node
    divisor: int
    span: tuple[int, int]

    def sql(self) -> str:
        # Only of unsigned values: the result is value % divisor whatever its type (UInt8 for
        # `% 4` today), so it is widened to one type that holds every divisor.
        return f"toUInt64(modulo({self.inner.sql()}, {self.divisor}))"


_Node = _Column | _Call | _Modulo


def _value_type(node: _Node) -> str:
    if isinstance(node, _Call):
        return _HASHES[node.function].result
    if isinstance(node, _Modulo):
        return "UInt64"
    return node.type.sql  # an integer: the parser checks


class _KeyParser:
    """``key := term ['%' N]...``; ``term := column | hash(column, ...) | modulo(key, N) | (key)``."""

    def __init__(self, expression: str, columns: Mapping[str, str]):
        self.expression = expression
        self.columns = columns
        try:
            self.tokens = _tokens(expression)
        except _Malformed as e:
            raise self.refuse((0, len(expression)), f"is malformed: {e}") from None
        self.at = 0

    def refuse(self, span: tuple[int, int], reason: str) -> UnreproducibleShardingKeyError:
        return UnreproducibleShardingKeyError(self.expression, self.expression[span[0] : span[1]], reason)

    def peek(self, offset: int = 0) -> _Token | None:
        i = self.at + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, expected: str) -> _Token:
        t = self.peek()
        if t is None or t.kind != "punct" or t.value != expected:
            span = (t.start, len(self.expression)) if t else (0, len(self.expression))
            raise self.refuse(span, f"is not understood: {expected!r} expected")
        self.at += 1
        return t

    def parse(self) -> _Node:
        if not self.tokens:
            raise self.refuse((0, len(self.expression)), "is empty")
        node = self.key()
        if (t := self.peek()) is not None:
            operator = t.kind == "punct" and t.value in _OPERATORS
            reason = f"operator {t.value!r} is not supported" if operator else "is not understood"
            raise self.refuse((t.start, len(self.expression)), f"{reason} (supported: {_SUPPORTED})")
        return self.integer(node, "the sharding key")

    def key(self) -> _Node:
        node = self.term()
        while (t := self.peek()) is not None and t.kind == "punct" and t.value == "%":
            self.at += 1
            node = self.modulo(node, self.divisor())
        return node

    def term(self) -> _Node:
        t = self.peek()
        if t is None:
            raise self.refuse((len(self.expression), len(self.expression)), "ends too early")
        if t.kind == "punct" and t.value == "(":
            self.at += 1
            node = self.key()
            self.take(")")
            return node
        nxt = self.peek(1)
        if t.kind == "name" and nxt is not None and nxt.value == "(" and nxt.kind == "punct":
            return self.call(t)
        if t.kind in ("name", "quoted"):
            self.at += 1
            if (dot := self.peek()) is not None and dot.kind == "punct" and dot.value == ".":
                end = (self.peek(1) or dot).end
                raise self.refuse(
                    (t.start, end), "is a compound name: only a column of the table can be used"
                )
            return self.column(t)
        reason = "is a constant" if t.kind in ("number", "string") else "is not understood"
        raise self.refuse((t.start, t.end), f"{reason} (supported: {_SUPPORTED})")

    def column(self, t: _Token) -> _Column:
        if t.value not in self.columns:
            known = ", ".join(sorted(self.columns)[:20]) or "none"
            raise self.refuse(
                (t.start, t.end), f"is not a column of the Distributed table (its columns: {known})"
            )
        declared = self.columns[t.value]
        kind = _column_type(declared)
        if isinstance(kind, str):
            raise self.refuse((t.start, t.end), f"is {declared}: {kind}")
        return _Column(t.value, kind, (t.start, t.end))

    def call(self, name: _Token) -> _Node:
        try:
            args, after = _arguments(self.tokens, self.at + 1)
        except _Malformed as e:
            raise self.refuse((name.start, len(self.expression)), f"is malformed: {e}") from None
        span = (name.start, self.tokens[after - 1].end)
        if name.value == "modulo" and len(args) == 2:
            self.at += 2
            node = self.key()
            self.take(",")
            divisor = self.divisor()
            self.take(")")
            return self.modulo(node, divisor, span)
        spec = _HASHES.get(name.value)
        if spec is None:
            raise self.refuse(span, _function_refusal(name.value))
        if not args:
            raise self.refuse(span, "hashes no column: every row would go to one shard")
        if spec.single and len(args) != 1:
            raise self.refuse(span, f"takes one argument in ClickHouse, not {len(args)}")
        columns = []
        for arg in args:
            if len(arg) != 1 or arg[0].kind not in ("name", "quoted"):
                raise self.refuse(
                    (arg[0].start, arg[-1].end), "is not a column: only columns are hashed here"
                )
            column = self.column(arg[0])
            if column.type.kind not in spec.kinds:
                raise self.refuse(column.span, f"is {column.type.sql}: {name.value} takes a number")
            columns.append(column)
        self.at = after
        return _Call(name.value, tuple(columns), span)

    def divisor(self) -> int:
        t = self.peek()
        if t is None or t.kind != "number" or not t.value.isdigit() or not 0 < int(t.value) < 2**64:
            span = (t.start, t.end) if t else (len(self.expression), len(self.expression))
            raise self.refuse(span, "is not a divisor: % takes a whole number from 1 to 2^64-1")
        self.at += 1
        return int(t.value)

    def modulo(self, node: _Node, divisor: int, span: tuple[int, int] | None = None) -> _Modulo:
        span = span or (node.span[0], self.tokens[self.at - 1].end)
        value_type = _value_type(self.integer(node, "% N"))
        if not value_type.startswith("U"):
            # The result type of % changed between versions (moduloLegacy), and with it what a
            # negative remainder becomes when the row is placed.
            raise self.refuse(span, f"takes % of a signed {value_type}, whose placement differs by version")
        return _Modulo(node, divisor, span)

    def integer(self, node: _Node, role: str) -> _Node:
        if isinstance(node, _Column) and node.type.kind != "integer":
            raise self.refuse(node.span, f"is {node.type.sql}, not an integer: {role} must be one")
        return node


@dataclass(frozen=True)
class ShardingKey:
    """A sharding key reproduced exactly: what it reads, its SQL and its integer type.

    Accepted: a column of an integer type (Int8..Int64, UInt8..UInt64); ``cityHash64``,
    ``sipHash64``, ``murmurHash2_64``, ``murmurHash3_64`` of one or more columns, ``intHash64``
    and ``intHash32`` of one column; ``% N`` (or ``modulo(x, N)``) of an unsigned value;
    parentheses; backquoted or double-quoted names. Hashed columns may be integers, String,
    FixedString(N), Date or DateTime. Anything else raises :class:`UnreproducibleShardingKeyError`.
    """

    expression: str
    columns: tuple[str, ...]  # the columns read, in order of first use
    value_type: str  # the integer type of value_sql()
    _node: _Node = field(repr=False, compare=False)

    @classmethod
    def parse(cls, expression: str, columns: Mapping[str, str]) -> ShardingKey:
        """``columns``: the Distributed table's column name -> ClickHouse type (``system.columns``)."""
        node = _KeyParser(expression, columns).parse()
        return cls(expression, tuple(dict.fromkeys(_column_names(node))), _value_type(node), node)

    def value_sql(self) -> str:
        """The key's value as ClickHouse computes it on insert, each column CAST to its declared type."""
        return self._node.sql()


def _column_names(node: _Node) -> list[str]:
    if isinstance(node, _Column):
        return [node.name]
    if isinstance(node, _Call):
        return [a.name for a in node.args]
    return _column_names(node.inner)


# --- placement ---------------------------------------------------------------------------


def shard_indexes(values: pa.Array | pa.ChunkedArray, value_type: str, cluster: Cluster) -> pa.Array:
    """Index into ``cluster.shards`` (int32) of each key value, as the Distributed table picks it.

    ``values``: the key's values, of the Arrow type of ``value_type`` (as chdb returns
    :meth:`ShardingKey.value_sql`), none NULL: ClickHouse has no shard for a NULL key.
    """
    arrow_type = _INTEGERS.get(value_type)
    if arrow_type is None:
        raise InvalidInputError(
            f"{value_type!r} is not an integer type: ClickHouse shards by {', '.join(_INTEGERS)}"
        )
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != arrow_type:
        raise InvalidInputError(
            f"sharding key values are {values.type}, not {arrow_type} as {value_type} needs"
        )
    if values.null_count:
        raise InvalidInputError(
            f"{values.null_count} of {len(values)} sharding key values are NULL: no shard takes them"
        )
    if value_type.startswith("U"):
        wide = values.cast(pa.uint64())
    elif value_type == "Int64":
        wide = values.view(pa.uint64())
    else:
        # createBlockSelector's row path: a key of 32 bits or less becomes UInt32, sign-extended.
        wide = values.cast(pa.int32()).view(pa.uint32()).cast(pa.uint64())
    weight = pa.scalar(cluster.total_weight, pa.uint64())
    slots = pc.subtract(wide, pc.multiply(pc.divide(wide, weight), weight))
    return pc.take(pa.array(cluster.slot_to_shard, pa.int32()), slots)
