"""Both lake tables of the reference pipeline hold exactly MariaDB's rows once a window is complete.

lake.ods.orders (changelog mode, partitioned by change hour) and lake.ods.orders_mirror
(upsert mode, partitioned by id bucket) are read through Flink and compared with
shop.orders after the source went quiet and the completeness check said the minute of
the last change is in each table.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_rtp.completeness import Decision, Pipeline, Policy, Verdict, Window, load_pipelines
from airflow_provider_rtp.evaluation import evaluate
from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
from airflow_provider_rtp.kafka import KafkaLagReader
from tests.integration.lake_truth import assert_lake_matches_source, compare
from tests.integration.test_reference_pipeline import catalog
from tests.stack import REPO, flink_rest_url, kafka_bootstrap, stack_env

pytestmark = pytest.mark.pipeline

TABLES = ("ods.orders", "ods.orders_mirror")
STACK = str(REPO / "stack" / "rtp-stack")
# Arguments stack/rtp-stack itself gives the generator: not passed back when restarting it.
_STACK_GENERATOR_ARGS = {"--host", "--port", "--user", "--database"}


# -- compare, on plain data -------------------------------------------------------
T0 = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
SOURCE = [
    (1, 10, Decimal("12.50"), "new", T0.replace(tzinfo=None)),  # MariaDB: naive UTC, Decimal
    (2, 20, Decimal("7.00"), "paid", T0.replace(tzinfo=None)),
    (3, 30, Decimal("99.99"), "shipped", T0.replace(tzinfo=None)),
]
LAKE = [  # as Flink's JSON rows arrive: floats and ISO strings, another order
    [3, 30, 99.99, "shipped", "2026-12-01T10:00:00.123Z"],
    [1, 10, 12.5, "new", "2026-12-01 10:00:00.123"],
    [2, 20, 7, "paid", "2026-12-01T10:00:00.123Z"],
]


def test_compare_finds_equal_rows_of_other_types_equal() -> None:
    report = compare(LAKE, SOURCE)
    assert report.equal, report
    assert report.lake_count == report.source_count == 3
    assert report.lake_checksum == report.source_checksum


def test_compare_names_a_missing_an_extra_and_a_changed_row() -> None:
    lake = [
        LAKE[0],
        [1, 10, 13.5, "new", "2026-12-01T10:00:00.123Z"],
        [4, 40, 1, "new", "2026-12-01T10:00:00Z"],
    ]
    report = compare(lake, SOURCE)
    assert not report.equal
    assert (report.missing_total, report.extra_total, report.different_total) == (1, 1, 1), report
    assert [row[0] for row in report.missing] == [2]
    assert [row[0] for row in report.extra] == [4]
    ((lake_row, source_row),) = report.different
    assert (lake_row[0], lake_row[2], source_row[2]) == (1, "13.5", "12.5")
    assert report.lake_checksum != report.source_checksum
    shown = str(report)
    assert "missing (2," in shown and "extra   (4," in shown and "id 1: lake" in shown


def test_compare_counts_a_duplicate_and_a_one_millisecond_change() -> None:
    duplicated = compare([*LAKE, LAKE[0]], SOURCE)
    assert duplicated.extra_total == 1 and duplicated.lake_count == 4, duplicated
    assert duplicated.lake_checksum != duplicated.source_checksum
    later = [*LAKE[:2], [2, 20, 7, "paid", "2026-12-01T10:00:00.124Z"]]
    assert compare(later, SOURCE).different_total == 1


# -- the lake against MariaDB ---------------------------------------------------------
def _generator_args() -> list[str] | None:
    """The running generator's own arguments (after generator.py), or None when it is not running."""
    pidfile = Path(stack_env()["RTP_STATE"]) / "run" / "generator.pid"
    try:
        cmdline = Path(f"/proc/{int(pidfile.read_text())}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    argv = cmdline.decode().split("\0")[:-1]
    scripts = [i for i, a in enumerate(argv) if a.endswith("generator.py")]
    return argv[scripts[0] + 1 :] if scripts else None


def _restart_args(args: list[str]) -> list[str]:
    """``generator start RATE [OPTION...]`` arguments that run the generator as it ran."""
    rate, options, i = "5", [], 0
    while i < len(args):
        if args[i] == "--rate" or args[i] in _STACK_GENERATOR_ARGS:
            rate = args[i + 1] if args[i] == "--rate" else rate
            i += 2
        else:
            options.append(args[i])
            i += 1
    return [rate, *options]


def _stack(*argv: str) -> None:
    out = subprocess.run([STACK, *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"stack/rtp-stack {' '.join(argv)}: {out.stderr[-2000:]}"


@pytest.fixture
def quiet_source() -> Iterator[None]:
    """The generator stopped for the test; restarted afterwards if it was running."""
    args = _generator_args()
    if args is not None:
        _stack("generator", "stop")
    try:
        yield
    finally:
        if args is not None:
            _stack("generator", "start", *_restart_args(args))


def _wait_complete(pipeline: Pipeline, window: Window, timeout: float) -> Decision:
    """Until the completeness check says ``window`` is in ``pipeline``'s table."""
    policy = Policy(allowed_lateness=timedelta(0), clock_skew_margin=timedelta(seconds=2))
    flink = FlinkRestClient(HttpSettings(flink_rest_url()))
    kafka, lake = KafkaLagReader({"bootstrap.servers": kafka_bootstrap()}), catalog()
    deadline = time.monotonic() + timeout
    try:
        while True:
            decision = evaluate(pipeline, window, policy, kafka=kafka, flink=flink, catalog=lake)
            if decision.verdict is Verdict.COMPLETE or time.monotonic() > deadline:
                return decision
            time.sleep(3)
    finally:
        flink.close()


def test_both_lake_tables_equal_mariadb_once_the_last_minute_is_complete(quiet_source: None, mariadb) -> None:
    # A change of each kind, whatever ran before: an insert, an update and a delete.
    with mariadb.cursor() as cur:
        ids = []
        for i in range(3):
            cur.execute(
                "INSERT INTO orders (customer_id, amount, status) VALUES (%s, %s, 'new')", (900 + i, 1 + i)
            )
            ids.append(cur.lastrowid)
        cur.execute("UPDATE orders SET amount = 42.42, status = 'paid' WHERE id = %s", (ids[0],))
        cur.execute("DELETE FROM orders WHERE id = %s", (ids[1],))
    changed = datetime.now(tz=UTC)
    # The minute holding the last change: the last closed minute once it has passed.
    end = changed.replace(second=0, microsecond=0) + timedelta(minutes=1)
    window = Window(end - timedelta(minutes=1), end)
    pipelines = load_pipelines(REPO / "stack" / "pipelines.yaml")

    for table in TABLES:
        wait = (end - datetime.now(tz=UTC)).total_seconds() + 120
        decision = _wait_complete(pipelines[table], window, timeout=wait)
        assert decision.verdict is Verdict.COMPLETE, decision.report()

    for table in TABLES:
        started = time.monotonic()
        report = assert_lake_matches_source(table, timeout=90)
        print(f"lake.{table}: {report} ({time.monotonic() - started:.1f}s)")
        assert report.source_count > 0
