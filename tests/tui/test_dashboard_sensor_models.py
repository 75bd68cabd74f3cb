"""The dashboard on a simulated vendor sensor (`tiltmon --sim --sim-model witmotion`)."""

from __future__ import annotations

import asyncio

import pytest

from monitor.cli import build_parser
from monitor.commands.dashboard import dashboard_session
from monitor.tui.app import DashboardApp
from monitor.tui.widgets.link_bar import LinkBar


@pytest.mark.slow
async def test_the_dashboard_streams_from_the_witmotion_model() -> None:
    args = build_parser().parse_args(["--sim", "standing", "--sim-model", "witmotion"])
    args.no_record = True
    session = dashboard_session(args)
    assert session.label == "sim:standing (witmotion)"
    app = DashboardApp(session, bell=False, blink=False)
    async with app.run_test() as pilot:
        live = app.state.live
        async with asyncio.timeout(30):
            while live.assembler.stats.samples < 150:
                await pilot.pause(0.2)
        assert live.link.rate_hz == 50 and live.link.streaming
        assert live.link.device_name.startswith("WT901BLE")
        # No Battery service: the level is read from the sensor's battery voltage register.
        assert live.link.battery_percent is not None and 80 <= live.link.battery_percent <= 90
        assert live.assembler.stats.duplicates == 0
        app.refresh_view()
        await pilot.pause()
        bar = app.query_one(LinkBar).build(app.state).plain
        assert "50 Hz" in bar and f"battery {live.link.battery_percent}%" in bar
        assert "100 Hz asked, 50 Hz used" in bar
        await pilot.press("q")
