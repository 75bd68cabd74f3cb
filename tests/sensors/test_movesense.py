"""Movesense GSP: the decoder on literal bytes, and the model end to end through bleak."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink
from stream_cli import stream_summary

from firmware_sim import movesense as fw
from firmware_sim.models import simulated_device_on_link
from firmware_sim.movesense import MovesenseDevice
from firmware_sim.peripheral import Faults
from firmware_sim.radio import VirtualRadio
from monitor.errors import DecodeError
from monitor.live import EventListener, stream_for
from monitor.sensors import StreamFormat, protocol
from monitor.sensors import movesense as ms
from monitor.stream import GapReason, StreamEvent, StreamGap
from monitor.transport.ble import ReconnectPolicy, scan
from monitor.transport.items import LinkEvent
from monitor.transport.sim import SimulatedSensorTransport

# vectors.json "movesense" (DERIVED from the IMU6Data layout): ts 1000 ms, acc (0.5, -0.25,
# 9.75) m/s², gyro (1.5, -2, 0.125) °/s.
VECTOR = bytes.fromhex("0263e80300000000003f000080be00001c410000c03f000000c00000003e")
FORMAT = StreamFormat(52, 8, 2000, protocol="movesense")


def test_the_reference_vector_decodes() -> None:
    (packet,), errors = protocol("movesense").decoder(FORMAT).feed(VECTOR)
    assert errors == [] and packet.stamp == 1000
    np.testing.assert_allclose(packet.acc, [[0.5, -0.25, 9.75]])
    assert packet.gyr is not None
    np.testing.assert_allclose(np.degrees(packet.gyr), [[1.5, -2.0, 0.125]])


def test_the_subscription_is_the_documented_bytes() -> None:
    assert ms.encode_subscribe(52) == bytes.fromhex("01632f4d6561732f494d55362f3532")
    assert ms.decode_result(fw.encode_result(0x63, 200)) == (0x63, 200)


def test_a_payload_continued_in_a_second_notification_is_joined() -> None:
    acc = np.arange(24, dtype=np.int16).reshape(8, 3)
    whole = fw.encode_imu6(0x63, 5000, acc, acc)
    split = [whole[:120], bytes([3, 0x63]) + whole[120:]]
    decoder = protocol("movesense").decoder(FORMAT)
    assert decoder.feed(split[0]) == ([], [])
    (packet,), errors = decoder.feed(split[1])
    assert errors == [] and len(packet) == 8 and packet.stamp == 5000


def test_cut_payloads_answers_and_garbage_are_told_apart() -> None:
    decoder = protocol("movesense").decoder(FORMAT)
    cut = VECTOR[:-5]
    assert decoder.feed(cut) == ([], [])  # could still be continued
    packets, errors = decoder.feed(VECTOR)
    assert len(packets) == 1
    assert [str(e) for e in errors] == ["Movesense payload cut short: 23 bytes"]
    assert decoder.feed(fw.encode_result(0x63, 200)) == ([], [])
    _, errors = decoder.feed(b"\x07\x63\x00")
    assert [str(e) for e in errors] == ["Movesense notification of unknown type 7"]
    with pytest.raises(DecodeError, match="not a time stamp and whole samples"):
        ms.decode_imu6(VECTOR[2:-1])


@pytest.mark.slow
async def test_the_firmware_answers_and_refuses_subscriptions() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "standing", model="movesense", seed=192)
    assert isinstance(sensor, MovesenseDevice)
    await sensor.start()
    answers: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [(s.name, s.protocol) for s in found] == [("Movesense 2030000192", "movesense")]
            device = await BleakScanner.find_device_by_name(
                "Movesense 2030000192", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                await client.start_notify(
                    ms.NOTIFY_UUID, lambda _s, d: answers.put_nowait(bytes(d))
                )

                async def ask(request: bytes) -> int:
                    await client.write_gatt_char(ms.WRITE_UUID, request, response=True)
                    async with asyncio.timeout(3):
                        while True:
                            answer = await answers.get()
                            if answer[0] == ms.RESULT:
                                return ms.decode_result(answer)[1]

                assert await ask(ms.encode_subscribe(100)) == 400  # no such rate
                assert await ask(bytes([1, 0x63]) + b"/Meas/Temp") == 404
                assert await ask(ms.encode_subscribe(52)) == 200
                async with asyncio.timeout(3):
                    while (data := await answers.get())[0] != ms.DATA:
                        pass
                assert len(data) == 6 + 24 * fw.SAMPLES_PER_NOTIFICATION
                assert await ask(ms.encode_unsubscribe()) == 200
                assert await ask(ms.encode_unsubscribe()) == 404
    finally:
        await sensor.stop()


@pytest.mark.slow
async def test_drops_and_disconnects_are_placed_by_the_sensor_clock() -> None:
    events: list[StreamEvent | LinkEvent] = []
    transport = SimulatedSensorTransport(
        "desk_short",
        seed=2,
        model="movesense",
        faults=Faults(drop_fraction=0.05, disconnect_every_s=4.0),
        policy=ReconnectPolicy(first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0),
    )
    async with transport:
        async with asyncio.timeout(60):
            live = await stream_for(transport, 10.0, listeners=[EventListener(events.append)])
    sensor = transport.peripheral
    assert isinstance(sensor, MovesenseDevice)
    summary = live.summary()
    assert sensor.counters.packets_dropped > 0 and summary.reconnects >= 2
    assert sensor.counters.samples_sent - summary.samples <= fw.SAMPLES_PER_NOTIFICATION
    assert summary.duplicates == 0
    assert summary.battery_percent is None
    assert "the sensor reports no battery level" in summary.note
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert any(g.reason is GapReason.DISCONNECTED for g in gaps)
    assert sum(g.lost_samples for g in gaps if g.reason is GapReason.DROPPED) <= (
        sensor.counters.samples_dropped
    )


@pytest.mark.slow
def test_stream_command_with_the_movesense_model() -> None:
    summary = stream_summary("movesense")
    sent = summary["firmware"]["samples_sent"]
    assert summary["samples"] >= 0.995 * sent
    assert summary["duplicates"] == 0 and summary["lost"] == 0
    assert summary["protocol"] == "movesense" and summary["configured_rate_hz"] == 104
    assert summary["rate_hz"] == pytest.approx(104, rel=0.01)
