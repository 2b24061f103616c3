"""A window's deadline: end + policy.deadline, stated on the report of a window that is not complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_rtp.completeness import (
    DeadlineStatus,
    InvalidPolicyError,
    MalformedRecordError,
    Policy,
    deadline_status,
)
from tests.unit.completeness.builders import WINDOW, at, chain, kafka, part, run, table

DEADLINE = Policy(
    allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(0), deadline=timedelta(minutes=30)
)


def test_no_deadline_set_gives_no_status_and_no_report_line() -> None:
    assert deadline_status(WINDOW, Policy(), at(12)) is None
    waiting = run(tbl=table(*chain(8808, 8809)))
    assert "deadline" not in waiting.report()


def test_before_the_deadline_it_says_how_long_remains() -> None:
    status = deadline_status(WINDOW, DEADLINE, at(11, 26))
    assert status is not None
    assert status.deadline == at(11, 30)
    assert not status.missed
    assert status.remaining == timedelta(minutes=4) and status.missed_by == timedelta(0)
    assert status.line() == "deadline 11:30:00 in 4m"


def test_at_and_after_the_deadline_it_is_missed_by_how_much() -> None:
    assert deadline_status(WINDOW, DEADLINE, at(11, 30)).missed  # type: ignore[union-attr]
    status = deadline_status(WINDOW, DEADLINE, at(11, 32, 5))
    assert status is not None and status.missed
    assert status.missed_by == timedelta(minutes=2, seconds=5) and status.remaining == timedelta(0)
    assert status.line() == "deadline 11:30:00 missed by 2m5s"


def test_a_deadline_on_another_day_is_written_in_full() -> None:
    policy = Policy(deadline=timedelta(hours=13))
    status = deadline_status(WINDOW, policy, at(11, 5))
    assert status is not None
    assert status.line() == "deadline 2026-11-25T00:00:00Z in 12h55m"


def test_waiting_report_states_the_deadline_missed() -> None:
    waiting = run(tbl=table(*chain(8808, 8809)), policy=DEADLINE, now=at(11, 40))
    assert "  deadline 11:30:00 missed by 10m" in waiting.report().splitlines()


def test_waiting_report_states_the_time_left() -> None:
    slow = part(7, end=6000, committed=3796, b_p=5000, fuo=3796, fut=at(10, 58, 12))
    waiting = run(kafka_obs=kafka(slow), policy=DEADLINE, now=at(11, 5))
    assert "\n  deadline 11:30:00 in 25m" in waiting.report()


def test_a_complete_report_has_no_deadline_line_even_when_late() -> None:
    done = run(policy=DEADLINE, now=at(12))
    assert done.is_complete and "deadline" not in done.report()


def test_policy_round_trips_the_deadline_and_omits_it_when_unset() -> None:
    assert Policy.from_dict(DEADLINE.to_dict()) == DEADLINE
    assert DEADLINE.to_dict()["deadline"] == 1800.0
    assert "deadline" not in Policy().to_dict()
    assert Policy.from_dict({**Policy().to_dict(), "deadline": None}).deadline is None


@pytest.mark.parametrize("bad", [timedelta(seconds=-1), 30, "30m"])
def test_a_bad_deadline_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(InvalidPolicyError, match="deadline"):
        Policy(deadline=bad)  # type: ignore[arg-type]


def test_a_stored_deadline_that_is_not_seconds_is_malformed() -> None:
    with pytest.raises(MalformedRecordError, match="deadline"):
        Policy.from_dict({"deadline": "30m"})


def test_status_to_dict_is_plain_data() -> None:
    status = DeadlineStatus(WINDOW, at(11, 30), datetime(2026, 11, 24, 11, 31, tzinfo=UTC))
    assert status.to_dict() == {
        "window": WINDOW.to_dict(),
        "deadline": "2026-11-24T11:30:00Z",
        "checked_at": "2026-11-24T11:31:00Z",
        "missed": True,
        "missed_by_seconds": 60.0,
    }
    assert DeadlineStatus.from_dict(status.to_dict()) == status
    with pytest.raises(MalformedRecordError, match="deadline"):
        DeadlineStatus.from_dict({"window": WINDOW.to_dict()})
