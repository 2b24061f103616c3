"""The Decision: verdict rules, what it carries, and its JSON form."""

from __future__ import annotations

import copy
import json

import pytest

from airflow_provider_rtp.completeness import (
    Decision,
    MalformedRecordError,
    Stage,
    StageStatus,
    Verdict,
)
from tests.unit.completeness.builders import (
    NOW,
    TARGET,
    at,
    chain,
    heartbeat,
    job,
    kafka,
    observe,
    part,
    run,
    table,
)


def _scenarios() -> list[Decision]:
    return [
        run(),
        run(cdc=heartbeat(at(11))),
        run(
            kafka_obs=kafka(
                part(0, committed=None), part(1, end=120, committed=80, b_p=90, fuo=80, fut=at(11))
            )
        ),
        run(job_obs=job("FAILED")),
        run(tbl=table(*chain(8801, 8803))),
        run(cdc=None, kafka_obs=kafka(part(b_p=None))),
    ]


@pytest.mark.parametrize("decision", _scenarios(), ids=lambda d: f"{d.verdict.value}-{d.blocking}")
def test_decision_round_trips_through_json(decision: Decision) -> None:
    raw = json.loads(json.dumps(decision.to_dict()))
    again = Decision.from_dict(raw)
    assert again == decision
    assert again.report() == decision.report()


def test_complete_decision_carries_snapshot_checkpoint_job_and_watermarks() -> None:
    decision = run()
    assert decision.is_complete
    assert (decision.snapshot_id, decision.checkpoint_id) == (2, 8812)
    assert decision.watermarks() == {"cdc": "2026-11-24T11:03:41Z", "kafka": "2026-11-24T11:05:00Z"}
    assert decision.target == TARGET and decision.decided_at == NOW


def test_waiting_decision_names_no_snapshot() -> None:
    decision = run(tbl=table(*chain(8809)))
    assert decision.commit is None and decision.snapshot_id is None


def test_every_stage_is_reported_even_when_kafka_blocks() -> None:
    decision = run(
        kafka_obs=kafka(part(end=120, committed=80, b_p=90, fuo=80, fut=at(11))), tbl=table(*chain(8809))
    )
    assert [s.stage for s in decision.stages] == [Stage.CDC, Stage.KAFKA, Stage.JOB, Stage.ICEBERG]
    assert decision.blocking is Stage.KAFKA
    assert decision.stage(Stage.ICEBERG).status is StageStatus.WAITING  # type: ignore[union-attr]


def test_blocking_is_the_first_stage_in_order_that_does_not_hold() -> None:
    decision = run(cdc=heartbeat(at(11)), tbl=table(*chain(8809)))
    assert decision.blocking is Stage.CDC


def test_kafka_held_at_is_set_only_when_cdc_and_kafka_held() -> None:
    assert run(tbl=table(*chain(8809))).kafka_held_at == NOW
    assert run(cdc=heartbeat(at(11))).kafka_held_at is None


def test_decide_is_pure() -> None:
    obs = observe()
    before = copy.deepcopy(obs)
    assert run(obs) == run(obs)
    assert obs == before


def test_from_dict_refuses_other_versions_and_garbage() -> None:
    raw = run().to_dict()
    with pytest.raises(MalformedRecordError, match="version"):
        Decision.from_dict({**raw, "version": 99})
    with pytest.raises(MalformedRecordError):
        Decision.from_dict({**raw, "verdict": "maybe"})
    with pytest.raises(MalformedRecordError):
        Decision.from_dict({**raw, "stages": [{"stage": "cdc"}]})
    with pytest.raises(MalformedRecordError):
        Decision.from_dict("complete")


def test_complete_without_commit_is_not_a_decision() -> None:
    raw = run().to_dict()
    with pytest.raises(MalformedRecordError, match="needs a commit"):
        Decision.from_dict({**raw, "commit": None})
    with pytest.raises(MalformedRecordError, match="stage that blocks"):
        Decision.from_dict({**raw, "verdict": Verdict.WAITING.value})
