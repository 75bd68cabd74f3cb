"""Scenario registry and the structure of the office day."""

from __future__ import annotations

import itertools

import pytest

from firmware_sim.motion import Activity, Segment, TiltZone
from firmware_sim.scenarios import (
    BOUT_MAX_S,
    BOUT_MIN_S,
    DAY_S,
    SCENARIOS,
    build_scenario,
    scenario_names,
)

REQUIRED = {
    "office_day",
    "standing",
    "sitting",
    "slump",
    "anterior",
    "lateral_left",
    "lateral_right",
    "walk",
    "sit_stand",
    "lying",
    "desk_short",
    "calibration",
}


def test_registry_lists_every_scenario() -> None:
    assert set(scenario_names()) >= REQUIRED
    assert scenario_names() == list(SCENARIOS)
    for name, spec in SCENARIOS.items():
        assert spec.name == name and spec.description


def test_unknown_names_are_rejected_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'") as info:
        build_scenario("nope")
    for name in REQUIRED:
        assert name in str(info.value)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_scenarios_are_seeded_and_well_formed(name: str) -> None:
    a, b, c = build_scenario(name, 7), build_scenario(name, 7), build_scenario(name, 8)
    assert a.segments == b.segments
    assert a.segments != c.segments
    assert a.duration_s > 0.0
    segs = a.segments
    assert segs[0].activity is Activity.STANDING  # every scenario starts on its feet
    for prev, seg in itertools.pairwise(segs):
        # a change of body class (upright / seated / lying) always goes through a transition
        if Activity.TRANSITION not in (prev.activity, seg.activity):
            assert _cls(prev) == _cls(seg), (prev, seg)
        if seg.activity is Activity.TRANSITION:
            assert seg.zone is TiltZone.NONE
            assert 2.0 <= seg.duration_s <= 5.0
    assert segs[-1].activity is not Activity.TRANSITION


def _cls(seg: Segment) -> int:
    return {Activity.SITTING: 1, Activity.LYING: 2}.get(seg.activity, 0)


def test_short_scenarios_contain_what_their_names_promise() -> None:
    def zones(name: str) -> set[tuple[Activity, TiltZone]]:
        return {(s.activity, s.zone) for s in build_scenario(name, 0).segments}

    assert (Activity.SITTING, TiltZone.POSTERIOR) in zones("slump")
    assert (Activity.SITTING, TiltZone.ANTERIOR) in zones("anterior")
    for name, side in (("lateral_left", TiltZone.LEFT), ("lateral_right", TiltZone.RIGHT)):
        assert {(Activity.SITTING, side), (Activity.STANDING, side)} <= zones(name)
    assert (Activity.WALKING, TiltZone.NEUTRAL) in zones("walk")
    sit_stand = build_scenario("sit_stand", 0).segments
    assert sum(s.activity is Activity.TRANSITION for s in sit_stand) >= 10
    lying = [s for s in build_scenario("lying", 0).segments if s.activity is Activity.LYING]
    assert any(s.sagittal_deg < -75 for s in lying)  # supine
    assert any(s.frontal_deg < -75 for s in lying) and any(s.frontal_deg > 75 for s in lying)
    desk = build_scenario("desk_short", 0)
    assert 120.0 < desk.duration_s < 600.0
    assert {s.activity for s in desk.segments} == set(Activity) - {
        Activity.LYING,
        Activity.NOT_WORN,
    }
    assert {s.zone for s in desk.segments} == set(TiltZone)


def test_calibration_starts_still_then_walks_straight() -> None:
    segs = build_scenario("calibration", 3).segments
    first, second = segs[0], segs[1]
    assert first.activity is Activity.STANDING and first.duration_s >= 5.0
    assert first.fidget == 0.0 and first.sagittal_deg == 0.0 and first.frontal_deg == 0.0
    assert second.activity is Activity.WALKING and 8.0 <= second.duration_s <= 15.0
    assert not second.turns
    assert {s.activity for s in segs[2:]} >= {Activity.SITTING, Activity.WALKING}


def _runs(segs: tuple[Segment, ...]) -> list[tuple[bool, float, float, tuple[Segment, ...]]]:
    """Maximal runs of sitting / non-sitting segments: (sitting, start, end, segments)."""
    runs: list[tuple[bool, float, float, tuple[Segment, ...]]] = []
    t = 0.0
    for s in segs:
        sitting = s.activity is Activity.SITTING
        if runs and runs[-1][0] == sitting:
            kind, start, _, members = runs[-1]
            runs[-1] = (kind, start, t + s.duration_s, (*members, s))
        else:
            runs.append((sitting, t, t + s.duration_s, (s,)))
        t += s.duration_s
    return runs


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_office_day_structure(seed: int) -> None:
    scen = build_scenario("office_day", seed)
    segs = scen.segments
    assert scen.duration_s == pytest.approx(DAY_S, abs=1e-6)
    assert all(s.activity is not Activity.LYING for s in segs)
    runs = _runs(segs)
    # a break is a non-sitting stretch of a minute or more; shorter ones are brief stand-ups
    breaks = [r for r in runs[1:-1] if not r[0] and r[2] - r[1] >= 60.0]
    standups = [r for r in runs[1:-1] if not r[0] and r[2] - r[1] < 60.0]
    assert len(standups) >= 2
    assert all(any(m.activity is Activity.STANDING for m in r[3]) for r in standups)
    assert len(breaks) >= 3
    assert all(r[2] - r[1] >= 3 * 60.0 for r in breaks)
    walking = [sum(m.duration_s for m in r[3] if m.activity is Activity.WALKING) for r in breaks]
    assert all(w > 0.0 for w in walking)
    lunch = [r for r, w in zip(breaks, walking, strict=True) if r[2] - r[1] >= 20 * 60.0]
    assert len(lunch) == 1 and 2.5 * 3600 < lunch[0][1] < 5.5 * 3600
    # sitting bouts run from one break to the next (brief stand-ups do not end them)
    edges = [0.0] + [x for r in breaks for x in (r[1], r[2])] + [DAY_S]
    first_sit = next(i for i, r in enumerate(runs) if r[0])
    last_sit = max(i for i, r in enumerate(runs) if r[0])
    bouts = []
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        inside = [r for r in runs[first_sit : last_sit + 1] if r[0] and lo <= r[1] and r[2] <= hi]
        if inside:
            bouts.append(inside[-1][2] - inside[0][1])
    assert len(bouts) == len(breaks) + 1
    for length in bouts:
        assert BOUT_MIN_S - 1e-6 <= length <= BOUT_MAX_S + 1e-6
    # slumping creeps in over minutes; leans and anterior tilts happen; most of the day is seated
    slumps = [s for s in segs if s.zone is TiltZone.POSTERIOR]
    assert slumps and max(s.ramp_s for s in slumps) >= 120.0
    assert any(s.zone in (TiltZone.LEFT, TiltZone.RIGHT) for s in segs)
    assert any(s.zone is TiltZone.ANTERIOR for s in segs)
    seated = sum(s.duration_s for s in segs if s.activity is Activity.SITTING)
    assert 0.7 * DAY_S < seated < 0.95 * DAY_S
