"""Line protocol and InfluxQL quoting on plain data: hostile names are escaped, never spliced."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.monitoring.line_protocol import Point, quote_identifier, quote_literal


def test_plain_point() -> None:
    p = Point("rtp_kafka_group_lag", {"offset_lag": 3, "time_lag_ms": 1.5, "ok": True, "state": "Stable"},
              {"pipeline": "ods.orders", "group": "g"}, time=1700000000000)  # fmt: skip
    assert p.to_line() == (
        'rtp_kafka_group_lag,group=g,pipeline=ods.orders offset_lag=3i,ok=true,state="Stable",time_lag_ms=1.5'
        " 1700000000000"
    )


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("a b", r"a\ b"),
        ("a,b", r"a\,b"),
        ("a=b", r"a\=b"),
        ("x,y=1 z", r"x\,y\=1\ z"),
        ('q"uote', 'q"uote'),  # quotes are plain characters in keys and tag values
        (r"c:\dir", r"c:\dir"),  # a backslash before an ordinary character stays literal
        ("ümlaut", "ümlaut"),
    ],
)
def test_tag_and_field_keys_and_tag_values_are_escaped(name: str, escaped: str) -> None:
    line = Point("m", {name: 1}, {name: name}).to_line()
    assert line == f"m,{escaped}={escaped} {escaped}=1i"


def test_measurement_escapes_comma_and_space_but_not_equals() -> None:
    assert Point("a b,c=d", {"f": 1}).to_line() == r"a\ b\,c=d f=1i"


def test_hostile_measurement_cannot_inject_a_second_point() -> None:
    with pytest.raises(InvalidInputError, match="line break"):
        Point("m f=1i 1\nother,t=x f=2i", {"f": 1}).to_line()
    assert Point("m f=1i 1", {"f": 1}).to_line() == r"m\ f=1i\ 1 f=1i"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ('end\\"', r'"end\\\""'),
        ("a, b=c", '"a, b=c"'),
    ],
)
def test_string_field_values_escape_quotes_and_backslashes(value: str, encoded: str) -> None:
    assert Point("m", {"s": value}).to_line() == f"m s={encoded}"


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (Point("m", {}), "no field values"),
        (Point("m", {"f": None}), "no field values"),
        (Point("", {"f": 1}), "measurement must not be empty"),
        (Point("#comment", {"f": 1}), "comment"),
        (Point("m", {"f": 1}, {"t": "a\nb"}), "line break"),
        (Point("m", {"f": "a\r\nb"}), "line breaks"),
        (Point("m", {"f": 1}, {"t": "ends\\"}), "backslash"),
        (Point("m", {"f": 1}, {"t": "a\\,b"}), "backslash"),
        (Point("m", {"f": float("nan")}), "not a value"),
        (Point("m", {"f": float("inf")}), "not a value"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused(point: Point, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        point.to_line()


def test_types_are_checked() -> None:
    with pytest.raises(TypeError, match="tag 't'"):
        Point("m", {"f": 1}, {"t": 3}).to_line()  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="unsupported value type"):
        Point("m", {"f": [1]}).to_line()  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="integer"):
        Point("m", {"f": 1}, time=1.5).to_line()  # type: ignore[arg-type]


def test_empty_tag_values_are_left_out_and_none_fields_skipped() -> None:
    assert Point("m", {"f": 1, "g": None}, {"t": ""}).to_line() == "m f=1i"


def test_influxql_quoting() -> None:
    assert quote_identifier('we"ird\\name') == r'"we\"ird\\name"'
    assert quote_literal("O'Brien\\") == r"'O\'Brien\\'"
    assert quote_literal("x' OR '1'='1") == r"'x\' OR \'1\'=\'1'"
    with pytest.raises(InvalidInputError):
        quote_literal("a\nb")
