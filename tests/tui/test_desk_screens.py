"""The desk features on screen: pause and snooze lengths, strict mode, history, the guide.

Pilot tests on the real pipeline over deterministic data, and pictures at 80×24 and 120×40 in
the dark and the light theme.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
from typing import Any

import pytest
from conftest import T0, make_app, settle, sim_items, wait_at_stop
from recordings import record_day
from textual.pilot import Pilot

from monitor.commands.dashboard import guide_due
from monitor.config import UserConfig, save_config
from monitor.nudge import NudgeConfig
from monitor.recording import sessions_dir
from monitor.tui.app import DashboardApp
from monitor.tui.screens.guide import GuideScreen
from monitor.tui.screens.history import HistoryScreen
from monitor.tui.screens.nudge import NudgeScreen
from monitor.tui.screens.pause import PauseScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
THEMES = [pytest.param("textual-dark", id="dark"), pytest.param("textual-light", id="light")]
LAST = dt.date(2026, 11, 20)


def long_sit(
    stop_at_s: float, *, strict: bool = False, snooze_min: float = 10
) -> tuple[DashboardApp, Any]:
    """33 minutes sitting, gentle nudge at 20 min; the data stop at a chosen time."""
    config = NudgeConfig(gentle_min=20, firm_min=60, snooze_min=snooze_min, strict=strict)
    save_config(UserConfig(nudge=config))
    sim = sim_items("sitting", 2, 25, 33 * 60)
    return make_app(sim, calibrated=True, stops=(sim.index_at(stop_at_s),))


@pytest.mark.slow
async def test_pause_for_a_meeting_and_until_tomorrow() -> None:
    app, transport = long_sit(21.5 * 60)
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        assert isinstance(app.screen, NudgeScreen)
        now = app.state.data_time()
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PauseScreen)
        await pilot.press("4")  # an hour's meeting
        await pilot.pause()
        assert not isinstance(app.screen, (PauseScreen, NudgeScreen))
        until = app.state.live.pipeline.nudge_state.snoozed_until
        assert until == pytest.approx(now + 3600, abs=0.01)
        await pilot.press("p", "5")  # the rest of the day (the test's clock: UTC)
        await pilot.pause()
        midnight = dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=1)
        midnight_t = dt.datetime.combine(midnight, dt.time(), dt.UTC).timestamp()
        until = app.state.live.pipeline.nudge_state.snoozed_until
        assert until == pytest.approx(midnight_t, abs=1.0)
        transport.go()
        await settle(pilot, app, transport)
        assert app.state.live.totals.nudges_shown == 1  # nothing more today


@pytest.mark.slow
async def test_a_snooze_length_chosen_at_the_prompt() -> None:
    app, transport = long_sit(21.5 * 60, snooze_min=20)  # the usual snooze: 20 minutes
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        first = app.state.last_nudge
        assert first is not None
        snoozed_at = app.state.data_time()
        await pilot.press("p", "1")  # this time: 10 minutes
        await pilot.pause()
        transport.go()
        await settle(pilot, app, transport)
        again = app.state.last_nudge
        assert again is not None and again.t > first.t
        until = snoozed_at + 10 * 60
        assert until <= again.t < until + 5  # back when the 10 minutes were up


@pytest.mark.slow
async def test_strict_mode_leaves_the_nudge_until_a_real_break() -> None:
    app, transport = long_sit(21.5 * 60, strict=True)
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        assert isinstance(app.screen, NudgeScreen)
        await pilot.press("s", "d", "p", "escape")
        await pilot.pause()
        assert isinstance(app.screen, NudgeScreen)
        state = app.state.live.pipeline.nudge_state
        assert state.pending is not None and state.snoozed_until is None


def record_week(last: dt.date) -> None:
    directory = sessions_dir()
    for days_back, scenario, seed in ((0, "sit_stand", 4), (2, "desk_short", 5)):
        day = last - dt.timedelta(days=days_back)
        t0 = dt.datetime.combine(day, dt.time(10)).timestamp()
        record_day(directory / f"{day.isoformat()}T10-00-00.tiltmon", scenario, t0, seed)


async def wait_loaded(pilot: Pilot[None], screen: HistoryScreen) -> None:
    async with asyncio.timeout(120):
        while screen.history is None and screen.error is None:
            await pilot.pause(0.1)
    await pilot.pause()


@pytest.mark.slow
async def test_history_opens_on_the_week_and_switches_to_the_month() -> None:
    record_week(dt.date.today())
    app, transport = make_app(sim_items("desk_short", 1, 50))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, transport)
        await pilot.press("h")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_loaded(pilot, screen)
        assert screen.error is None and screen.history is not None
        assert len(screen.history.days) == 7 and len(screen.history.recorded) == 2
        await pilot.press("m")
        await wait_loaded(pilot, screen)
        assert screen.history is not None and len(screen.history.days) == 30
        assert screen.history.replayed == 0  # the days came from the cache the week filled
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)


@pytest.mark.slow
async def test_the_guide_shows_at_first_start_only_and_on_g() -> None:
    assert guide_due()
    assert not guide_due()  # remembered
    from monitor.config import config_dir

    assert stat.S_IMODE((config_dir() / "guide_seen").stat().st_mode) == 0o600
    sim = sim_items("desk_short", 1, 50)
    app, _ = make_app(sim)
    app.show_guide = True
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, GuideScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, GuideScreen)
        await pilot.press("escape")


# --- pictures ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_history_picture(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    record_week(LAST)
    app, transport = make_app(sim_items("desk_short", 1, 50))

    async def run_before(pilot: Pilot[None]) -> None:
        app.theme = theme
        await settle(pilot, app, transport)
        screen = HistoryScreen(last=LAST)
        await app.push_screen(screen)
        await wait_loaded(pilot, screen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_pause_picture(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    app, transport = long_sit(21.5 * 60)

    async def run_before(pilot: Pilot[None]) -> None:
        app.theme = theme
        await wait_at_stop(pilot, app, transport)
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_guide_picture(snap_compare: Any, size: tuple[int, int], theme: str) -> None:
    app, transport = make_app(sim_items("desk_short", 1, 50))
    app.show_guide = True

    async def run_before(pilot: Pilot[None]) -> None:
        app.theme = theme
        await settle(pilot, app, transport)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_t0_is_outside_quiet_hours() -> None:
    """The pictures' data time (T0) is mid-afternoon UTC, so nudges are not held."""
    assert dt.datetime.fromtimestamp(T0, dt.UTC).hour == 15
