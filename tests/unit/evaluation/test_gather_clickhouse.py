"""A ClickHouse-sink pipeline's evaluation on plain data: no catalog, and a checkpoint of J
triggered after the Kafka stage held is the commit (never one from before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_rtp.completeness import JobObservation, Pipeline, Policy, Reason, Stage, Verdict, Window
from airflow_provider_rtp.evaluation import CompletenessCheck, gather, is_transient, run_check
from airflow_provider_rtp.exceptions import ClickHouseError, InvalidInputError
from airflow_provider_rtp.kafka import GroupReading, PartitionStatus
from tests.unit.kafka.builders import reading

PIPELINE = Pipeline(
    "ch.orders", ("t",), "g", "orders-clickhouse", sink="clickhouse", clickhouse_table="shop.orders_local"
)
JOB_ID = "ab" * 16


class _Kafka:
    """Group g caught up past its offset for the target on t[3]."""

    def __init__(self) -> None:
        self.read_at: datetime | None = None

    def read_group(
        self, group: str, topics: tuple[str, ...], *, target_ms: int | None = None
    ) -> GroupReading:
        self.read_at = datetime.now(tz=UTC)
        part = reading(PartitionStatus.CAUGHT_UP, 10, offset_for_target=8)
        return GroupReading("STABLE", int(self.read_at.timestamp() * 1000), (part,))


class _Run:
    def __init__(self, observation: JobObservation) -> None:
        self.observation = observation

    def for_completeness(self) -> JobObservation:
        return self.observation


class _Flink:
    """J's latest completed checkpoints, one per read (the last one repeats)."""

    def __init__(self, *triggers: Any) -> None:
        self.triggers = list(triggers)
        self.reads = 0

    def observe_job(self, *, job_name: str) -> _Run:
        self.reads += 1
        index = min(self.reads, len(self.triggers)) - 1
        trigger = self.triggers[index]
        when = trigger() if callable(trigger) else trigger
        return _Run(JobObservation(JOB_ID, job_name, "RUNNING", 100 + index, latest_checkpoint_trigger=when))


def _window() -> tuple[Window, Policy]:
    hour = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    return Window(hour - timedelta(hours=2), hour - timedelta(hours=1)), Policy()


def _after_margin() -> datetime:
    return datetime.now(tz=UTC) + Policy().clock_skew_margin + timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gather, "_CHECKPOINT_POLL_S", 0.01)


def _evaluate(flink: _Flink, **kw: Any) -> Any:
    window, policy = _window()
    kafka = _Kafka()
    decision = gather.evaluate(PIPELINE, window, policy, kafka=kafka, flink=flink, catalog=None, **kw)  # type: ignore[arg-type]
    return decision, kafka


def test_a_checkpoint_from_before_the_kafka_stage_held_does_not_count() -> None:
    before = datetime.now(tz=UTC) - timedelta(seconds=30)
    decision, kafka = _evaluate(_Flink(before), checkpoint_wait=timedelta(0))
    assert decision.verdict is Verdict.WAITING and decision.blocking is Stage.CLICKHOUSE
    assert decision.stage(Stage.CLICKHOUSE).reason is Reason.COMMIT_BEHIND
    assert decision.stage(Stage.KAFKA).ok
    assert decision.kafka_held_at is not None and decision.kafka_held_at >= kafka.read_at
    assert "needs a checkpoint triggered at or after" in decision.report()


def test_the_evaluation_watches_the_job_for_the_next_checkpoint() -> None:
    flink = _Flink(datetime.now(tz=UTC) - timedelta(seconds=30), _after_margin)
    decision, _ = _evaluate(flink, checkpoint_wait=timedelta(seconds=5))
    assert decision.is_complete
    assert (decision.job_id, decision.checkpoint_id, decision.snapshot_id) == (JOB_ID, 101, None)
    assert flink.reads == 2
    assert decision.to_dict()["guarantee"] and "guarantee:" in decision.report()


def test_the_wait_is_bounded() -> None:
    flink = _Flink(datetime.now(tz=UTC) - timedelta(seconds=30))
    decision, _ = _evaluate(flink, checkpoint_wait=timedelta(seconds=0.2))
    assert decision.blocking is Stage.CLICKHOUSE and flink.reads > 2


def test_an_earlier_evaluation_in_which_kafka_held_lets_a_later_checkpoint_count() -> None:
    earlier = datetime.now(tz=UTC) - timedelta(minutes=2)
    checkpoint = earlier + Policy().clock_skew_margin + timedelta(seconds=1)
    decision, _ = _evaluate(_Flink(checkpoint), kafka_held_since=earlier, checkpoint_wait=timedelta(0))
    assert decision.is_complete and decision.checkpoint_id == 100


class _Clients:
    def __init__(self, tables: set[str]) -> None:
        self.kafka = _Kafka()
        self.flink = _Flink(_after_margin)
        self.clickhouse = self
        self.tables = tables

    @property
    def catalog(self) -> Any:
        raise AssertionError("a ClickHouse-sink pipeline reads no Iceberg catalog")

    def table_engine(self, database: str, table: str) -> dict[str, str]:
        if f"{database}.{table}" not in self.tables:
            raise InvalidInputError(f"ClickHouse table {database}.{table} does not exist")
        return {"engine": "ReplacingMergeTree"}


def test_run_check_needs_no_catalog_and_checks_the_declared_table() -> None:
    window, policy = _window()
    check = CompletenessCheck(PIPELINE, policy)
    assert check.conn_ids == ("rtp_default", "kafka_default", "clickhouse_default")
    assert CompletenessCheck.from_dict(check.to_dict()) == check
    result = run_check(check, window, _Clients({"shop.orders_local"}))  # type: ignore[arg-type]
    assert result.complete and result.snapshot_id is None
    assert result.xcom()["checkpoint_id"] == 100 and result.stored()["target"] == "shop.orders_local"
    # Decided once: reused without any catalog.
    again = run_check(check, window, _Clients({"shop.orders_local"}), persisted=result.stored())  # type: ignore[arg-type]
    assert again.reused and again.complete and "reused" in again.report


def test_an_unknown_clickhouse_table_is_bad_input_naming_it() -> None:
    window, policy = _window()
    check = CompletenessCheck(PIPELINE, policy)
    with pytest.raises(
        InvalidInputError, match=r"ch.orders: ClickHouse table shop.orders_local does not exist"
    ):
        run_check(check, window, _Clients(set()))  # type: ignore[arg-type]


def test_an_unreachable_clickhouse_waits_and_a_refusal_does_not() -> None:
    def raised(cause: BaseException) -> ClickHouseError:
        try:
            raise ClickHouseError("ClickHouse at h:9000: ...") from cause
        except ClickHouseError as exc:
            return exc

    assert is_transient(raised(ConnectionRefusedError("refused")))
    assert not is_transient(raised(ValueError("Code: 516, authentication failed")))
