from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_rtp.cli.completeness import main, parse_duration, parse_window
from airflow_provider_rtp.completeness import InvalidPipelineError, load_pipelines

REPO = Path(__file__).resolve().parents[2]


def test_parse_window_start_duration_and_start_end() -> None:
    w = parse_window("2026-11-24T10:00Z/PT1H")
    assert (w.start, w.end) == (
        datetime(2026, 11, 24, 10, tzinfo=UTC),
        datetime(2026, 11, 24, 11, tzinfo=UTC),
    )
    assert parse_window("2026-11-24T10:00Z/2026-11-24T10:30Z").end == datetime(
        2026, 11, 24, 10, 30, tzinfo=UTC
    )


def test_parse_window_refuses_naive_and_garbage() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_window("2026-11-24T10:00/PT1H")
    with pytest.raises(ValueError, match="START/DURATION"):
        parse_window("2026-11-24T10:00Z")
    with pytest.raises(ValueError, match="not a duration"):
        parse_window("2026-11-24T10:00Z/PTXH")


def test_parse_duration_forms() -> None:
    assert parse_duration("PT1H30M") == timedelta(hours=1, minutes=30)
    assert parse_duration("P1D") == timedelta(days=1)
    assert parse_duration("2m") == timedelta(minutes=2)
    with pytest.raises(ValueError):
        parse_duration("PT")


def test_reference_pipelines_file_loads() -> None:
    orders = load_pipelines(REPO / "stack" / "pipelines.yaml")["ods.orders"]
    assert orders.topics == ("shop.orders",) and orders.heartbeat_topic == "shop.rtp_heartbeat"


def test_pipelines_file_names_bad_keys(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("pipelines:\n  a.b:\n    topics: [t]\n    group: g\n    ingestion_job: j\n    gruop: x\n")
    with pytest.raises(InvalidPipelineError, match="gruop"):
        load_pipelines(bad)


def test_cli_bad_input_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--table",
            "ods.orders",
            "--window",
            "2026-11-24T10:00/PT1H",
            "--pipelines",
            str(REPO / "stack" / "pipelines.yaml"),
            "--kafka-bootstrap",
            "127.0.0.1:9",
            "--flink-url",
            "http://127.0.0.1:9",
            "--catalog-uri",
            "sqlite://",
        ]
    )
    assert code == 2 and "no time zone" in capsys.readouterr().err
