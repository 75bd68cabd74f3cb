"""The dashboard on a recording: seeking is quick, the end can be played again, and only the
replay's own keys are offered. A real session file through ``dashboard_replay``, as the CLI
builds it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import T0, sim_items
from contrast import screen_lines
from textual.pilot import Pilot

from monitor.commands.dashboard import dashboard_replay
from monitor.recording import SessionRecorder
from monitor.transport.items import Notification
from monitor.tui.app import DashboardApp
from monitor.tui.screens.calibration import CalibrationScreen


def record(path: Path, scenario: str, minutes: float) -> Path:
    """The simulated items written as a session, as if they arrived at their times."""
    now = [T0 - 0.5]
    recorder = SessionRecorder(
        path, transport="sim:test", started_at=now[0], monotonic=lambda: now[0]
    )
    for item in sim_items(scenario, 2, 25, minutes * 60).items:
        now[0] = item.received_at if isinstance(item, Notification) else item.at
        recorder.feed(item)
    recorder.close(ended_at=now[0] + 0.1)
    return path


@pytest.fixture(scope="module")
def twelve_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("rec") / "sit.tiltmon", "sitting", 12)


async def until(pilot: Pilot[None], condition: object, timeout_s: float) -> float:
    """Wait for ``condition()``; the real seconds it took."""
    assert callable(condition)
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        await asyncio.sleep(0.02)
    await pilot.pause()
    return time.monotonic() - start


@pytest.mark.slow
async def test_seeking_three_minutes_at_real_time_takes_a_moment(twelve_minutes: Path) -> None:
    source = dashboard_replay(twelve_minutes, 1.0)
    replay = source.replay
    assert replay is not None
    app = DashboardApp(source, bell=False, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state.snapshot is not None, 20)
        for _ in range(3):
            await pilot.press("right")
        started = replay.recording.info.started_at if replay.recording else T0

        def past_the_jump() -> bool:
            snap = app.state.snapshot
            return snap is not None and snap.t - started >= 180.0

        took = await until(pilot, past_the_jump, 15)
        # At 1x the skipped three minutes are never played: the index jumps there.
        assert took < 5.0
        assert 180.0 <= replay.position_s < 200.0


@pytest.mark.slow
async def test_the_end_of_a_recording_can_be_played_again(tmp_path: Path) -> None:
    path = record(tmp_path / "short.tiltmon", "standing", 1)
    source = dashboard_replay(path, 1000.0)
    replay = source.replay
    assert replay is not None
    app = DashboardApp(source, bell=False, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state.ended, 30)
        app.refresh_view()
        await pilot.pause()
        assert "end of recording (r: play again)" in screen_lines(app.export_screenshot())[0]
        first_run = app.state
        await pilot.press("r")
        await until(pilot, lambda: app.state is not first_run, 10)
        await until(pilot, lambda: app.state.ended, 30)
        assert replay.position_s == pytest.approx(replay.duration_s, abs=2.0)
        assert app.state.live.assembler.stats.samples > 0  # the second run played it all


@pytest.mark.slow
async def test_a_replay_offers_only_what_a_recording_can_take(twelve_minutes: Path) -> None:
    app = DashboardApp(dashboard_replay(twelve_minutes, 1.0), bell=False, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state.snapshot is not None, 20)
        footer = screen_lines(app.export_screenshot())[-1]
        for live_only in ("Calibrate", "Settings", "Snooze"):
            assert live_only not in footer, footer
        assert "Quit" in footer
        await pilot.press("c")
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, CalibrationScreen)
        assert app.screen is app.screen_stack[0]  # nothing opened
