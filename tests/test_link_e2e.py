"""End to end through bleak and the virtual radio: the BLE client against the simulated firmware.

Every test here runs the real stack: the client is monitor.transport.ble on bleak, bleak drives
firmware_sim's bumble backend, and the firmware is a bumble GATT server on the same virtual link.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError
from bumble.link import LocalLink

from firmware_sim.peripheral import Faults, simulated_sensor_on_link
from firmware_sim.radio import VirtualRadio
from monitor import codec
from monitor.live import EventListener, LiveStream, stream_for
from monitor.stream import GapReason, MalformedPacket, StreamEvent, StreamGap
from monitor.transport.ble import ReconnectPolicy, StreamSettings, scan
from monitor.transport.items import LinkEvent, LinkEventKind
from monitor.transport.sim import SimulatedSensorTransport

FAST_POLICY = ReconnectPolicy(
    first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0, watchdog_s=1.0
)


async def run_sim(
    seconds: float,
    *,
    rate: int = 200,
    faults: Faults = Faults(),
    scenario: str = "desk_short",
    faults_end_after: float | None = None,
) -> tuple[SimulatedSensorTransport, LiveStream, list[StreamEvent | LinkEvent]]:
    """Stream from the simulated sensor; ``faults_end_after`` seconds in, the firmware heals."""
    events: list[StreamEvent | LinkEvent] = []
    transport = SimulatedSensorTransport(
        scenario, seed=3, faults=faults, settings=StreamSettings(rate_hz=rate), policy=FAST_POLICY
    )

    async def heal_later() -> None:
        assert faults_end_after is not None
        await asyncio.sleep(faults_end_after)
        assert transport.peripheral is not None
        transport.peripheral.faults = Faults()

    async with transport:
        healer = asyncio.create_task(heal_later()) if faults_end_after is not None else None
        async with asyncio.timeout(seconds + 60):  # a hang fails the test, not the whole run
            live = await stream_for(transport, seconds, listeners=[EventListener(events.append)])
        if healer is not None:
            healer.cancel()
    return transport, live, events


def kinds(events: list[StreamEvent | LinkEvent]) -> list[LinkEventKind]:
    return [e.kind for e in events if isinstance(e, LinkEvent)]


@pytest.mark.slow
async def test_thirty_seconds_at_200_hz_arrive_whole_and_once() -> None:
    transport, live, events = await run_sim(30.5)
    summary = live.summary()
    assert transport.peripheral is not None
    built = transport.peripheral.counters.samples_sent
    assert summary.sensor_seconds >= 30.0
    assert summary.duplicates == 0
    assert summary.samples >= 0.999 * (summary.samples + summary.lost)
    assert summary.samples >= 0.999 * summary.sensor_seconds * 200
    assert built - summary.samples <= 2 * 19  # at most the packets in flight at the end
    assert summary.rate_hz == pytest.approx(200, rel=0.01)
    assert summary.battery_percent == 87
    assert summary.device == "tiltmon"
    assert kinds(events)[:4] == [
        LinkEventKind.CONNECTED,
        LinkEventKind.DEVICE_INFO,
        LinkEventKind.BATTERY,
        LinkEventKind.CONFIGURED,
    ]
    configured = next(e for e in events if isinstance(e, LinkEvent) and e.config is not None)
    assert configured.config is not None
    assert configured.config.rate_hz == 200
    assert configured.config.samples_per_packet == 19  # the 247-byte MTU was negotiated


@pytest.mark.slow
async def test_dropped_notifications_are_counted_as_lost_exactly() -> None:
    # The firmware stops dropping a second before the end, so that a later packet reveals
    # every drop to the client.
    transport, live, events = await run_sim(
        6.0, faults=Faults(drop_fraction=0.05), faults_end_after=5.0
    )
    assert transport.peripheral is not None
    dropped = transport.peripheral.counters.samples_dropped
    assert dropped > 0
    summary = live.summary()
    assert summary.lost == dropped
    assert summary.duplicates == 0
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert all(g.reason is GapReason.DROPPED for g in gaps)
    assert sum(g.lost_samples for g in gaps) == dropped


@pytest.mark.slow
async def test_malformed_notifications_are_dropped_and_the_stream_goes_on() -> None:
    transport, live, events = await run_sim(
        5.0, faults=Faults(corrupt_fraction=0.05), faults_end_after=4.0
    )
    assert transport.peripheral is not None
    corrupted = transport.peripheral.counters.packets_corrupted
    assert corrupted > 0
    malformed = [e for e in events if isinstance(e, MalformedPacket)]
    assert len(malformed) == live.summary().malformed == corrupted
    # A malformed packet's samples are gone: the next good packet shows them as lost.
    assert live.summary().lost == transport.peripheral.counters.samples_corrupted
    assert all("bytes long" in e.error for e in malformed)
    assert live.summary().samples > 4 * 200


@pytest.mark.slow
async def test_link_loss_reconnects_within_five_seconds_and_reports_the_gap() -> None:
    transport, live, events = await run_sim(9.0, faults=Faults(disconnect_every_s=3.0))
    summary = live.summary()
    assert summary.reconnects >= 2
    assert transport.peripheral is not None
    assert transport.peripheral.counters.disconnects_caused >= 2
    link_events = [e for e in events if isinstance(e, LinkEvent)]
    for i, event in enumerate(link_events):
        if event.kind is LinkEventKind.DISCONNECTED:
            back = next((e for e in link_events[i:] if e.kind is LinkEventKind.CONFIGURED), None)
            if back is not None:
                assert back.at - event.at < 5.0
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert len(gaps) >= 2
    assert all(g.reason is GapReason.DISCONNECTED and g.lost_samples > 0 for g in gaps)
    assert summary.duplicates == 0


@pytest.mark.slow
async def test_a_silent_link_trips_the_watchdog_and_streaming_resumes() -> None:
    _, live, events = await run_sim(6.0, faults=Faults(stall_after_s=1.5))
    assert LinkEventKind.STALLED in kinds(events)
    assert live.summary().reconnects >= 1
    assert live.summary().sensor_seconds > 4.0


async def test_shutdown_stops_streaming_and_disconnects() -> None:
    transport, _, _ = await run_sim(1.0)
    assert transport.peripheral is not None
    assert transport.peripheral.config.streaming is False


@pytest.mark.slow
async def test_sensor_answers_control_point_and_refuses_bad_requests() -> None:
    link = LocalLink()
    sensor = simulated_sensor_on_link(link, "standing")
    await sensor.start()
    responses: asyncio.Queue[codec.ControlResponse] = asyncio.Queue()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [s.name for s in found] == ["tiltmon"]
            device = await BleakScanner.find_device_by_name(
                "tiltmon", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                await client.start_notify(
                    codec.CONTROL_POINT_UUID,
                    lambda _s, data: responses.put_nowait(codec.decode_control_response(data)),
                )

                async def ask(request: bytes) -> codec.Status:
                    await client.write_gatt_char(codec.CONTROL_POINT_UUID, request, response=True)
                    async with asyncio.timeout(3):
                        return (await responses.get()).status

                assert await ask(bytes.fromhex("03 c9 00")) is codec.Status.INVALID_PARAMETER
                assert await ask(bytes.fromhex("03 c8")) is codec.Status.MALFORMED
                assert await ask(bytes.fromhex("7f")) is codec.Status.OPCODE_NOT_SUPPORTED
                assert await ask(codec.encode_set_rate(50)) is codec.Status.SUCCESS
                assert await ask(codec.encode_start()) is codec.Status.SUCCESS
                assert await ask(codec.encode_set_rate(200)) is codec.Status.INVALID_STATE
                config = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
                assert (config.rate_hz, config.streaming) == (50, True)
                assert await ask(codec.encode_stop()) is codec.Status.SUCCESS
                with pytest.raises(BleakGATTProtocolError):
                    await client.write_gatt_char(codec.IMU_DATA_UUID, b"\x00", response=True)
                serial = await client.read_gatt_char(codec.DEVICE_INFO_UUIDS["serial"])
                assert bytes(serial) == b"SIM-0000"
    finally:
        await sensor.stop()


def test_stream_command_prints_a_json_summary() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "stream",
            "--sim",
            "standing",
            "--seconds",
            "3",
            "--rate",
            "200",
            "--json",
            "--sim-drop",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"samples", "lost", "duplicates", "reconnects", "rate_hz"} <= summary.keys()
    assert summary["lost"] > 0
    assert summary["samples"] + summary["lost"] >= 2.5 * 200
    assert summary["duplicates"] == 0
    delivered = summary["samples"] / (summary["samples"] + summary["lost"])
    assert summary["rate_hz"] == pytest.approx(200 * delivered, rel=0.05)


@pytest.mark.slow
def test_a_simulated_sensor_in_another_process_is_reached_over_loopback() -> None:
    sim = subprocess.Popen(
        # Version 1 (open link): this test is about the loopback radio, pairing has its own.
        [sys.executable, "-m", "monitor.cli", "sim", "walk", "--seed", "5", "--open-link"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        spec = re.search(r"tcp-client:127\.0\.0\.1:\d+", sim.stdout.readline())
        assert spec is not None
        env = {**os.environ, "TILTMON_RADIO": spec.group(0)}
        listed = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "scan", "--seconds", "1", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=env,
        )
        assert [s["name"] for s in json.loads(listed.stdout)] == ["tiltmon"]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                "stream",
                "--radio",
                spec.group(0),
                "--seconds",
                "3",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["samples"] >= 2.5 * 100
        assert summary["lost"] == 0
        assert summary["device"] == "tiltmon"
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()


def test_an_unreachable_radio_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for command in (["scan", "--seconds", "1"], ["stream", "--seconds", "1", "--no-record"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                *command,
                "--radio",
                f"tcp-client:127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "does not answer" in result.stderr
        assert "Traceback" not in result.stderr
