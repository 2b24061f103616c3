"""Rule 2: group G has consumed every record before the target, partition by partition."""

from __future__ import annotations

from datetime import timedelta

from airflow_provider_rtp.completeness import (
    DEFAULT_IDLE_TIMEOUT,
    AdviceCode,
    Policy,
    Reason,
    Stage,
    Verdict,
)
from tests.unit.completeness.builders import NOW, TARGET, at, heartbeat, kafka, part, run


def reasons(decision):  # type: ignore[no-untyped-def]
    return {p.name: p.reason for p in decision.waiting_partitions}


def test_committed_at_the_offset_for_target_is_complete() -> None:
    decision = run(kafka_obs=kafka(part(end=120, committed=90, b_p=90, fuo=90, fut=TARGET)))
    assert decision.verdict is Verdict.COMPLETE


def test_committed_one_short_of_the_offset_for_target_waits_with_records_behind() -> None:
    decision = run(kafka_obs=kafka(part(end=120, committed=89, b_p=90, fuo=89, fut=at(11, 1, 59))))
    assert decision.verdict is Verdict.WAITING
    assert decision.blocking is Stage.KAFKA
    stage = decision.stage(Stage.KAFKA)
    assert stage.reason is Reason.BEHIND
    assert stage.records_behind == 1
    assert stage.watermark == at(11, 1, 59)
    assert stage.gap_seconds == 1.0


def test_no_offset_for_target_with_data_in_lag_waits() -> None:
    decision = run(kafka_obs=kafka(part(end=100, committed=97, b_p=None, fuo=97, fut=at(10, 59))))
    assert reasons(decision) == {"orders.p0": Reason.BEHIND}
    assert decision.stage(Stage.KAFKA).records_behind == 3


def test_idle_partition_without_cdc_waits_for_idle_timeout() -> None:
    idle = kafka(part(end=100, committed=100, b_p=None))
    before = run(cdc=None, kafka_obs=idle, now=TARGET + DEFAULT_IDLE_TIMEOUT - timedelta(seconds=1))
    assert before.verdict is Verdict.WAITING
    assert reasons(before) == {"orders.p0": Reason.IDLE_WAIT}
    assert before.stage(Stage.KAFKA).needed == TARGET + DEFAULT_IDLE_TIMEOUT
    assert before.stage(Stage.KAFKA).gap_seconds == 1.0
    after = run(cdc=None, kafka_obs=idle, now=TARGET + DEFAULT_IDLE_TIMEOUT)
    assert after.verdict is Verdict.COMPLETE


def test_idle_timeout_default_is_five_minutes_and_configurable() -> None:
    assert Policy().idle_timeout == DEFAULT_IDLE_TIMEOUT == timedelta(minutes=5)
    quick = Policy(
        allowed_lateness=timedelta(minutes=2),
        clock_skew_margin=timedelta(0),
        idle_timeout=timedelta(seconds=30),
    )
    idle = kafka(part(end=100, committed=100, b_p=None))
    assert run(cdc=None, kafka_obs=idle, policy=quick, now=TARGET + timedelta(seconds=30)).is_complete


def test_idle_partition_with_durable_cdc_is_complete_without_idle_timeout() -> None:
    decision = run(kafka_obs=kafka(part(end=100, committed=100, b_p=None)), now=at(11, 3, 45))
    assert decision.verdict is Verdict.COMPLETE


def test_idle_partition_with_cdc_behind_waits_for_cdc_not_idle_timeout() -> None:
    idle = kafka(part(end=100, committed=100, b_p=None))
    decision = run(kafka_obs=idle, cdc=heartbeat(at(11, 1)), now=at(12))
    assert decision.verdict is Verdict.WAITING
    assert reasons(decision) == {"orders.p0": Reason.WAITING_FOR_CDC}


def test_no_new_data_is_never_caught_up_without_cdc_or_idle_timeout() -> None:
    # Caught up at 11:03 with nothing since: without CDC that proves nothing yet.
    decision = run(cdc=None, kafka_obs=kafka(part(end=100, committed=100, b_p=None)), now=at(11, 3))
    assert decision.verdict is Verdict.WAITING


def test_transactional_partition_caught_up_one_marker_short_is_complete() -> None:
    # Offset 99 is the commit marker of the last transaction; the consumer sits at 99.
    marker_short = kafka(part(end=100, committed=99, b_p=None, fuo=None))
    assert run(kafka_obs=marker_short).verdict is Verdict.COMPLETE


def test_transactional_markers_before_the_offset_for_target_do_not_block() -> None:
    # Committed 98; 98 and 99 are markers; the first data record (100) is already past the target.
    markers = kafka(part(end=130, committed=98, b_p=100, fuo=100, fut=at(11, 2, 1)))
    assert run(kafka_obs=markers).verdict is Verdict.COMPLETE


def test_offset_for_target_beyond_the_stable_offset_waits() -> None:
    # An open transaction holds offsets 100..: records in it may be older than the target.
    open_txn = kafka(part(end=100, committed=100, b_p=105, fuo=None))
    decision = run(kafka_obs=open_txn)
    assert reasons(decision) == {"orders.p0": Reason.BEHIND}


def test_retention_below_log_start() -> None:
    # An old backfill: the window's records are gone, the group had read past the log start.
    old = kafka(part(log_start=500, end=800, committed=800, b_p=120))
    decision = run(kafka_obs=old)
    assert decision.verdict is Verdict.COMPLETE
    assert AdviceCode.RETENTION in decision.advice_codes


def test_retention_needs_committed_at_least_log_start() -> None:
    lost = kafka(part(log_start=500, end=800, committed=450, b_p=120))
    decision = run(kafka_obs=lost)
    assert reasons(decision) == {"orders.p0": Reason.BELOW_LOG_START}
    assert AdviceCode.OFFSETS_DELETED in decision.advice_codes


def test_stale_group_offsets_missing_commit_waits() -> None:
    decision = run(kafka_obs=kafka(part(0), part(3, committed=None, b_p=50), group="orders-sink"))
    assert decision.verdict is Verdict.WAITING
    assert reasons(decision) == {"orders.p3": Reason.NO_COMMITTED_OFFSET}
    assert AdviceCode.MISSING_GROUP_OFFSET in decision.advice_codes
    text = decision.report()
    assert "no committed offset for group orders-sink on orders.p3" in text
    assert "offset commits happen on checkpoint, and a job without group.id commits none" in text


def test_missing_commit_is_never_assumed_even_for_an_idle_partition() -> None:
    decision = run(kafka_obs=kafka(part(committed=None, b_p=None)), now=at(13))
    assert decision.verdict is Verdict.WAITING


def test_slowest_partition_is_smallest_consumed_through() -> None:
    decision = run(
        kafka_obs=kafka(
            part(1, end=300, committed=200, b_p=250, fuo=200, fut=at(10, 58, 12)),
            part(7, end=300, committed=100, b_p=150, fuo=100, fut=at(10, 41)),
            part(2, end=300, committed=260, b_p=250, fuo=260, fut=at(11, 2, 30)),
        )
    )
    assert decision.slowest_partition is not None
    assert decision.slowest_partition.name == "orders.p7"
    assert decision.stage(Stage.KAFKA).watermark == at(10, 41)
    assert decision.stage(Stage.KAFKA).records_behind == 50 + 50


def test_caught_up_partition_is_consumed_through_now() -> None:
    decision = run(kafka_obs=kafka(part(0, end=100, committed=100, b_p=90)))
    assert decision.slowest_partition is not None
    assert decision.slowest_partition.consumed_through == NOW


def test_partition_with_unknown_progress_is_the_slowest() -> None:
    decision = run(
        kafka_obs=kafka(
            part(1, end=300, committed=100, b_p=150, fuo=100, fut=at(10, 41)),
            part(2, committed=None, b_p=50),
        )
    )
    assert decision.slowest_partition is not None
    assert decision.slowest_partition.name == "orders.p2"


def test_every_partition_of_every_topic_must_hold() -> None:
    decision = run(
        kafka_obs=kafka(part(0), part(0, topic="payments", end=10, committed=5, b_p=8, fuo=5, fut=at(11)))
    )
    assert reasons(decision) == {"payments.p0": Reason.BEHIND}


def test_partition_that_never_held_a_record_owes_no_commit() -> None:
    # A source commits no offset for an empty partition; with CDC durable past the target it is caught up.
    empty = part(2, log_start=0, end=0, committed=None, b_p=None)
    decision = run(kafka_obs=kafka(part(0), empty), now=at(13))
    assert reasons(decision) == {}
    assert decision.verdict is Verdict.COMPLETE


def test_emptied_partition_without_commit_still_waits() -> None:
    # Records existed (end > 0) and retention removed them: the group may never have read them.
    emptied = part(2, log_start=40, end=40, committed=None, b_p=None)
    decision = run(kafka_obs=kafka(part(0), emptied), now=at(13))
    assert reasons(decision)["orders.p2"] is Reason.NO_COMMITTED_OFFSET


def test_partition_whose_first_record_is_after_the_target_owes_no_commit() -> None:
    late_only = part(2, log_start=0, end=3, committed=None, b_p=0)
    decision = run(kafka_obs=kafka(part(0), late_only), now=at(13))
    assert decision.verdict is Verdict.COMPLETE
