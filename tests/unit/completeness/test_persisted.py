"""The persisted decision: re-running a decided window hands out the same snapshot."""

from __future__ import annotations

import json

import pytest

from airflow_provider_rtp.completeness import (
    CheckpointCommitStage,
    CompletenessError,
    MalformedRecordError,
    PersistedDecision,
)
from tests.unit.completeness.builders import JOB_ID, chain, job, run, table


def test_persisted_decision_round_trips_through_json() -> None:
    stored = PersistedDecision.from_decision(run())
    raw = json.loads(json.dumps(stored.to_dict()))
    assert raw["snapshot_id"] == 2 and raw["checkpoint_id"] == 8812 and raw["job_id"] == JOB_ID
    assert raw["window"] == {"start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z"}
    assert raw["decided_at"] == "2026-11-24T11:05:00Z"
    assert raw["watermarks"]["cdc"] == "2026-11-24T11:03:41Z"
    assert PersistedDecision.from_dict(raw) == stored


def test_only_complete_decisions_are_persisted() -> None:
    with pytest.raises(CompletenessError, match="only complete decisions"):
        PersistedDecision.from_decision(run(tbl=table(*chain(8809))))


def test_rerun_of_a_decided_window_returns_the_same_snapshot() -> None:
    stored = PersistedDecision.from_decision(run())
    later = table(*chain(8809, 8812, 8830, 8840))
    assert stored.resolve(later).snapshot_id == 2
    # Decided afresh now, the window would get a newer (still covering) snapshot; the stored one stands.
    assert run(tbl=later, job_obs=job(checkpoint=8840)).snapshot_id == 4


def test_expired_covering_snapshot_uses_current_descendant() -> None:
    stored = PersistedDecision.from_decision(run())
    after_expiry = table(*chain(8809, 8812, 8830, None)[2:])
    res = stored.resolve(after_expiry)
    assert (res.snapshot_id, res.expired) == (4, True)


def test_key_is_per_target_and_window() -> None:
    assert (
        PersistedDecision.from_decision(run()).key == "ods.orders/2026-11-24T10:00:00Z/2026-11-24T11:00:00Z"
    )


def test_clickhouse_decision_persists_without_a_snapshot() -> None:
    stored = PersistedDecision.from_decision(run(commit=CheckpointCommitStage("ch.orders")))
    assert stored.snapshot_id is None and stored.target == "ch.orders"
    with pytest.raises(CompletenessError, match="names no Iceberg snapshot"):
        stored.resolve(table())


@pytest.mark.parametrize("raw", [None, {}, {"version": 1}, {"version": 2, "target": "x"}])
def test_malformed_persisted_records_are_refused(raw: object) -> None:
    with pytest.raises(MalformedRecordError):
        PersistedDecision.from_dict(raw)
