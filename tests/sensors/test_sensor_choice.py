"""Several sensors in range: which one tiltmon takes, what it says, and whose calibration a
sensor gets. Three simulated sensors advertise at once on one virtual radio (two of them with
the same name), and the unchanged BLE transport chooses through bleak."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink

from calibration import DATA_DIR_ENV, CalibrationProfile, save_profile
from firmware_sim.models import sim_address, simulated_device_on_link
from firmware_sim.peripheral import SimulatedDevice
from firmware_sim.radio import VirtualRadio, serve_link
from monitor.pipeline import profile_id, profile_identity, saved_mounting
from monitor.transport.ble import BleTransport, ReconnectPolicy
from monitor.transport.choice import Candidate, choose
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind

POLICY = ReconnectPolicy(first_delay_s=0.1, scan_timeout_s=3.0, choice_scan_s=1.0, max_attempts=3)
SEEN: dict[BleTransport, list[LinkEvent]] = {}
TURNED = np.array([np.cos(0.2), 0.0, np.sin(0.2), 0.0])  # a mounting no one gets by chance


@dataclass
class Room:
    radio: VirtualRadio
    first: SimulatedDevice  # "MetaWear", seed 1
    second: SimulatedDevice  # "MetaWear", seed 2
    thingy: SimulatedDevice

    def address(self, sensor: SimulatedDevice) -> str:
        return str(sensor.device.random_address)


@pytest.fixture
async def room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Room]:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    link = LocalLink()
    sensors = [
        simulated_device_on_link(link, "standing", model="metamotion", seed=1),
        simulated_device_on_link(link, "standing", model="metamotion", seed=2),
        simulated_device_on_link(link, "standing", model="thingy", seed=3),
    ]
    for sensor in sensors:
        await sensor.start()
    try:
        async with VirtualRadio(link=link) as radio:
            yield Room(radio, *sensors)
    finally:
        for sensor in sensors:
            await sensor.stop()


async def connect(room: Room, target: str | None = None, **options: object) -> BleTransport:
    """Connect as `tiltmon stream` would, until the sensor streams; the transport says what
    it chose and what the sensor reported, and its link events go to ``SEEN``."""
    transport = BleTransport(
        target,
        policy=POLICY,
        scanner_backend=room.radio.scanner_backend,
        client_backend=room.radio.client_backend,
        **options,  # type: ignore[arg-type]
    )
    events: list[LinkEvent] = []
    async with transport:
        async for item in transport:
            if isinstance(item, LinkEvent):
                events.append(item)
                if item.kind is LinkEventKind.CONFIGURED:
                    break
    SEEN[transport] = events
    return transport


def calibrate(info: DeviceInfo) -> None:
    save_profile(
        CalibrationProfile(
            device_id=profile_id(info),
            created="2026-11-30T12:00:00+00:00",
            q_PS=TURNED,
            gyro_bias=np.zeros(3),
            method="tilt",
            identity=profile_identity(info),
        )
    )


async def test_with_nothing_known_the_choice_is_said_and_the_others_listed(room: Room) -> None:
    transport = await connect(room)
    choice = transport.choice
    assert choice is not None
    everyone = {room.address(s) for s in (room.first, room.second, room.thingy)}
    assert {choice.chosen.address, *(c.address for c in choice.others)} == everyone
    assert choice.reason == "strongest signal"
    connected = [e for e in SEEN[transport] if e.kind is LinkEventKind.CONNECTED]
    assert connected[0].detail == choice.describe()
    assert "also in range: " in connected[0].detail and "--sensor" in connected[0].detail
    assert transport.device_info is not None
    assert transport.device_info.address == choice.chosen.address


@pytest.mark.slow
async def test_the_calibrated_sensor_is_preferred_and_the_remembered_one_first(
    room: Room,
) -> None:
    second = await connect(room, room.address(room.second))  # by address: no choice to make
    assert second.choice is None and second.device_info is not None
    calibrate(second.device_info)

    chosen = await connect(room)
    assert chosen.choice is not None
    assert chosen.choice.chosen.address == room.address(room.second)
    assert chosen.choice.reason == "calibrated"

    # By name, two sensors answer "MetaWear": the calibrated one is taken, the other listed.
    by_name = await connect(room, "MetaWear")
    assert by_name.choice is not None
    assert by_name.choice.chosen.address == room.address(room.second)
    assert by_name.choice.reason == "one of 2 named MetaWear, calibrated"
    assert room.address(room.first) in {c.address for c in by_name.choice.others}

    remembered = await connect(room, remembered=room.address(room.thingy))
    assert remembered.choice is not None
    assert remembered.choice.chosen.address == room.address(room.thingy)
    assert remembered.choice.reason == "used last time"
    assert remembered.protocol is not None and remembered.protocol.name == "thingy"


async def test_a_sensor_with_the_same_name_or_serial_gets_no_one_elses_calibration(
    room: Room,
) -> None:
    second = await connect(room, room.address(room.second))
    assert second.device_info is not None
    calibrate(second.device_info)
    mounting = saved_mounting(second.device_info)
    assert mounting is not None and np.allclose(mounting, TURNED)

    # The other MetaWear: same name, another address.
    first = await connect(room, room.address(room.first))
    assert first.device_info is not None and first.device_info.name == "MetaWear"
    assert saved_mounting(first.device_info) is None

    # A clone with the second one's serial (same seed) at another address: not given it either.
    clone = simulated_device_on_link(
        LocalLink(), "standing", model="metamotion", seed=2, address="C1:02:03:04:05:06"
    )
    assert sim_address("metamotion", 2) != "C1:02:03:04:05:06"
    clone_info = DeviceInfo(
        name="MetaWear", address=str(clone.device.random_address), serial=second.device_info.serial
    )
    assert saved_mounting(clone_info) is None

    # The second one's address reporting another serial: another unit, not given it.
    swapped = DeviceInfo(name="MetaWear", address=second.device_info.address, serial="FFFFFF")
    assert saved_mounting(swapped) is None


@pytest.mark.slow
async def test_a_sensor_asked_for_that_is_not_there_is_reported(room: Room) -> None:
    from monitor.errors import SensorNotFoundError

    with pytest.raises(SensorNotFoundError, match="'Polar Sense'"):
        await connect(room, "Polar Sense")


def test_the_choice_order_without_a_radio() -> None:
    a = Candidate("MetaWear", "C1:00:00:00:00:01", -70, "metamotion")
    b = Candidate("MetaWear", "C1:00:00:00:00:02", -50, "metamotion")
    c = Candidate("Thingy", "C1:00:00:00:00:03", -80, "thingy")
    only = choose([a])
    assert only is not None and only.reason == "the only sensor in range"
    assert only.describe() == "MetaWear C1:00:00:00:00:01 (the only sensor in range)"
    strongest = choose([a, b, c])
    assert strongest is not None and strongest.chosen is b
    assert [o.address for o in strongest.others] == [a.address, c.address]  # strongest first
    calibrated = choose([a, b, c], calibrated=lambda addr: addr == c.address)
    assert calibrated is not None and calibrated.chosen is c
    both = choose(
        [a, b, c], remembered=a.address.lower(), calibrated=lambda addr: addr == c.address
    )
    assert both is not None and both.chosen is a and both.reason == "used last time"
    assert choose([a, b, c], target="c1:00:00:00:00:03") is not None
    assert choose([a, b, c], target="Polar") is None
    assert choose([]) is None


def test_the_dashboard_prefers_the_last_sensor_without_insisting_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.cli import build_parser
    from monitor.commands.dashboard import dashboard_session
    from monitor.config import CONFIG_DIR_ENV
    from monitor.session import remember_sensor

    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "config"))
    remember_sensor("MetaWear", "C1:00:00:00:00:02")
    args = build_parser().parse_args([])
    args.no_record = True
    source = dashboard_session(args)
    assert isinstance(source.transport, BleTransport)
    # Preferred when in range; another sensor is still found when it is not.
    assert source.transport.remembered == "C1:00:00:00:00:02"
    assert source.transport.target is None and source.label == "MetaWear"


def test_stream_prefers_the_last_sensor_as_the_dashboard_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.cli import build_parser
    from monitor.commands.stream import sensor_choice
    from monitor.config import CONFIG_DIR_ENV
    from monitor.session import open_session, remember_sensor

    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "config"))
    remember_sensor("MetaWear", "C1:00:00:00:00:02")
    args = build_parser().parse_args(["stream", "--no-record"])
    session = open_session(sensor_choice(args))
    assert isinstance(session.transport, BleTransport)
    assert session.transport.remembered == "C1:00:00:00:00:02"
    assert session.transport.target is None and session.label == "MetaWear"
    # Asked for by name, the remembered one is still only a preference among those named.
    args = build_parser().parse_args(["stream", "--no-record", "--sensor", "Thingy"])
    assert open_session(sensor_choice(args)).transport.target == "Thingy"


@pytest.mark.slow
async def test_tiltmon_stream_takes_the_sensor_used_last_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two sensors on a virtual radio served over loopback; `tiltmon stream` in its own process
    # chooses between them as the dashboard would: the one used last time.
    from monitor.config import CONFIG_DIR_ENV
    from monitor.session import remember_sensor

    env = {
        **os.environ,
        CONFIG_DIR_ENV: str(tmp_path / "config"),
        DATA_DIR_ENV: str(tmp_path / "data"),
    }
    monkeypatch.setenv(CONFIG_DIR_ENV, env[CONFIG_DIR_ENV])
    async with serve_link() as served:
        sensors = [
            simulated_device_on_link(served.link, "standing", model="metamotion", seed=1),
            simulated_device_on_link(served.link, "standing", model="thingy", seed=3),
        ]
        for sensor in sensors:
            await sensor.start()
        last = sensors[1]
        remember_sensor(last.device.name, str(last.device.random_address))
        try:
            stream = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "monitor.cli", "stream", "--radio"),
                *(served.transport_spec, "--seconds", "2", "--no-record"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            out, err = await asyncio.wait_for(stream.communicate(), 120)
        finally:
            for sensor in sensors:
                await sensor.stop()
    assert stream.returncode == 0, err.decode()
    chosen = f"{last.device.name} {last.device.random_address} (used last time"
    assert chosen.lower() in out.decode().lower(), out.decode()
    assert last.counters.samples_sent > 0 and sensors[0].counters.samples_sent == 0
