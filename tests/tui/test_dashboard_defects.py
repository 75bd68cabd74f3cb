"""Defects a desk user met in the dashboard (issue 12), each checked on the real app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import make_app, settle, sim_items, wait_at_stop
from contrast import screen_lines, words
from items_transport import ItemsTransport
from textual.pilot import Pilot
from textual.widgets import Static

from calibration import Phase
from monitor.activity import Posture
from monitor.cli import build_parser
from monitor.commands.dashboard import dashboard_session
from monitor.config import UserConfig, config_path, load_config, save_config
from monitor.nudge import NudgeConfig, NudgeLevel
from monitor.pipeline import MountingSource
from monitor.stream import SampleBatch
from monitor.tui.app import DashboardApp
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.help import HelpScreen
from monitor.tui.screens.nudge import NudgeScreen
from monitor.tui.widgets.sitting_clock import SittingClock

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
THEMES = ["textual-dark", "textual-light"]
READABLE = 3.0  # WCAG's least contrast for large or bold text and for parts of an interface


async def lines_on_screen(pilot: Pilot[None], app: DashboardApp) -> list[str]:
    await pilot.pause()
    app.refresh_view()
    await pilot.pause()
    return screen_lines(app.export_screenshot())


def sitting_app() -> tuple[DashboardApp, ItemsTransport]:
    """Five minutes into a sitting bout, calibrated: every panel has something to say."""
    return make_app(sim_items("sitting", 2, 25, 5 * 60), calibrated=True)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scenario", ["sitting", "desk_short"])
async def test_no_text_is_cut_off(size: tuple[int, int], scenario: str) -> None:
    sim = sim_items(scenario, 2, 25, 5 * 60)
    app, transport = make_app(sim, calibrated=scenario == "sitting")
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app, transport)
        lines = await lines_on_screen(pilot, app)
    cut = [line for line in lines if "…" in line]
    assert not cut, "\n".join(cut)
    text = "\n".join(lines)
    if scenario == "sitting":
        assert "Next nudge  in 40 min (gentle" in text, text
    legend = lines[-2]  # the timeline's, on its bottom border: whole, in short words if need be
    assert "sit" in legend and ("lying" in legend or "lie " in legend), legend


@pytest.mark.slow
async def test_the_next_nudge_under_a_snooze_says_when_it_can_come() -> None:
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=20, firm_min=60, snooze_min=10)))
    sim = sim_items("sitting", 2, 25, 33 * 60)
    app, transport = make_app(sim, calibrated=True, stops=(sim.index_at(21.5 * 60),))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_at_stop(pilot, app, transport)
        await pilot.press("s")
        lines = await lines_on_screen(pilot, app)
        clock = app.query_one(SittingClock).render().plain
    assert "in 0 s" not in clock
    line = next(line for line in lines if "Next nudge" in line)
    assert "Next nudge  in 10 min (gentle at 20 min, snoozed)" in line, line


@pytest.mark.slow
async def test_a_sample_nudge_shows_each_kind_and_records_nothing() -> None:
    app, transport = sitting_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, transport)
        seen = []
        for _ in range(3):
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(app.screen, NudgeScreen) and app.screen.sample
            seen.append(app.screen.nudge.level)
        await pilot.pause()
        text = "\n".join(screen_lines(app.export_screenshot()))
        assert "Sample: time to change position" in text, text
        await pilot.press("s")  # in a sample, snooze only closes it
        await pilot.pause()
        assert not isinstance(app.screen, NudgeScreen)
        policy = app.state.live.pipeline.nudge_state
        assert policy.pending is None and policy.snoozed_until is None
        assert app.state.live.totals.nudges_shown == 0
    assert seen == [NudgeLevel.GENTLE, NudgeLevel.FIRM, NudgeLevel.TILT]


async def test_ctrl_c_quits() -> None:
    app, transport = sitting_app()
    async with app.run_test() as pilot:
        await settle(pilot, app, transport)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0


@pytest.mark.slow
async def test_the_help_says_how_to_close_it() -> None:
    app, transport = sitting_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, transport)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(await lines_on_screen(pilot, app))
        assert "escape, ? or q: close" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
async def test_every_word_is_readable(theme: str, size: tuple[int, int]) -> None:
    app, transport = sitting_app()
    async with app.run_test(size=size) as pilot:
        app.theme = theme
        await settle(pilot, app, transport)
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        background = app.get_css_variables()["background"]
        found = words(app.export_screenshot(), background)
    assert len(found) > 30
    faint = [f"{w.text!r} {w.colour} on {w.background}: {w.contrast:.2f}" for w in found
             if w.contrast < READABLE]  # fmt: skip
    assert not faint, "\n".join(faint)


@pytest.mark.slow
async def test_the_theme_is_kept_in_the_config_file() -> None:
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=30)))
    app, transport = sitting_app()
    async with app.run_test() as pilot:
        await settle(pilot, app, transport)
        app.theme = "textual-light"
        await pilot.pause()
    saved = load_config()
    assert saved.theme == "textual-light"
    assert saved.nudge.gentle_min == 30  # the rest of the file as it was
    assert '[dashboard]\ntheme = "textual-light"' in config_path().read_text()
    again, transport = sitting_app()
    async with again.run_test() as pilot:
        await pilot.pause()
        assert again.theme == "textual-light"


async def test_settings_do_not_claim_to_be_saved_before_they_are() -> None:
    app, transport = sitting_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, transport)
        await pilot.press("o")
        text = "\n".join(await lines_on_screen(pilot, app))
    assert "Saved" not in text
    assert "ctrl+s saves to" in text
    assert not config_path().exists()


@pytest.mark.parametrize("size", SIZES)
async def test_the_day_s_zone_times_say_what_they_count(size: tuple[int, int]) -> None:
    app, transport = sitting_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app, transport)
        lines = await lines_on_screen(pilot, app)
    heading = next(i for i, line in enumerate(lines) if "Tilt while sitting or standing" in line)
    assert "neutral" in lines[heading + 1]
    assert any("right hip low" in line for line in lines)  # every zone still on screen


@pytest.mark.slow
async def test_a_tall_terminal_fills_the_today_panel_with_sitting_per_hour() -> None:
    app, transport = make_app(sim_items("sitting", 2, 25, 60 * 60), calibrated=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, transport)
        await pilot.press("d")  # the nudge of the 45th minute
        lines = await lines_on_screen(pilot, app)
    heading = next(i for i, line in enumerate(lines) if "Sitting per hour" in line)
    # T0 is 15:06:40 UTC: an hour of sitting falls 53 min in the 15:00 hour, 7 in the 16:00.
    hours = [line[: line.index("││")].rstrip() for line in lines[heading + 1 : heading + 3]]
    assert hours[0].startswith("│ 15:00") and hours[0].endswith(("52m", "53m")), hours
    assert hours[1].startswith("│ 16:00") and hours[1].endswith(("6m", "7m")), hours


@pytest.mark.slow
async def test_the_demo_wearer_follows_the_calibration_wizard(tmp_path: Path) -> None:
    """`tiltmon --sim sitting`: the simulated wearer sits, and walks only when the wizard asks."""
    args = build_parser().parse_args(["--sim", "sitting", "--sim-speed", "3", "--no-record"])
    source = dashboard_session(args)
    app = DashboardApp(source, bell=False, blink=False)
    async with app.run_test() as pilot:
        async with asyncio.timeout(30):
            while app.state.snapshot is None or app.state.snapshot.posture is not Posture.SITTING:
                await pilot.pause(0.2)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)
        overall = [0.0]
        async with asyncio.timeout(90):
            while screen.result is None and screen.error is None:
                await pilot.pause(0.1)
                screen.refresh_view()
                overall.append(screen.overall)
                steps = str(screen.query_one("#cal-steps", Static).render())
                # Standing still is step 1 from the first prompt: never drawn as not begun.
                assert steps.startswith(("● 1.", "✓ 1.")), steps
        assert screen.error is None, screen.error
        assert screen.saved_to is not None and screen.saved_to.is_relative_to(tmp_path)
        assert overall[-1] == 1.0
        assert app.state.live.pipeline.mounting_source is MountingSource.PROFILE
        await pilot.press("escape")
        await pilot.press("q")


async def test_a_move_while_standing_still_restarts_the_step_and_the_overall_bar() -> None:
    # The wizard opens 3 s into `walk`: 2 s of standing still are left, then the walk begins,
    # so the wearer moves before the 3 s still phase is over.
    sim = sim_items("walk", 0, 50, 20)
    app, transport = make_app(sim, stops=(sim.index_at(3.0),))
    seen: list[tuple[Phase | None, float, str]] = []
    async with app.run_test() as pilot:
        await wait_at_stop(pilot, app, transport)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)

        def watch(batch: SampleBatch) -> None:  # after each batch, what the wizard shows
            screen.feed(batch)
            screen.refresh_view()
            steps = str(screen.query_one("#cal-steps", Static).render())
            seen.append((screen.phase, screen.overall, steps))

        app.state.batch_sink = watch
        transport.go()
        await settle(pilot, app, transport)
    phases = [phase for phase, _, _ in seen]
    assert Phase.STAND_STILL in phases
    back = next(
        i
        for i in range(1, len(seen))
        if phases[i - 1] is Phase.STAND_STILL and phases[i] is Phase.GET_READY
    )
    _, overall, steps = seen[back]
    assert overall == 0.0, seen[back - 1 : back + 1]  # not left at the still phase's share
    assert steps.startswith("● 1. Stand still"), steps  # step 1 again, not "not begun"
