"""The dashboard's pairing step: a private-link sensor that refuses this computer (its first run
with the sensor, or a lost bond) is paired from the dashboard, which then streams encrypted."""

from __future__ import annotations

import asyncio

import pytest
from textual.pilot import Pilot

from firmware_sim.peripheral import Security, SimulatedPeripheral
from monitor.cli import build_parser
from monitor.commands.dashboard import dashboard_session
from monitor.session import Session
from monitor.transport.ble import ReconnectPolicy
from monitor.transport.sim import SimulatedSensorTransport
from monitor.tui.app import DashboardApp
from monitor.tui.screens.pairing import PairingScreen

QUICK = ReconnectPolicy(first_delay_s=0.1, scan_timeout_s=1.5)  # pairing scans this long


async def wait_for_screen(app: DashboardApp, kind: type, pilot: Pilot[None]) -> None:
    async with asyncio.timeout(30):
        while not isinstance(app.screen, kind):
            await pilot.pause(0.1)


@pytest.mark.slow
async def test_the_dashboard_pairs_a_refusing_sensor_and_then_streams() -> None:
    transport = SimulatedSensorTransport(
        "standing", security=Security(), pair_first_use=False, policy=QUICK
    )
    app = DashboardApp(
        Session(transport=transport, label="sim:standing", pair=transport.pair),
        bell=False,
        blink=False,
    )
    async with app.run_test() as pilot:
        await wait_for_screen(app, PairingScreen, pilot)
        screen = app.screen
        assert isinstance(screen, PairingScreen)
        assert "pairing window" in screen.reason
        assert app.state.error is None  # a step to take, not the end of the stream
        peripheral = transport.peripheral
        assert isinstance(peripheral, SimulatedPeripheral)
        assert peripheral.counters.pairings == 0
        await pilot.press("p")
        live = app.state
        async with asyncio.timeout(30):
            while not (app.state is not live and app.state.live.assembler.stats.samples >= 100):
                await pilot.pause(0.2)
        assert not isinstance(app.screen, PairingScreen)
        assert peripheral.counters.pairings == 1 and peripheral.counters.access_refused >= 1
        assert app.state.error is None
        await pilot.press("q")


@pytest.mark.slow
async def test_a_refused_pairing_says_so_and_can_be_tried_again() -> None:
    transport = SimulatedSensorTransport(
        "standing", security=Security(pairing_window_s=0), pair_first_use=False, policy=QUICK
    )
    app = DashboardApp(
        Session(transport=transport, label="sim:standing", pair=transport.pair),
        bell=False,
        blink=False,
    )
    async with app.run_test() as pilot:
        await wait_for_screen(app, PairingScreen, pilot)
        screen = app.screen
        assert isinstance(screen, PairingScreen)
        await pilot.press("p")
        async with asyncio.timeout(30):
            while screen.error is None:
                await pilot.pause(0.2)
        assert "paired with another computer" in screen.error
        peripheral = transport.peripheral
        assert isinstance(peripheral, SimulatedPeripheral)
        peripheral.open_pairing_window(120.0)  # the wearer presses the button (window set to 0)
        await pilot.press("p")
        async with asyncio.timeout(30):
            while app.state.live.assembler.stats.samples < 50:
                await pilot.pause(0.2)
        assert peripheral.counters.pairings == 1
        await pilot.press("q")


def test_the_command_line_source_can_pair() -> None:
    args = build_parser().parse_args(["--sim", "standing", "--sim-private-link"])
    args.no_record = True
    source = dashboard_session(args)
    assert source.pair is not None
    assert isinstance(source.transport, SimulatedSensorTransport)
    assert source.transport.security is not None and not source.transport.pair_first_use
