from __future__ import annotations

import os

import pytest

from tests.stack import listening, port

# Services every integration test may touch, by the env var naming their port.
STACK_PORTS = {
    "Kafka": "KAFKA_PORT",
    "Flink JobManager": "FLINK_REST_PORT",
    "Flink SQL Gateway": "FLINK_SQL_GATEWAY_PORT",
    "MariaDB": "MARIADB_PORT",
    "PostgreSQL": "POSTGRES_PORT",
    "InfluxDB 1": "INFLUX1_PORT",
    "InfluxDB 2": "INFLUX2_PORT",
    "ClickHouse 1": "CLICKHOUSE1_TCP_PORT",
    "ClickHouse 2": "CLICKHOUSE2_TCP_PORT",
}


def _stack_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("RTP_STACK_REQUIRED") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)
    # Tests that stop a shared service go last in a serial run, so no other test runs against a
    # recovering stack. A parallel run (./dev test) runs them beside the unit tests only: there
    # they go first, so they do not start after the unit tests are done.
    # Long modules go first: parallel runs hand out work in this order, and one long test
    # started last would keep the whole run waiting for it.
    disruptive_last = "PYTEST_XDIST_WORKER" not in os.environ
    items.sort(
        key=lambda item: ((item.get_closest_marker("disruptive") is not None) == disruptive_last, _rank(item))
    )


# The modules whose tests take minutes (windows, checkpoints, task runs), longest first.
LONG_MODULES = (
    "test_lake_maintenance.py",
    "test_completeness_faults.py",
    "test_ingestion_sensor.py",
    "test_ingestion_deadline.py",
    "test_dags_examples_run.py",
    "test_flink_lifecycle.py",
    "test_flink_operators.py",
    "test_flink_sensor.py",
    "test_cdc.py",
    "test_ingestion_triggers.py",
    "test_flink_bad_input.py",
    "test_lake_expiry.py",
    "test_lake_truth.py",
    "test_lake_health.py",
    "test_clickhouse_sink.py",
)


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    return LONG_MODULES.index(name) if name in LONG_MODULES else len(LONG_MODULES)


# Parallel runs (pytest-xdist, see ./dev test): a test class is one unit of work (its tests
# run in order in one process, e.g. on one private pipeline), so is a module listed here
# (its tests share a module fixture); every other test is a unit of its own.
# test_lake_maintenance's steps build on each other; the lake modules share one private pipeline.
ONE_UNIT_MODULES = (
    "test_cdc.py",
    "test_lake_maintenance.py",
    "test_lake_expiry.py",
    "test_lake_orphans.py",
    "test_lake_truth.py",
)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, rest = nodeid.partition("::")
            if path.rsplit("/", 1)[-1] in ONE_UNIT_MODULES:
                return path
            if "::" in rest:  # Class::test
                return f"{path}::{rest.split('::', 1)[0]}"
            return nodeid

    return UnitScheduling(config, log)


@pytest.fixture(scope="session")
def stack() -> None:
    """The local stack must be up. Under CI a down stack fails the test instead of skipping it."""
    down = [name for name, key in STACK_PORTS.items() if not listening(port(key))]
    if down:
        msg = f"local stack not running ({', '.join(down)} down): start it with stack/rtp-stack up"
        if _stack_required():
            pytest.fail(msg)
        pytest.skip(msg)
