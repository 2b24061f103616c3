"""``rtp-completeness``: arguments, the check it builds (the sensor's), exit codes and named errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_provider_rtp.cli import completeness as cli
from airflow_provider_rtp.cli.completeness import (
    main,
    parse_duration,
    parse_hour,
    parse_window,
    progress_line,
)
from airflow_provider_rtp.completeness import InvalidPipelineError, Stage, Verdict, Window, load_pipelines
from airflow_provider_rtp.evaluation import CheckResult
from airflow_provider_rtp.exceptions import InvalidInputError

REPO = Path(__file__).resolve().parents[3]
PIPELINES = str(REPO / "stack" / "pipelines.yaml")


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
    with pytest.raises(InvalidInputError, match="has no timezone"):
        parse_window("2026-11-24T10:00/PT1H")
    with pytest.raises(InvalidInputError, match="START/DURATION"):
        parse_window("2026-11-24T10:00Z")
    with pytest.raises(InvalidInputError, match="not a duration"):
        parse_window("2026-11-24T10:00Z/PTXH")


def test_parse_hour_is_the_hour_starting_there() -> None:
    hour = Window(datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC))
    assert parse_hour("2026-12-01T10Z") == hour
    assert parse_hour("2026-12-01T11:00+01:00") == hour
    with pytest.raises(InvalidInputError, match="does not start an hour"):
        parse_hour("2026-12-01T10:30Z")
    with pytest.raises(InvalidInputError, match="has no timezone"):
        parse_hour("2026-12-01T10")


def test_parse_duration_forms() -> None:
    assert parse_duration("PT1H30M") == timedelta(hours=1, minutes=30)
    assert parse_duration("P1D") == timedelta(days=1)
    assert parse_duration("2m") == timedelta(minutes=2)
    with pytest.raises(InvalidInputError):
        parse_duration("PT")


def test_reference_pipelines_file_loads() -> None:
    pipelines = load_pipelines(REPO / "stack" / "pipelines.yaml")
    orders, mirror = pipelines["ods.orders"], pipelines["ods.orders_mirror"]
    assert orders.topics == ("shop.orders",) and orders.heartbeat_topic == "shop.rtp_heartbeat"
    # The mirror reads the same changes with its own group and job.
    assert (mirror.topics, mirror.cdc_job, mirror.heartbeat_topic) == (
        orders.topics,
        orders.cdc_job,
        orders.heartbeat_topic,
    )
    assert (mirror.group, mirror.ingestion_job) == ("rtp-ods-orders-mirror", "ods-orders-mirror-ingest")


def test_pipelines_file_names_bad_keys(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("pipelines:\n  a.b:\n    topics: [t]\n    group: g\n    ingestion_job: j\n    gruop: x\n")
    with pytest.raises(InvalidPipelineError, match="gruop"):
        load_pipelines(bad)


# -- the check: the sensor's ------------------------------------------------
def _cli_check(*argv: str):  # type: ignore[no-untyped-def]
    args = cli._parser().parse_args(["--hour", "2026-12-01T10Z", *argv])
    return cli._check(args, cli._policy(args))


def test_the_check_is_the_one_the_sensor_builds() -> None:
    from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

    sensor = IngestionCompleteSensor(
        task_id="t",
        table="ods.orders",
        pipelines_file=PIPELINES,
        allowed_lateness=timedelta(minutes=2),
        idle_timeout=timedelta(minutes=7),
        clock_skew_margin=timedelta(seconds=9),
        on_job_down="fail",
        future_window_limit=timedelta(hours=3),
        kafka_conn_id="kafka_prod",
        deferrable=False,
    )
    check = _cli_check(
        "--pipeline", "ods.orders", "--pipelines", PIPELINES, "--lateness", "2m", "--idle-timeout", "7m",
        "--clock-skew-margin", "PT9S", "--on-job-down", "fail", "--future-window-limit", "3h",
        "--kafka-conn-id", "kafka_prod",
    )  # fmt: skip
    assert check == sensor._check()


def test_defaults_are_the_sensors() -> None:
    from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor

    sensor = IngestionCompleteSensor(
        task_id="t", table="ods.orders", pipelines_file=PIPELINES, deferrable=False
    )
    assert _cli_check("--table", "ods.orders", "--pipelines", PIPELINES) == sensor._check()


def test_pipelines_file_from_the_airflow_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__RTP__PIPELINES_FILE", PIPELINES)
    assert _cli_check("--pipeline", "ods.orders").pipeline.group == "rtp-ods-orders"


def test_pipeline_spelled_out() -> None:
    check = _cli_check(
        "--pipeline", "ods.t", "--topic", "a", "--topic", "b", "--group", "g", "--ingestion-job", "j"
    )  # fmt: skip
    assert check.pipeline.topics == ("a", "b") and check.pipeline.cdc_job is None


# -- exit codes and errors ----------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_naive_hour_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10", "--pipelines", PIPELINES)
    assert code == 2 and "--hour 2026-11-24T10:00:00 has no timezone" in err


def test_undeclared_table_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--pipeline", "ods.nope", "--hour", "2026-11-24T10Z", "--pipelines", PIPELINES)
    assert code == 2 and "'ods.nope' is not declared" in err and "ods.orders" in err


def test_no_pipelines_file_anywhere_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW__RTP__PIPELINES_FILE", raising=False)
    code, err = _run(capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10Z")
    assert code == 2 and "[rtp] pipelines_file" in err


def test_half_spelled_pipeline_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--pipeline", "ods.t", "--hour", "2026-11-24T10Z", "--topic", "a")
    assert code == 2 and "also give group, ingestion_job" in err


def test_watch_options_need_watch(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--interval", "5s")
    assert code == 2 and "--interval and --timeout go with --watch" in err
    code, err = _run(
        capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--watch", "--interval", "0s"
    )
    assert code == 2 and "longer than 0s" in err


def test_bad_policy_value_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--lateness", "2 min")
    assert code == 2 and "not a duration: '2 min'" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--hour", "2026-11-24T10Z"],  # no --pipeline
        ["--pipeline", "ods.orders"],  # no window
        ["--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--window", "2026-11-24T10Z/PT1H"],
        ["--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--on-job-down", "retry"],
    ],
)
def test_argument_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "rtp-completeness: error:" in capsys.readouterr().err


def test_undefined_connection_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.secrets.metastore import MetastoreBackend

    monkeypatch.delenv("AIRFLOW_CONN_RTP_NO_SUCH", raising=False)
    # Stands for a metadata DB without it (the unit tests have no metadata DB).
    monkeypatch.setattr(MetastoreBackend, "get_connection", lambda self, conn_id: None)
    code, err = _run(
        capsys, "--pipeline", "ods.orders", "--hour", "2026-11-24T10Z", "--pipelines", PIPELINES,
        "--rtp-conn-id", "rtp_no_such",
    )  # fmt: skip
    assert code == 2 and "'rtp_no_such' is not defined" in err and "AIRFLOW_CONN_RTP_NO_SUCH" in err


def test_bad_input_is_refused_before_airflow_is_imported() -> None:
    """A mistyped window answers at once: Airflow (seconds to import) is loaded only to ask."""
    script = (
        "import sys\nfrom airflow_provider_rtp.cli.completeness import main\n"
        "code = main(['--pipeline', 'ods.orders', '--hour', '2026-11-24T10:30Z'])\n"
        "print(code, 'airflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["2", "False"], out.stderr


def test_exit_codes_follow_the_verdict() -> None:
    window = parse_hour("2026-11-24T10Z")
    for verdict, code in ((Verdict.COMPLETE, 0), (Verdict.WAITING, 1), (Verdict.FAILED, 2)):
        assert cli._exit_code(CheckResult(window=window, verdict=verdict, report="")) == code


# -- --watch progress lines -----------------------------------------------------
AT = datetime(2026, 11, 24, 11, 0, 5, tzinfo=UTC)
REPORT = (
    "window 2026-11-24T10:00Z..11:00Z  lateness 0s  margin 5s  → WAITING (kafka)\n"
    "  cdc      shop-cdc       watermark 11:00:07  ok\n"
    "  kafka    shop.orders.p3 consumed through 10:58:12  needs 11:00:05  (12 records behind)\n"
    "  job      orders-sink    RUNNING  checkpoint 8812\n"
)


def test_progress_line_names_the_blocking_stage_and_its_line() -> None:
    result = CheckResult(
        window=parse_hour("2026-11-24T10Z"),
        verdict=Verdict.WAITING,
        report=REPORT,
        decision=SimpleNamespace(blocking=Stage.KAFKA),  # type: ignore[arg-type]
    )
    assert progress_line(result, AT) == (
        "2026-11-24T11:00:05Z  WAITING (kafka)  "
        "kafka    shop.orders.p3 consumed through 10:58:12  needs 11:00:05  (12 records behind)"
    )


def test_progress_line_of_an_unavailable_system_and_of_completion() -> None:
    window = parse_hour("2026-11-24T10Z")
    down = CheckResult(
        window=window,
        verdict=Verdict.WAITING,
        report="window … → WAITING (unavailable)\n  FlinkConnectionError: refused",
    )
    assert progress_line(down, AT).endswith("WAITING  FlinkConnectionError: refused")
    done = CheckResult(window=window, verdict=Verdict.COMPLETE, report="window … → COMPLETE", snapshot_id=42)
    assert progress_line(done, AT).endswith("COMPLETE  snapshot 42")


def test_json_carries_the_check_and_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    check = _cli_check("--pipeline", "ods.orders", "--pipelines", PIPELINES)
    result = CheckResult(window=parse_hour("2026-11-24T10Z"), verdict=Verdict.WAITING, report="r")
    cli._show(check, result, as_json=True)
    shown = json.loads(capsys.readouterr().out)
    assert shown["check"] == check.to_dict() and shown["verdict"] == "waiting" and shown["report"] == "r"
