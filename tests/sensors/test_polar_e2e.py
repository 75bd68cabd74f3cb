"""The Polar Verity Sense model end to end: bleak, the virtual radio, the simulated PMD firmware."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink
from stream_cli import stream_summary

from firmware_sim.models import simulated_device_on_link
from firmware_sim.peripheral import Faults
from firmware_sim.polar import PolarDevice
from firmware_sim.radio import VirtualRadio
from monitor.live import EventListener, LiveStream, stream_for
from monitor.recording import Recording, RecordingTransport, SessionRecorder
from monitor.recording.summary import summarise_replay
from monitor.sensors import polar as pmd
from monitor.stream import GapReason, StreamEvent, StreamGap
from monitor.transport.ble import ReconnectPolicy, StreamSettings, scan
from monitor.transport.items import LinkEvent
from monitor.transport.replay import ReplayTransport
from monitor.transport.sim import SimulatedSensorTransport

FAST_POLICY = ReconnectPolicy(
    first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0, watchdog_s=2.0
)


async def run_polar(
    seconds: float, *, faults: Faults = Faults(), seed: int = 4
) -> tuple[PolarDevice, LiveStream, list[StreamEvent | LinkEvent]]:
    events: list[StreamEvent | LinkEvent] = []
    transport = SimulatedSensorTransport(
        "desk_short", seed=seed, model="polar", faults=faults, policy=FAST_POLICY
    )
    async with transport:
        async with asyncio.timeout(seconds + 60):
            live = await stream_for(transport, seconds, listeners=[EventListener(events.append)])
    assert isinstance(transport.peripheral, PolarDevice)
    return transport.peripheral, live, events


@pytest.mark.slow
async def test_the_control_point_offers_answers_and_refuses() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "standing", model="polar", seed=0x3D)
    await sensor.start()
    answers: asyncio.Queue[pmd.ControlResponse] = asyncio.Queue()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [(s.name, s.protocol) for s in found] == [("Polar Sense 0A1B2C3D", "polar")]
            device = await BleakScanner.find_device_by_name(
                "Polar Sense 0A1B2C3D", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                features = await client.read_gatt_char(pmd.CONTROL_POINT_UUID)
                assert pmd.decode_features(features) == {pmd.ACC, pmd.GYRO}
                await client.start_notify(
                    pmd.CONTROL_POINT_UUID,
                    lambda _s, d: answers.put_nowait(pmd.decode_control_response(d)),
                )

                async def ask(request: bytes) -> pmd.ControlResponse:
                    await client.write_gatt_char(pmd.CONTROL_POINT_UUID, request, response=True)
                    async with asyncio.timeout(3):
                        return await answers.get()

                settings = pmd.decode_settings((await ask(pmd.encode_get_settings(pmd.ACC))).params)
                assert settings[pmd.RATE] == [52] and 8 in settings[pmd.RANGE]
                assert (await ask(pmd.encode_start(pmd.ACC, 100, 8))).status == 8  # rate
                assert (await ask(pmd.encode_start(pmd.ACC, 52, 3))).status == 9  # range
                assert (await ask(bytes([0x02, 0x01]))).status == 2  # PPG: not offered
                started = await ask(pmd.encode_start(pmd.GYRO, 52, 2000))
                assert started.ok
                assert pmd.decode_settings(started.params)[pmd.FACTOR][0] == pytest.approx(
                    2000 / 32768
                )
                assert (await ask(pmd.encode_start(pmd.GYRO, 52, 2000))).status == 6  # again
                assert (await ask(pmd.encode_stop(pmd.GYRO))).ok
                serial = await client.read_gatt_char("00002a25-0000-1000-8000-00805f9b34fb")
                assert bytes(serial) == b"0A1B2C3D"
    finally:
        await sensor.stop()


@pytest.mark.slow
async def test_drops_and_disconnects_are_placed_by_the_sensor_clock() -> None:
    sensor, live, events = await run_polar(
        16.0, faults=Faults(drop_fraction=0.1, disconnect_every_s=5.0)
    )
    summary = live.summary()
    counters = sensor.counters
    assert counters.packets_dropped > 0 and counters.disconnects_caused >= 2
    # Every sample sent arrives once, but for the frame in flight when the run ends.
    assert counters.samples_sent - summary.samples <= 26
    assert summary.duplicates == 0
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert {g.reason for g in gaps} <= {GapReason.DROPPED, GapReason.DISCONNECTED}
    dropped = sum(g.lost_samples for g in gaps if g.reason is GapReason.DROPPED)
    assert dropped <= counters.samples_dropped  # a drop just before a disconnect merges into it
    assert any(g.reason is GapReason.DISCONNECTED for g in gaps)
    assert summary.reconnects >= 2 and summary.battery_percent == 87


@pytest.mark.slow
async def test_a_recorded_polar_session_replays_with_its_factors(tmp_path: Path) -> None:
    path = tmp_path / "polar.tiltmon"
    recorder = SessionRecorder(path, transport="sim:desk_short (polar)")
    sim = SimulatedSensorTransport(
        "desk_short", seed=6, model="polar", settings=StreamSettings(rate_hz=50)
    )
    async with RecordingTransport(sim, recorder) as transport:
        live = await stream_for(transport, 3.0)
    with Recording(path) as recording:
        info = recording.info
        assert info.protocol == "polar" and info.config is not None
        assert info.config.gyr_factor == pytest.approx(2000 / 32768)
        assert info.samples == live.assembler.stats.samples
    async with ReplayTransport(path, speed=None) as replay:
        summary = await summarise_replay(replay)
    assert (summary.samples, summary.lost) == (live.summary().samples, live.summary().lost)


@pytest.mark.slow
def test_stream_command_with_the_polar_model() -> None:
    summary = stream_summary("polar")
    sent = summary["firmware"]["samples_sent"]
    # A frame holds half a second: one the sensor sent as the run ended may arrive after it.
    in_flight = 26
    assert sent - summary["samples"] <= in_flight
    assert summary["samples"] >= 0.995 * (sent - in_flight)
    assert summary["duplicates"] == 0 and summary["lost"] == 0 and summary["malformed"] == 0
    assert summary["protocol"] == "polar" and summary["configured_rate_hz"] == 52
    assert summary["rate_hz"] == pytest.approx(52, rel=0.01)
    assert summary["note"] == "100 Hz asked, 52 Hz used"
