"""Pictures of the dashboard at 80×24 and 120×40, on deterministic data (the real pipeline).

Regenerate after an intended change with `pytest tests/tui --snapshot-update`, and look at the
SVGs in tests/tui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_app, settle, sim_items, wait_at_stop
from textual.pilot import Pilot

from monitor.config import UserConfig, save_config
from monitor.nudge import NudgeConfig
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.nudge import NudgeScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
THEMES = ["textual-dark", "textual-light"]


def short_nudges() -> None:
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=20, firm_min=60)))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))

    async def run_before(pilot: Pilot[None]) -> None:
        app.theme = theme
        await settle(pilot, app, transport)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_nudge(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    short_nudges()
    app, transport = make_app(sim_items("sitting", 2, 25, 21 * 60), calibrated=True)

    async def run_before(pilot: Pilot[None]) -> None:
        app.theme = theme
        await settle(pilot, app, transport)
        assert isinstance(app.screen, NudgeScreen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_calibration_wizard(snap_compare: Any, size: tuple[int, int]) -> None:
    sim = sim_items("calibration", 0, 50)
    # Open the wizard before the data flows, and stop the data 4 s into the walk.
    app, transport = make_app(sim, stops=(0, sim.index_at(9.0)))

    async def run_before(pilot: Pilot[None]) -> None:
        await transport.waiting.wait()
        await pilot.press("c")
        assert isinstance(app.screen, CalibrationScreen)
        transport.go()
        await wait_at_stop(pilot, app, transport)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_settings(
    snap_compare: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fixed path for the picture ("Saved to ..."); the screen writes nothing unless saved.
    monkeypatch.setenv("TILTMON_CONFIG_DIR", "/home/wearer/.config/tiltmon")
    app, transport = make_app(sim_items("desk_short", 1, 50))

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, app, transport)
        await pilot.press("o")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, app, transport)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
