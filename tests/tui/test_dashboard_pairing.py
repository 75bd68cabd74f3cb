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
from monitor.tui.screens.guide import GuideScreen
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
        assert screen.reason.endswith("paired with, and this one is not.")
        assert "`tiltmon pair`" not in screen.reason  # the screen's own steps say how
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


def test_the_command_line_sim_speaks_version_2_and_pairs_itself_after_the_first_run() -> None:
    args = build_parser().parse_args(["--sim", "standing", "--no-record"])
    later = dashboard_session(args)
    assert isinstance(later.transport, SimulatedSensorTransport) and later.pair is not None
    assert later.transport.security is not None and later.transport.pair_first_use
    first = dashboard_session(args, first_run=True)
    assert isinstance(first.transport, SimulatedSensorTransport)
    assert first.transport.security is not None and not first.transport.pair_first_use
    old = dashboard_session(build_parser().parse_args(["--sim", "--sim-open-link", "--no-record"]))
    assert isinstance(old.transport, SimulatedSensorTransport) and old.transport.security is None


async def test_the_first_run_pairs_the_simulated_sensor_before_the_guide() -> None:
    """`tiltmon --sim` on a fresh machine: the pairing step first (nothing streams until the
    sensor is paired), then the guide, then the stream over the encrypted link."""
    args = build_parser().parse_args(["--sim", "standing", "--no-record"])
    session = dashboard_session(args, first_run=True)
    transport = session.transport
    assert isinstance(transport, SimulatedSensorTransport)
    transport.policy = QUICK
    app = DashboardApp(session, bell=False, blink=False, guide=True)
    async with app.run_test() as pilot:
        await wait_for_screen(app, PairingScreen, pilot)
        screen = app.screen
        assert isinstance(screen, PairingScreen)
        assert not any(isinstance(s, GuideScreen) for s in app.screen_stack)
        assert app.state.live.assembler.stats.samples == 0  # nothing before the bond
        await pilot.press("p")
        await wait_for_screen(app, GuideScreen, pilot)
        assert screen.paired is not None and "encrypted" in screen.paired
        peripheral = transport.peripheral
        assert isinstance(peripheral, SimulatedPeripheral)
        assert peripheral.counters.pairings == 1
        await pilot.press("enter")  # the guide read
        async with asyncio.timeout(30):
            while app.state.live.assembler.stats.samples < 100:
                await pilot.pause(0.2)
        assert not isinstance(app.screen, PairingScreen | GuideScreen)
        assert peripheral.counters.pairings == 1 and app.state.error is None
        await pilot.press("q")


async def passkey_app(passkey: int) -> tuple[DashboardApp, SimulatedSensorTransport]:
    transport = SimulatedSensorTransport(
        "standing", security=Security(passkey=passkey), pair_first_use=False, policy=QUICK
    )
    app = DashboardApp(
        Session(transport=transport, label="sim:standing", pair=transport.pair),
        bell=False,
        blink=False,
    )
    return app, transport


async def type_passkey(app: DashboardApp, pilot: Pilot[None], digits: str) -> PairingScreen:
    screen = app.screen
    assert isinstance(screen, PairingScreen)
    await pilot.press("p")
    async with asyncio.timeout(30):
        while not screen.asking_passkey:
            await pilot.pause(0.1)
    await pilot.press(*digits, "enter")
    return screen


@pytest.mark.slow
async def test_the_pairing_screen_asks_for_the_passkey_and_streams() -> None:
    app, transport = await passkey_app(482913)
    async with app.run_test() as pilot:
        await wait_for_screen(app, PairingScreen, pilot)
        await type_passkey(app, pilot, "482913")
        async with asyncio.timeout(30):
            while app.state.live.assembler.stats.samples < 50:
                await pilot.pause(0.2)
        peripheral = transport.peripheral
        assert isinstance(peripheral, SimulatedPeripheral)
        assert peripheral.counters.pairings == 1 and peripheral.counters.pairings_failed == 0
        await pilot.press("q")


@pytest.mark.slow
async def test_a_wrong_passkey_is_refused_in_one_line_and_the_right_one_pairs() -> None:
    app, transport = await passkey_app(482913)
    async with app.run_test() as pilot:
        await wait_for_screen(app, PairingScreen, pilot)
        screen = await type_passkey(app, pilot, "111111")
        async with asyncio.timeout(30):
            while screen.error is None:
                await pilot.pause(0.1)
        assert "did not accept the passkey" in screen.error
        assert "check the 6 digits on its label" in screen.error
        peripheral = transport.peripheral
        assert isinstance(peripheral, SimulatedPeripheral)
        assert peripheral.counters.pairings == 0 and peripheral.counters.pairings_failed == 1
        assert app.state.live.assembler.stats.samples == 0
        screen.error = None
        await pilot.press("p")  # asked again, the wearer gives up: Escape instead of digits
        async with asyncio.timeout(30):
            while not screen.asking_passkey:
                await pilot.pause(0.1)
        await pilot.press("escape")
        async with asyncio.timeout(30):
            while screen.error is None:
                await pilot.pause(0.1)
        assert "none was given" in screen.error and not screen.asking_passkey
        await type_passkey(app, pilot, "482913")  # the window is still open
        async with asyncio.timeout(30):
            while app.state.live.assembler.stats.samples < 50:
                await pilot.pause(0.2)
        assert peripheral.counters.pairings == 1
        await pilot.press("q")
