"""Window and Policy: validation at construction, with messages that name the value and the fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_rtp.completeness import (
    DEFAULT_CLOCK_SKEW_MARGIN,
    CompletenessError,
    InvalidPolicyError,
    InvalidWindowError,
    JobDownBehaviour,
    MalformedRecordError,
    NaiveDatetimeError,
    Policy,
    Window,
)
from tests.unit.completeness.builders import NOW, at, kafka, run


def test_naive_datetime_is_refused_and_named() -> None:
    with pytest.raises(NaiveDatetimeError, match=r"window start 2026-11-24T10:00:00 has no timezone"):
        Window(datetime(2026, 11, 24, 10), at(11))


def test_errors_are_the_providers_bad_input_errors() -> None:
    from airflow_provider_rtp.exceptions import InvalidInputError, RtpError

    assert issubclass(CompletenessError, InvalidInputError) and issubclass(InvalidInputError, RtpError)
    assert not issubclass(CompletenessError, ValueError)
    for error in (NaiveDatetimeError, InvalidWindowError, InvalidPolicyError, MalformedRecordError):
        assert issubclass(error, CompletenessError)


def test_non_datetime_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="window end must be a datetime"):
        Window(at(10), "11:00")  # type: ignore[arg-type]


@pytest.mark.parametrize("end", [at(10), at(9)])
def test_window_end_not_after_start_is_refused(end: datetime) -> None:
    with pytest.raises(InvalidWindowError, match="is not after its start 2026-11-24T10:00:00Z"):
        Window(at(10), end)


def test_window_in_another_timezone_is_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    window = Window(datetime(2026, 11, 24, 11, tzinfo=cet), datetime(2026, 11, 24, 12, tzinfo=cet))
    assert window.start == at(10) and window.start.tzinfo is UTC


def test_target_is_end_plus_lateness_plus_margin() -> None:
    policy = Policy(allowed_lateness=timedelta(minutes=2), clock_skew_margin=timedelta(seconds=5))
    assert Window(at(10), at(11)).target(policy) == at(11, 2, 5)


def test_target_ms_rounds_up_to_whole_milliseconds() -> None:
    window = Window(at(10), at(11).replace(microsecond=1))
    policy = Policy(clock_skew_margin=timedelta(0))
    assert window.target_ms(policy) == int(at(11).timestamp() * 1000) + 1
    assert Window(at(10), at(11)).target_ms(policy) == int(at(11).timestamp() * 1000)


def test_window_label() -> None:
    assert Window(at(10), at(11)).label() == "2026-11-24T10:00Z..11:00Z"
    assert Window(at(23), at(23) + timedelta(hours=1)).label() == "2026-11-24T23:00Z..2026-11-25T00:00Z"
    assert Window(at(10, 0, 30), at(11)).label() == "2026-11-24T10:00:30Z..11:00Z"


def test_window_round_trip_and_bad_records() -> None:
    window = Window(at(10), at(11))
    assert Window.from_dict(window.to_dict()) == window
    with pytest.raises(MalformedRecordError):
        Window.from_dict({"start": "2026-11-24T10:00:00"})
    with pytest.raises(MalformedRecordError, match="no timezone"):
        Window.from_dict({"start": "2026-11-24T10:00:00", "end": "2026-11-24T11:00:00Z"})


@pytest.mark.parametrize(
    "field", ["allowed_lateness", "idle_timeout", "clock_skew_margin", "future_window_limit"]
)
def test_negative_durations_are_refused(field: str) -> None:
    with pytest.raises(InvalidPolicyError, match=f"{field} must not be negative"):
        Policy(**{field: timedelta(seconds=-1)})


def test_lateness_as_a_number_is_refused_with_an_example() -> None:
    with pytest.raises(InvalidPolicyError, match=r"timedelta\(minutes=2\)"):
        Policy(allowed_lateness=120)  # type: ignore[arg-type]


def test_on_job_down_accepts_strings_and_refuses_others() -> None:
    assert Policy(on_job_down="fail").on_job_down is JobDownBehaviour.FAIL  # type: ignore[arg-type]
    with pytest.raises(InvalidPolicyError, match="'wait', 'fail'"):
        Policy(on_job_down="retry")  # type: ignore[arg-type]


def test_policy_defaults_are_stated() -> None:
    policy = Policy()
    assert policy.allowed_lateness == timedelta(0)
    assert policy.clock_skew_margin == DEFAULT_CLOCK_SKEW_MARGIN == timedelta(seconds=5)
    assert policy.on_job_down is JobDownBehaviour.WAIT


def test_policy_round_trip() -> None:
    policy = Policy(
        timedelta(minutes=2), timedelta(seconds=90), timedelta(milliseconds=1500), JobDownBehaviour.FAIL
    )
    assert Policy.from_dict(policy.to_dict()) == policy
    with pytest.raises(MalformedRecordError, match="unknown policy keys"):
        Policy.from_dict({"lateness": 3})
    with pytest.raises(MalformedRecordError, match="number of seconds"):
        Policy.from_dict({"idle_timeout": "5m"})


def test_window_far_in_the_future_is_refused() -> None:
    future = Window(at(10) + timedelta(days=400), at(11) + timedelta(days=400))
    with pytest.raises(InvalidWindowError, match=r"Policy\.future_window_limit"):
        run(window=future, kafka_obs=kafka(target=future.end + timedelta(minutes=2)))


def test_window_ending_shortly_after_now_is_evaluated_and_waits() -> None:
    soon = Window(NOW, NOW + timedelta(hours=1))
    decision = run(window=soon, kafka_obs=kafka(target=soon.end + timedelta(minutes=2)))
    assert not decision.is_complete


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="now"):
        run(now=datetime(2026, 11, 24, 11, 5))
