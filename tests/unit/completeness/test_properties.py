"""Properties over random pipelines: never early, and once complete, progress keeps it complete."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_rtp.completeness import Decision, Verdict, decide
from tests.unit.completeness.world import World, progress, worlds

SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(worlds())
def test_never_complete_while_a_record_before_the_target_is_not_covered(world: World) -> None:
    decision = decide(world.observations(), world.policy, world.now)
    if decision.verdict is Verdict.COMPLETE:
        assert decision.snapshot_id is not None
        assert world.uncovered(decision.snapshot_id) == [], decision.report()


@SETTINGS
@given(worlds())
def test_never_complete_before_the_target_time(world: World) -> None:
    decision = decide(world.observations(), world.policy, world.now)
    if decision.is_complete:
        assert world.now >= world.target


@SETTINGS
@given(st.data())
def test_once_complete_progress_keeps_it_complete(data: st.DataObject) -> None:
    world = data.draw(worlds())
    decision = decide(world.observations(), world.policy, world.now)
    if decision.verdict is not Verdict.COMPLETE:
        return
    later = data.draw(progress(world))
    again = decide(later.observations(), later.policy, later.now)
    assert again.verdict is Verdict.COMPLETE, f"{decision.report()}\n--- later ---\n{again.report()}"
    assert later.uncovered(again.snapshot_id) == []  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_every_decision_round_trips_and_renders(world: World) -> None:
    decision = decide(world.observations(), world.policy, world.now)
    assert Decision.from_dict(json.loads(json.dumps(decision.to_dict()))) == decision
    lines = decision.report().splitlines()
    assert lines[0].startswith("window 2026-11-24T10:00Z..11:00Z")
    assert [line.split()[0] for line in lines[1:5]] == ["cdc", "kafka", "job", "iceberg"]
