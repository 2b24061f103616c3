"""``rtp-completeness`` run as a user runs it, against the reference pipeline.

It must answer as the sensor answers (same check, same verdict, same report),
wait with ``--watch`` until a window completes, and never show a credential:
not in its command line, its output or its logs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_rtp.completeness import Verdict, Window
from airflow_provider_rtp.evaluation import CheckResult, run_check
from airflow_provider_rtp.hooks.completeness import CheckClients
from airflow_provider_rtp.sensors.ingestion import IngestionCompleteSensor
from tests.stack import REPO, host, kafka_bootstrap, port, stack_env

PIPELINES = str(REPO / "stack" / "pipelines.yaml")
EXE = str(Path(sys.executable).parent / "rtp-completeness")


def _cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *argv], capture_output=True, text=True, timeout=timeout, env=env)


def _past_minute(minutes_ago: int = 2) -> Window:
    end = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return Window(end - timedelta(minutes=1), end)


def _arg(window: Window) -> str:
    return f"{window.start.isoformat()}/{window.end.isoformat()}"


def _shape(report: str) -> list[str]:
    """The report with what moves with live data (clock times, ids, counts) blanked out."""
    out = []
    for line in report.splitlines():
        line = re.sub(r"\d{2}:\d{2}:\d{2}(\.\d+)?", "<time>", line)
        line = re.sub(r"job [0-9a-f]{4}…", "job <id>", line)
        out.append(re.sub(r"\d+", "#", line))
    return out


# -- the CLI is the sensor ------------------------------------------------------
def test_cli_answers_as_the_sensor_for_a_past_window() -> None:
    window = _past_minute()
    sensor = IngestionCompleteSensor(
        task_id="cli_twin",
        table="ods.orders",
        pipelines_file=PIPELINES,
        allowed_lateness=10,
        deferrable=False,
    )
    check = sensor._check()
    clients = CheckClients(check)  # as the sensor's _evaluate builds them
    try:

        def sensor_says() -> CheckResult:
            return run_check(check, window, clients)

        # The pipeline keeps running: the report's watermarks and checkpoint move between two
        # evaluations, so the command's answer is taken between two of the sensor's.
        before = sensor_says()
        out = _cli("--pipeline", "ods.orders", "--window", _arg(window), "--lateness", "10s",
                   "--pipelines", PIPELINES, "--json")  # fmt: skip
        after = sensor_says()
    finally:
        clients.close()
    assert out.returncode == 0, out.stdout + out.stderr
    shown = json.loads(out.stdout)  # stdout is the JSON document alone: logs go to stderr
    assert shown["check"] == check.to_dict()
    assert before.verdict is after.verdict is Verdict.COMPLETE, before.report + after.report
    assert shown["verdict"] == "complete" and shown["window"] == window.to_dict()
    header = shown["report"].splitlines()[0]
    assert header.split("  snapshot ")[0] == before.report.splitlines()[0].split("  snapshot ")[0]
    assert _shape(shown["report"]) in (_shape(before.report), _shape(after.report)), (
        f"{before.report}\n--- command:\n{shown['report']}\n---\n{after.report}"
    )
    assert before.record and after.record
    assert before.record.commit.job_id == shown["record"]["job_id"] == after.record.commit.job_id
    checkpoint = shown["record"]["checkpoint_id"]
    assert before.record.commit.checkpoint_id <= checkpoint <= after.record.commit.checkpoint_id


def test_cli_plain_report_and_exit_code_of_a_past_hour_minute() -> None:
    out = _cli("--table", "ods.orders", "--window", _arg(_past_minute(3)), "--pipelines", PIPELINES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "→ COMPLETE" in out.stdout.splitlines()[0] and "iceberg  ods.orders" in out.stdout


def test_pipelines_file_from_airflow_config_and_a_waiting_window() -> None:
    now = datetime.now(tz=UTC)
    env = {**os.environ, "AIRFLOW__RTP__PIPELINES_FILE": PIPELINES}
    out = _cli("--pipeline", "ods.orders", "--window", f"{now.isoformat()}/PT1H", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "→ WAITING" in out.stdout.splitlines()[0]


def test_bad_input_from_the_systems_exits_2_named() -> None:
    out = _cli("--pipeline", "ods.orders", "--window", _arg(_past_minute(5)), "--topic", "no.such.topic",
               "--group", "rtp-ods-orders", "--ingestion-job", "ods-orders-ingest")  # fmt: skip
    assert out.returncode == 2 and "no.such.topic" in out.stderr, out.stdout + out.stderr


# -- --watch --------------------------------------------------------------------
def test_watch_polls_until_a_window_completes() -> None:
    now = datetime.now(tz=UTC)
    window = Window(now - timedelta(seconds=30), now + timedelta(seconds=15))
    out = _cli("--pipeline", "ods.orders", "--window", _arg(window), "--pipelines", PIPELINES,
               "--watch", "--interval", "3s", "--timeout", "150s", timeout=240)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    polls = [line for line in lines if re.match(r"^\d{4}-\d\d-\d\dT\S+Z  [A-Z]+", line)]
    assert len(polls) >= 2 and all("WAITING (" in p for p in polls[:-1]), out.stdout
    assert re.search(r"  COMPLETE  snapshot \d+$", polls[-1]), polls[-1]
    report = lines[lines.index(polls[-1]) + 1 :]
    assert "→ COMPLETE" in report[0] and any(r.startswith("  iceberg  ods.orders") for r in report)
    waiting_stage = re.search(r"WAITING \((\w+)\)  (\w+) ", polls[0])
    assert waiting_stage and waiting_stage[1] == waiting_stage[2], polls[0]  # the blocking stage's line


def test_watch_timeout_exits_1_with_the_last_report() -> None:
    now = datetime.now(tz=UTC)
    window = Window(now, now + timedelta(minutes=30))
    out = _cli("--pipeline", "ods.orders", "--window", _arg(window), "--pipelines", PIPELINES,
               "--watch", "--interval", "2s", "--timeout", "5s")  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "WAITING (" in out.stdout.splitlines()[0] and "→ WAITING" in out.stdout


# -- secrets ----------------------------------------------------------------------
def _as_postgres_superuser(sql: str) -> None:
    """Run SQL as the cluster's superuser (the catalog's user may not create roles), over its socket.

    The SQL goes through stdin: a password in it would show in ``ps`` as an argument.
    """
    state = stack_env()["RTP_STATE"]
    fallback = f"/var/lib/postgresql/rtp-stack-{hashlib.sha1(state.encode()).hexdigest()[:10]}/run"
    sockets = [
        d
        for d in (f"{state}/run/postgres", fallback)
        if Path(d, f".s.PGSQL.{port('POSTGRES_PORT')}").exists()
    ]
    assert sockets, f"no PostgreSQL socket of the stack under {state}/run/postgres or {fallback}"
    db = stack_env()["POSTGRES_CATALOG_DB"]
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockets[0], "-p", str(port("POSTGRES_PORT"))]
    cmd = ["runuser", "-u", "postgres", "--", *psql, "-U", "postgres", "-d", db, "-f", "-"]
    done = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr


@pytest.fixture
def sentinel_role() -> Iterator[tuple[str, str]]:
    """A catalog reader whose password is a sentinel string: a real credential the CLI must use."""
    role, password = f"rtp_cli_{uuid.uuid4().hex[:8]}", f"sentinel-{uuid.uuid4().hex}"
    db = stack_env()["POSTGRES_CATALOG_DB"]
    _as_postgres_superuser(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}';\n"
        f'GRANT CONNECT ON DATABASE "{db}" TO {role};\n'
        f"GRANT USAGE ON SCHEMA public TO {role};\n"
        f"GRANT SELECT ON iceberg_tables, iceberg_namespace_properties TO {role};\n"
    )
    try:
        yield role, password
    finally:
        _as_postgres_superuser(f"DROP OWNED BY {role};\nDROP ROLE {role};\n")


def _run_watching_ps(argv: list[str], env: dict[str, str], secrets: list[str]) -> tuple[int, str, str]:
    """Run the command; while it runs, no process's arguments (in full: -ww) may hold a secret."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([EXE, *argv], stdout=out, stderr=err, text=True, env=env)
        seen = 0
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline:
            ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
            seen += EXE in ps
            assert not [s for s in secrets if s in ps], "a secret is in a command line"
        code = proc.wait(timeout=30)
        out.seek(0), err.seek(0)
        shown, logged = out.read(), err.read()
    assert seen, f"the command was never seen running: {shown}{logged}"
    return code, shown, logged


def test_no_secret_in_command_lines_output_or_logs(sentinel_role: tuple[str, str]) -> None:
    role, pg_password = sentinel_role
    kafka_secret = f"sentinel-{uuid.uuid4().hex}"
    env = stack_env()
    run_env = {
        **os.environ,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        # librdkafka accepts (and with PLAINTEXT ignores) a SASL password; "debug" makes it dump its config.
        "AIRFLOW_CONN_KAFKA_SENTINEL": json.dumps(
            {
                "conn_type": "kafka",
                "extra": {
                    "bootstrap.servers": kafka_bootstrap(),
                    "sasl.password": kafka_secret,
                    "debug": "conf",
                },
            }
        ),
        "AIRFLOW_CONN_ICEBERG_SENTINEL": json.dumps(
            {
                "conn_type": "iceberg",
                "host": host(),
                "port": port("POSTGRES_PORT"),
                "login": role,
                "password": pg_password,
                "schema": env["POSTGRES_CATALOG_DB"],
                "extra": {
                    "catalog_type": "sql",
                    "catalog_name": "lake",
                    "warehouse": f"file://{env['RTP_STATE']}/data/warehouse",
                },
            }
        ),
    }
    secrets = [pg_password, kafka_secret]
    base = ["--pipeline", "ods.orders", "--window", _arg(_past_minute()), "--pipelines", PIPELINES,
            "--kafka-conn-id", "kafka_sentinel", "--iceberg-conn-id", "iceberg_sentinel"]  # fmt: skip
    for extra in ([], ["--json"], ["--watch", "--interval", "2s"]):
        code, out, err = _run_watching_ps([*base, *extra], run_env, secrets)
        # Complete: the catalog was read as the sentinel role, Kafka through the sentinel connection.
        assert code == 0, out + err
        assert "DEBUG" in err or "debug" in err  # the logs were as talkative as they get
        for secret in secrets:
            assert secret not in out and secret not in err, f"a secret is shown with {extra}"


def test_connection_from_the_metadata_database(tmp_path: Path) -> None:
    conn_id = f"rtp_cli_db_{uuid.uuid4().hex[:8]}"
    airflow = str(Path(sys.executable).parent / "airflow")
    conn = {"conn_type": "rtp", "host": f"http://{host()}:{port('FLINK_REST_PORT')}"}
    added = subprocess.run(
        [airflow, "connections", "add", conn_id, "--conn-json", json.dumps(conn)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    try:
        env = {k: v for k, v in os.environ.items() if k != f"AIRFLOW_CONN_{conn_id.upper()}"}
        out = _cli("--pipeline", "ods.orders", "--window", _arg(_past_minute()), "--pipelines", PIPELINES,
                   "--rtp-conn-id", conn_id, env=env)  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        subprocess.run([airflow, "connections", "delete", conn_id], capture_output=True, timeout=180)
