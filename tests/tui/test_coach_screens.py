"""The coach in the dashboard: the real app, the real pipeline, a simulated wearer's wire bytes.

Pilot tests drive the keys and check what the coach measured against the simulator's truth and
what it recorded; snapshot tests keep the pictures at 80×24 and 120×40 (regenerate with
`pytest tests/tui --snapshot-update` and look at the SVGs before committing them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_app, settle, sim_items, wait_at_stop
from textual.pilot import Pilot

from firmware_sim.exercises import exercise_truth
from monitor.coach.range_test import RangePhase, RangeTest
from monitor.coach.routine import RoutineRun, StepStatus
from monitor.coach.simulated import RANGE_SCENARIO, routine_scenario
from monitor.exercises import load_catalogue
from monitor.recording import SessionRecorder
from monitor.recording.reader import Recording
from monitor.tui.screens.coach import CoachMenuScreen, CoachScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
LATERAL = routine_scenario(load_catalogue().routines["lateral_left"])


async def open_coach(pilot: Pilot[None], key: str) -> CoachScreen:
    await pilot.press("e")
    assert isinstance(pilot.app.screen, CoachMenuScreen)
    await pilot.press(key)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CoachScreen)
    return screen


async def test_the_range_test_measures_the_wearer(tmp_path: Path) -> None:
    sim = sim_items(RANGE_SCENARIO, 3, 50)
    app, transport = make_app(sim, stops=(0,))
    recorder = SessionRecorder(tmp_path / "s.tiltmon", transport="sim:test", started_at=0.0)
    app.session.recorder = recorder
    async with app.run_test() as pilot:
        await transport.waiting.wait()
        screen = await open_coach(pilot, "r")
        transport.go()
        await settle(pilot, app, transport)
        test = screen.machine
        assert isinstance(test, RangeTest) and test.phase is RangePhase.DONE
        assert test.result is not None
        truth = exercise_truth(RANGE_SCENARIO, 3)
        sag = [r for r in truth.reps if r.movement == "range_sagittal"]
        fwd = np.mean([r.range_deg for r in sag if r.direction > 0])
        back = np.mean([r.range_deg for r in sag if r.direction < 0])
        assert test.result.sagittal_range_deg == pytest.approx(fwd + back, abs=2.0)
        await pilot.press("escape")
    recorder.close()
    with Recording(tmp_path / "s.tiltmon") as rec:
        kinds = [e.kind for e in rec.app_events()]
    assert kinds.count("CoachRangeTest") == 1


async def test_a_routine_counts_per_side_and_records_what_was_done(tmp_path: Path) -> None:
    sim = sim_items(LATERAL, 1, 50)
    app, transport = make_app(sim, stops=(0,))
    recorder = SessionRecorder(tmp_path / "s.tiltmon", transport="sim:test", started_at=0.0)
    app.session.recorder = recorder
    async with app.run_test() as pilot:
        await transport.waiting.wait()
        screen = await open_coach(pilot, "3")  # the third routine: lateral_left
        transport.go()
        await settle(pilot, app, transport)
        run = screen.machine
        assert isinstance(run, RoutineRun) and run.finished
        truth = exercise_truth(LATERAL, 1)
        expected = {}
        for s in truth.sets:
            if s.movement != "hold":
                expected.setdefault(s.movement, {})[s.side] = s.done
        names = {
            "Hip hike (standing on the left leg)": "hip_hike",
            "Side-lying leg raise (left leg)": "side_leg_raise",
        }
        got = {names[k]: v for k, v in run.result().counts().items()}
        assert got == expected
        await pilot.press("escape")
    recorder.close()
    with Recording(tmp_path / "s.tiltmon") as rec:
        found = [e for e in rec.app_events() if e.kind.startswith("Coach")]
    assert [e.kind for e in found] == ["CoachStep"] * 3 + ["CoachRoutine"]
    assert found[-1].data["completed"] is True


@pytest.mark.slow
async def test_pause_skip_and_stop_from_the_keys(tmp_path: Path) -> None:
    sim = sim_items(LATERAL, 1, 50)
    app, transport = make_app(sim, stops=(0, sim.index_at(40.0), sim.index_at(60.0)))
    recorder = SessionRecorder(tmp_path / "s.tiltmon", transport="sim:test", started_at=0.0)
    app.session.recorder = recorder
    async with app.run_test() as pilot:
        await transport.waiting.wait()
        screen = await open_coach(pilot, "3")
        transport.go()
        await wait_at_stop(pilot, app, transport)  # 40 s in: hip hikes under way
        run = screen.machine
        assert isinstance(run, RoutineRun) and run.counter is not None
        before = run.counter.count
        assert before > 0
        await pilot.press("p")
        assert run.paused
        transport.go()
        await wait_at_stop(pilot, app, transport)  # 20 s of hikes while paused: not counted
        assert run.counter.count == before
        await pilot.press("p")
        await pilot.press("n")
        assert run.results[0].status is StepStatus.SKIPPED
        await pilot.press("x")
        assert run.finished and not run.result().completed
        await pilot.press("escape")
    recorder.close()
    with Recording(tmp_path / "s.tiltmon") as rec:
        found = [e for e in rec.app_events() if e.kind.startswith("Coach")]
    assert [e.data.get("status") for e in found[:2]] == ["skipped", "stopped"]
    assert found[-1].kind == "CoachRoutine" and found[-1].data["completed"] is False


@pytest.mark.parametrize("size", SIZES)
def test_range_test_picture(snap_compare: Any, size: tuple[int, int]) -> None:
    sim = sim_items(RANGE_SCENARIO, 3, 50)
    app, transport = make_app(sim, stops=(0, sim.index_at(38.0)))

    async def run_before(pilot: Pilot[None]) -> None:
        await transport.waiting.wait()
        await open_coach(pilot, "r")
        transport.go()
        await wait_at_stop(pilot, app, transport)
        screen = app.screen
        assert isinstance(screen, CoachScreen)
        screen.refresh_view()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_routine_picture(snap_compare: Any, size: tuple[int, int]) -> None:
    sim = sim_items(LATERAL, 1, 50)
    app, transport = make_app(sim, stops=(0, sim.index_at(70.0)))

    async def run_before(pilot: Pilot[None]) -> None:
        await transport.waiting.wait()
        await open_coach(pilot, "3")
        transport.go()
        await wait_at_stop(pilot, app, transport)
        screen = app.screen
        assert isinstance(screen, CoachScreen)
        screen.refresh_view()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
