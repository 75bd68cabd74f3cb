"""The WitMotion model end to end: bleak, the virtual radio, the simulated vendor firmware.

Nothing is mocked: the client is monitor.transport.ble driven by monitor.sensors.witmotion, the
device is firmware_sim.witmotion as a bumble GATT server, and the samples go through the same
stream and pipeline as the tiltmon profile's.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink
from stream_cli import stream_summary

from firmware_sim.models import simulated_device_on_link
from firmware_sim.peripheral import Faults
from firmware_sim.radio import VirtualRadio
from firmware_sim.witmotion import WitMotionDevice
from monitor.live import EventListener, LiveStream, stream_for
from monitor.recording import Recording, RecordingTransport, SessionRecorder
from monitor.recording.summary import summarise_replay
from monitor.sensors import witmotion as wit
from monitor.stream import GapReason, StreamEvent, StreamGap
from monitor.transport.ble import ReconnectPolicy, StreamSettings, scan
from monitor.transport.items import LinkEvent, LinkEventKind
from monitor.transport.replay import ReplayTransport
from monitor.transport.sim import SimulatedSensorTransport

FAST_POLICY = ReconnectPolicy(
    first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0, watchdog_s=1.0
)


async def run_witmotion(
    seconds: float, *, faults: Faults = Faults(), rate: int = 100, seed: int = 3
) -> tuple[WitMotionDevice, LiveStream, list[StreamEvent | LinkEvent]]:
    events: list[StreamEvent | LinkEvent] = []
    transport = SimulatedSensorTransport(
        "desk_short",
        seed=seed,
        model="witmotion",
        faults=faults,
        settings=StreamSettings(rate_hz=rate),
        policy=FAST_POLICY,
    )
    async with transport:
        async with asyncio.timeout(seconds + 60):
            live = await stream_for(transport, seconds, listeners=[EventListener(events.append)])
    assert isinstance(transport.peripheral, WitMotionDevice)
    return transport.peripheral, live, events


@pytest.mark.slow
async def test_the_sensor_is_found_by_name_and_configured_by_vendor_commands() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "standing", model="witmotion", seed=0x68)
    assert isinstance(sensor, WitMotionDevice)
    await sensor.start()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [(s.name, s.protocol) for s in found] == [("WT901BLE68", "witmotion")]
            device = await BleakScanner.find_device_by_name(
                "WT901BLE68", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                frames: asyncio.Queue[bytes] = asyncio.Queue()
                # Locked, the rate register is left alone.
                await client.write_gatt_char(wit.WRITE_UUID, wit.encode_set_rate(20))
                await asyncio.sleep(0.1)
                assert sensor.rate_hz == 10
                await client.write_gatt_char(wit.WRITE_UUID, wit.UNLOCK + wit.encode_set_rate(50))
                await asyncio.sleep(0.1)
                assert sensor.rate_hz == 50
                await client.start_notify(
                    wit.NOTIFY_UUID, lambda _s, d: frames.put_nowait(bytes(d))
                )
                async with asyncio.timeout(3):
                    first = await frames.get()
                decoded = wit.decode_frame(first)
                assert abs(float((decoded.acc_g**2).sum()) ** 0.5 - 1.0) < 0.1  # standing still
                await client.stop_notify(wit.NOTIFY_UUID)
                await asyncio.sleep(0.1)
                assert not sensor.streaming
    finally:
        await sensor.stop()


@pytest.mark.slow
async def test_thirty_seconds_arrive_whole_and_once_at_the_sensors_top_rate() -> None:
    sensor, live, events = await run_witmotion(30.0)
    summary = live.summary()
    sent = sensor.counters.samples_sent
    assert summary.samples >= 0.995 * sent
    assert sent - summary.samples <= 5  # at most the frames in flight at the end (0.1 s)
    assert summary.duplicates == 0 and summary.lost == 0 and summary.malformed == 0
    assert summary.configured_rate_hz == 50 and summary.protocol == "witmotion"
    assert summary.rate_hz == pytest.approx(50, rel=0.01)
    assert live.assembler.rate_estimate_hz == pytest.approx(50, rel=0.002)
    # No Battery service: the level is read from the battery voltage register instead.
    assert summary.battery_percent is not None
    assert abs(summary.battery_percent - sensor.battery_percent) <= 2
    assert "no battery level" not in summary.note
    assert "100 Hz asked, 50 Hz used" in summary.note
    configured = [
        e for e in events if isinstance(e, LinkEvent) and e.kind is LinkEventKind.CONFIGURED
    ]
    assert configured and "50 Hz at most" in configured[0].detail
    assert sensor.six_axis  # the magnetometer is left out


@pytest.mark.slow
async def test_drops_and_disconnects_lose_no_sample_that_arrives() -> None:
    # 2 % of frames never sent, and the link cut every 6 s: every frame that arrives counts,
    # once, and the losses are estimated from the arrival times.
    sensor, live, events = await run_witmotion(
        20.0, faults=Faults(drop_fraction=0.02, disconnect_every_s=6.0)
    )
    summary = live.summary()
    sent = sensor.counters.samples_sent
    assert sensor.counters.samples_dropped > 0 and sensor.counters.disconnects_caused >= 2
    assert summary.samples >= 0.995 * sent
    assert summary.duplicates == 0
    assert summary.reconnects >= 2
    gaps = [e for e in events if isinstance(e, StreamGap)]
    # The link is back within a fraction of a second (at least the 0.1 s retry delay: 5 samples).
    disconnected = [g.lost_samples for g in gaps if g.reason is GapReason.DISCONNECTED]
    assert disconnected and all(lost >= 3 for lost in disconnected), [
        (g.reason.value, g.lost_samples) for g in gaps
    ]
    # Arrival times can only estimate what was lost: a lone dropped frame may hide in the jitter
    # allowance, but the time the link was down is found, each gap within a sample or two.
    truly_lost = sensor.counters.samples_spanned - sent
    assert truly_lost - sensor.counters.samples_dropped - 2 * len(gaps) <= summary.lost
    assert summary.lost <= truly_lost + 2 + 2 * len(gaps)


@pytest.mark.slow
async def test_cut_frames_are_reported_and_the_stream_goes_on() -> None:
    sensor, live, _ = await run_witmotion(4.0, faults=Faults(corrupt_fraction=0.05))
    assert sensor.counters.packets_corrupted > 0
    summary = live.summary()
    assert summary.malformed == sensor.counters.packets_corrupted
    assert summary.samples >= sensor.counters.samples_sent - sensor.counters.samples_corrupted - 2


@pytest.mark.slow
async def test_a_recorded_witmotion_session_replays_to_the_same_figures(tmp_path: Path) -> None:
    path = tmp_path / "wit.tiltmon"
    recorder = SessionRecorder(path, transport="sim:desk_short (witmotion)")
    sim = SimulatedSensorTransport(
        "desk_short", seed=5, model="witmotion", settings=StreamSettings(rate_hz=50)
    )
    async with RecordingTransport(sim, recorder) as transport:
        live = await stream_for(transport, 3.0)
    with Recording(path) as recording:
        assert recording.info.protocol == "witmotion"
        assert recording.info.samples == live.assembler.stats.samples  # counted by protocol
    async with ReplayTransport(path, speed=None) as replay:
        summary = await summarise_replay(replay)
    expected = live.summary()
    assert (summary.samples, summary.lost, summary.duplicates) == (
        expected.samples,
        expected.lost,
        expected.duplicates,
    )


@pytest.mark.slow
def test_stream_command_with_the_witmotion_model() -> None:
    summary = stream_summary("witmotion")
    sent = summary["firmware"]["samples_sent"]
    assert summary["samples"] >= 0.995 * sent
    assert summary["duplicates"] == 0
    assert summary["protocol"] == "witmotion" and summary["configured_rate_hz"] == 50
    assert summary["rate_hz"] == pytest.approx(50, rel=0.01)
    assert summary["sensor_seconds"] >= 29.5


def test_sim_list_shows_the_models() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "sim", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "witmotion" in out.stdout and "WitMotion BWT901BLECL" in out.stdout
    assert "no battery level" in out.stdout and "desk_short" in out.stdout


@pytest.mark.slow
async def test_the_battery_level_is_asked_again_as_it_drains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No Battery service to notify: the transport reads the voltage register now and then (every
    # 5 minutes; every second here, with a battery draining 1 % a second).
    from monitor.transport import ble

    monkeypatch.setattr(ble, "BATTERY_POLL_S", 1.0)
    sensor, live, events = await run_witmotion(
        4.5, faults=Faults(battery_percent=60, battery_drain_per_hour=3600.0)
    )
    levels = [
        e.battery_percent
        for e in events
        if isinstance(e, LinkEvent) and e.kind is LinkEventKind.BATTERY
    ]
    assert len(levels) >= 4 and levels[0] >= 58
    assert levels == sorted(levels, reverse=True) and levels[-1] <= levels[0] - 2
    assert live.summary().battery_percent == levels[-1]
    assert abs(levels[-1] - sensor.battery_percent) <= 2
