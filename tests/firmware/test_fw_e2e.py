"""The clip firmware's core streams to the real client: tiltmon_fw behind a bumble GATT server on
the virtual radio, monitor.transport.ble on bleak on the other side."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bumble.link import LocalLink
from fw_on_bumble import FirmwareOnBumble

from firmware_sim.radio import VirtualRadio
from monitor import codec
from monitor.stream import StreamAssembler, StreamGap
from monitor.transport.ble import BleTransport, ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

POLICY = ReconnectPolicy(first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0, watchdog_s=2.0)


async def stream(
    firmware: FirmwareOnBumble, radio: VirtualRadio, seconds: float, rate: int
) -> tuple[list[LinkEvent], list[Notification]]:
    events: list[LinkEvent] = []
    notes: list[Notification] = []
    transport = BleTransport(
        None,
        protocols=["tiltmon"],
        settings=StreamSettings(rate_hz=rate, acc_range_g=4, gyr_range_dps=1000),
        policy=POLICY,
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
    )
    async with transport:
        loop = asyncio.get_running_loop()
        end: float | None = None
        async with asyncio.timeout(seconds + 30):
            async for item in transport:
                if isinstance(item, LinkEvent):
                    events.append(item)
                    if item.kind is LinkEventKind.CONFIGURED:
                        end = loop.time() + seconds
                else:
                    notes.append(item)
                if end is not None and loop.time() >= end:
                    break
    return events, notes


@pytest.mark.slow
async def test_the_firmware_core_streams_through_bleak_to_the_client() -> None:
    link = LocalLink()
    firmware = FirmwareOnBumble(link, "desk_short", seed=4)
    await firmware.start()
    try:
        async with VirtualRadio(link=link) as radio:
            events, notes = await stream(firmware, radio, 3.0, rate=50)
            await asyncio.sleep(0.3)  # the client's stop reaches the firmware
    finally:
        await firmware.stop()

    configured = [e for e in events if e.kind is LinkEventKind.CONFIGURED]
    assert len(configured) == 1 and configured[0].config is not None
    fmt = configured[0].config
    # The client's settings went through the firmware's control point.
    assert (fmt.rate_hz, fmt.acc_range_g, fmt.gyr_range_dps) == (50, 4, 1000)
    assert (firmware.settings.rate_hz, firmware.settings.acc_range_g) == (50, 4)
    assert fmt.samples_per_packet == 19  # the radio's MTU of 247
    assert not firmware.settings.streaming  # the client stopped it on the way out
    info = [e for e in events if e.kind is LinkEventKind.DEVICE_INFO]
    assert info and info[0].device_info is not None
    battery = [e.battery_percent for e in events if e.kind is LinkEventKind.BATTERY]
    assert battery == [firmware.gauge.level]

    # Every packet the client got is one the firmware built, in order, none twice.
    received = [n.payload for n in notes]
    assert received and received == firmware.sent.packets[: len(received)]
    # The client's assembler places every sample, and counts exactly the ones the loop lost.
    assembler = StreamAssembler()
    for event in events:
        assembler.feed(event)
    acc: list[np.ndarray] = []
    lost = 0
    for note in notes:
        batch, stream_events = assembler.feed(note)
        lost += sum(e.lost_samples for e in stream_events if isinstance(e, StreamGap))
        if batch is not None:
            acc.append(batch.acc)
    got = np.vstack(acc)
    # On a loaded machine the loop runs late and loses samples, as on a busy clip: the test
    # holds the accounting, not the load (the timeline spans the time, received or lost).
    assert len(got) >= 2 * 19
    sent = np.array(firmware.sent.samples[: len(got)], dtype=np.float64)
    scale = codec.SensorConfig(50, 4, 1000, True, 19, True).acc_scale
    np.testing.assert_allclose(got, sent * scale, atol=1e-12)
    # What the firmware's loop lost between the first and the last packet the client got.
    lost_before = firmware.sent.lost_before
    assert lost == lost_before[len(received) - 1] - lost_before[0]
    assert len(got) + lost >= 0.75 * 3.0 * 50  # the first packet comes 19 samples in
    sequences = [codec.decode_imu_packet(p).sequence for p in received]
    assert sequences == sorted(sequences)
