"""Observations that cannot describe a real system are refused, naming the value."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airflow_provider_rtp.completeness import (
    JobObservation,
    KafkaObservation,
    LagSample,
    MalformedObservationError,
    NaiveDatetimeError,
    Observations,
    PartitionObservation,
)
from tests.unit.completeness.builders import TARGET, WINDOW, at, job, kafka, part, run


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"log_start": 10, "end": 5}, "log start offset 10 is beyond the end offset 5"),
        ({"end": -1}, "end offset must not be negative"),
        ({"committed": True}, "committed offset must be an int"),
        (
            {"committed": 50, "fuo": 40},
            "first unconsumed offset 40 must be at or after the committed offset 50",
        ),
        ({"committed": None, "fuo": 40}, "first unconsumed offset 40"),
        ({"fut": at(10)}, "needs the offset of that record"),
    ],
)
def test_malformed_partitions_name_the_value(kwargs: dict, match: str) -> None:
    with pytest.raises(MalformedObservationError, match=match):
        part(**kwargs)


def test_partition_timestamps_must_be_aware() -> None:
    with pytest.raises(NaiveDatetimeError):
        part(committed=5, fuo=5, fut=datetime(2026, 11, 24, 10))


def test_has_data_in_lag_follows_the_first_unconsumed_record() -> None:
    assert part(committed=5, fuo=7, fut=at(10)).has_data_in_lag
    assert not part(committed=99, fuo=None).has_data_in_lag


def test_partitions_must_be_present_and_unique() -> None:
    with pytest.raises(MalformedObservationError, match="no partitions observed for group 'g'"):
        KafkaObservation("g", TARGET, ())
    with pytest.raises(MalformedObservationError, match=r"orders.p3 observed twice"):
        kafka(part(3), part(3))


def test_offsets_looked_up_for_another_target_are_refused() -> None:
    with pytest.raises(MalformedObservationError, match=r"look offsets up at Window\.target_ms"):
        run(kafka_obs=kafka(target=at(11)))


def test_unknown_job_state_is_malformed() -> None:
    with pytest.raises(MalformedObservationError, match="unknown Flink job state 'EXPLODED'"):
        job("EXPLODED")


def test_job_needs_an_id_and_a_sane_checkpoint() -> None:
    with pytest.raises(MalformedObservationError, match="job id"):
        JobObservation("", "x", "RUNNING")  # type: ignore[arg-type]
    with pytest.raises(MalformedObservationError, match="checkpoint id must not be negative"):
        job(checkpoint=-3)


def test_lag_sample_needs_timedeltas() -> None:
    with pytest.raises(MalformedObservationError, match="emit_lag must be a timedelta"):
        LagSample("c", at(11), timedelta(0), 1500, timedelta(0))  # type: ignore[arg-type]
    with pytest.raises(MalformedObservationError, match="idle must not be negative"):
        LagSample("c", at(11), timedelta(0), None, timedelta(seconds=-1))
    sample = LagSample("c", at(11), timedelta(seconds=10), timedelta(seconds=3), timedelta(seconds=7))
    assert sample.watermark == at(10, 59, 40) and sample.emitted_by == at(10, 59, 53)


def test_observations_check_their_parts() -> None:
    with pytest.raises(MalformedObservationError, match="commit must be a CommitStage"):
        Observations(WINDOW, kafka(), job(), commit=object())  # type: ignore[arg-type]
    with pytest.raises(MalformedObservationError, match="kafka must be a KafkaObservation"):
        Observations(WINDOW, [part()], job(), commit=object())  # type: ignore[arg-type]


def test_observations_are_frozen() -> None:
    p = part()
    with pytest.raises(AttributeError):
        p.committed = 3  # type: ignore[misc]
    assert isinstance(p, PartitionObservation)
