"""The dashboard driven by its keys, on the real pipeline (deterministic data or the real radio)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import T0, make_app, settle, sim_items, wait_at_stop

from monitor.config import UserConfig, load_config, save_config
from monitor.nudge import NudgeConfig
from monitor.pipeline import MountingSource
from monitor.session import Session
from monitor.transport.ble import StreamSettings
from monitor.transport.sim import SimulatedSensorTransport
from monitor.tui.app import DashboardApp
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.help import HelpScreen
from monitor.tui.screens.nudge import NudgeScreen
from monitor.tui.screens.settings import SettingsScreen


def long_sit(stop_at_s: float) -> tuple[DashboardApp, object]:
    """33 minutes sitting; gentle nudge at 20, nothing firm before 60; the data stop at a time."""
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=20, firm_min=60, snooze_min=10)))
    sim = sim_items("sitting", 2, 25, 33 * 60)
    return make_app(sim, calibrated=True, stops=(sim.index_at(stop_at_s),))


@pytest.mark.slow
async def test_snooze_delays_the_nudge() -> None:
    app, transport = long_sit(21.5 * 60)
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        assert isinstance(app.screen, NudgeScreen)
        first = app.state.last_nudge
        assert first is not None
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, NudgeScreen)
        until = app.state.live.pipeline.nudge_state.snoozed_until
        assert until is not None and until >= first.t + 10 * 60
        transport.go()
        await settle(pilot, app, transport)
        again = app.state.last_nudge
        assert again is not None and again.t > first.t
        assert until <= again.t < until + 5  # back as soon as the snooze ended, not before
        assert isinstance(app.screen, NudgeScreen)
        assert app.state.live.totals.nudges_shown == 2


@pytest.mark.slow
async def test_dismiss_clears_the_nudge() -> None:
    app, transport = long_sit(21.5 * 60)
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        assert isinstance(app.screen, NudgeScreen)
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, NudgeScreen)
        assert app.state.live.pipeline.nudge_state.pending is None
        transport.go()
        await settle(pilot, app, transport)
        assert not isinstance(app.screen, NudgeScreen)  # nothing more until the firm one
        assert app.state.live.totals.nudges_shown == 1


@pytest.mark.slow
async def test_settings_are_checked_saved_and_kept_after_a_restart(tmp_path: Path) -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot, app, transport)
        await pilot.press("o")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#field-gentle_min").value = "10"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # not saved: the error is shown by the field
        help_text = str(screen.query_one("#help-gentle_min").render())
        assert "between 20" in help_text
        assert not (tmp_path / "config" / "config.toml").exists()
        screen.query_one("#field-gentle_min").value = "30"  # type: ignore[attr-defined]
        screen.query_one("#field-firm_min").value = "50"  # type: ignore[attr-defined]
        screen.query_one("#field-quiet_hours").value = "12:30-13:30"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
        # The running policy has them at once.
        assert app.state.nudge_config.gentle_min == 30
        await pilot.press("q")
    saved = load_config().nudge
    assert (saved.gentle_min, saved.firm_min) == (30, 50)
    assert [f"{q}" for q in saved.quiet_hours] == ["12:30–13:30"]

    restarted, transport = make_app(sim_items("desk_short", 1, 50))
    async with restarted.run_test() as pilot:
        await settle(pilot, restarted, transport)
        assert restarted.state.nudge_config.gentle_min == 30
        await pilot.press("o")
        await pilot.pause()
        assert restarted.screen.query_one("#field-firm_min").value == "50"  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_help_opens_and_closes() -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))
    async with app.run_test() as pilot:
        await settle(pilot, app, transport)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.slow
async def test_the_day_s_numbers_are_on_screen() -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))
    async with app.run_test() as pilot:
        await settle(pilot, app, transport)
        totals = app.state.live.totals
        assert totals.sitting_s > 60
        assert app.state.timeline and app.state.timeline[-1].t > T0
        assert app.state.live.link.battery_percent == 87


@pytest.mark.slow
async def test_the_wizard_calibrates_against_the_simulated_sensor(tmp_path: Path) -> None:
    """Real radio, real time (about 16 s): stand still, walk, saved, and the pipeline uses it."""
    transport = SimulatedSensorTransport("calibration", settings=StreamSettings(rate_hz=50))
    app = DashboardApp(Session(transport, label="sim:calibration"), bell=False, blink=False)
    async with app.run_test() as pilot:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)
        async with asyncio.timeout(60):
            while screen.result is None and screen.error is None:
                await pilot.pause(0.2)
        assert screen.error is None
        assert screen.saved_to is not None and screen.saved_to.exists()
        assert screen.saved_to.is_relative_to(tmp_path)
        assert app.state.live.pipeline.mounting_source is MountingSource.PROFILE
        await pilot.press("escape")
        await pilot.press("q")
