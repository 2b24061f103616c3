"""The human report: the design note's format, one line per stage, findings after."""

from __future__ import annotations

from datetime import timedelta

from airflow_provider_rtp.completeness import CdcObservation, Policy
from tests.unit.completeness.builders import TARGET, at, chain, heartbeat, job, kafka, part, run, table

DESIGN_NOTE_EXAMPLE = """\
window 2026-11-24T10:00Z..11:00Z  lateness 2m  → WAITING (kafka)
  cdc      shop-cdc       watermark 11:03:41  ok
  kafka    orders.p7      consumed through 10:58:12  needs 11:02:00  (1,204 records behind)
  job      orders-sink    RUNNING  checkpoint 8812
  iceberg  ods.orders     job 3f2a… committed checkpoint 8809  needs ≥ 8812"""


def test_report_matches_the_design_note_example() -> None:
    slow = part(7, end=6000, committed=3796, b_p=5000, fuo=3796, fut=at(10, 58, 12))
    decision = run(kafka_obs=kafka(slow, part(1)), tbl=table(*chain(8808, 8809)))
    assert decision.report() == DESIGN_NOTE_EXAMPLE


def test_complete_report_names_the_snapshot() -> None:
    first = run().report().splitlines()[0]
    assert first == "window 2026-11-24T10:00Z..11:00Z  lateness 2m  → COMPLETE  snapshot 2"


def test_report_shows_a_nonzero_margin_in_the_header() -> None:
    policy = Policy(allowed_lateness=timedelta(minutes=2))
    decision = run(policy=policy, kafka_obs=kafka(target=TARGET + timedelta(seconds=5)))
    assert "lateness 2m  margin 5s  → COMPLETE" in decision.report()


def test_report_idle_wait_line_says_until_when() -> None:
    decision = run(cdc=None, kafka_obs=kafka(part(b_p=None)), now=at(11, 4))
    assert "waits until 11:07:00 (idle timeout 5m)" in decision.report()
    assert "  cdc      -              no CDC stage declared: Kafka-native, idle timeout 5m applies" in (
        decision.report()
    )


def test_report_counts_other_waiting_partitions() -> None:
    decision = run(
        kafka_obs=kafka(
            part(1, end=300, committed=200, b_p=250, fuo=200, fut=at(10, 58)),
            part(2, end=300, committed=100, b_p=150, fuo=100, fut=at(10, 41)),
        )
    )
    assert (
        "orders.p2      consumed through 10:41:00  needs 11:02:00  (50 records behind)" in decision.report()
    )
    assert "[+1 more partition waiting, 100 records behind in all]" in decision.report()


def test_report_cdc_behind_line_gives_time_behind() -> None:
    assert "watermark 11:00:00  needs 11:02:00  (2m behind)" in run(cdc=heartbeat(at(11))).report()


def test_report_cdc_unknown_line_and_advice() -> None:
    text = run(cdc=CdcObservation("shop-cdc")).report()
    assert "watermark unknown (no lag gauges, or no change emitted yet)  needs 11:02:00" in text
    assert "  ! the source lag gauges of shop-cdc are missing" in text


def test_report_job_down_line() -> None:
    assert "FAILED  checkpoint 8812  (down: waiting)" in run(job_obs=job("FAILED")).report()


def test_report_shows_the_date_for_a_watermark_on_another_day() -> None:
    assert "watermark 2026-11-23T23:59:00Z" in run(cdc=heartbeat(at(0) - timedelta(minutes=1))).report()
