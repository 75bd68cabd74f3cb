"""mbientlab MetaMotion: the decoder on the SDK's literal bytes, the firmware's commands, and the
model end to end through bleak and the virtual radio."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink
from fault_run import fault_run
from stream_cli import stream_summary

from firmware_sim import metamotion as fw_mm
from firmware_sim.metamotion import MetaMotionDevice
from firmware_sim.models import simulated_device_on_link
from firmware_sim.radio import VirtualRadio
from monitor.errors import DecodeError
from monitor.sensors import StreamFormat, protocol
from monitor.sensors import metamotion as mm
from monitor.stream import StreamAssembler
from monitor.transport.ble import scan
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

G = 9.80665
BASE = 1_700_000_000.0

# vectors.json "metawear" (OFFICIAL: MetaWear-SDK-Cpp tests).
ACC_4G = bytes.fromhex("030416c494a22ad0")
GYRO_500 = bytes.fromhex("13053e43ff7f0080")
PACKED_ACC_8G = bytes.fromhex("031c62b7530de9fd16d04d0e57028affa1050a01")
PACKED_GYRO_1000 = bytes.fromhex("13070915ad2608de8a1a0d2665e48d20ac2773ec")


def test_the_sdk_vectors_decode_to_the_sdk_values() -> None:
    acc = mm.decode_data(ACC_4G)
    gyro = mm.decode_data(GYRO_500)
    assert acc is not None and gyro is not None and (acc.module, gyro.module) == (mm.ACC, mm.GYRO)
    np.testing.assert_allclose(acc.counts / 8192.0, [[-1.872, -2.919, -1.495]], atol=5e-4)
    np.testing.assert_allclose(gyro.counts / 65.6, [[262.409, 499.497, -499.512]], atol=5e-4)


def test_packed_vectors_pair_into_three_samples_in_si_units() -> None:
    decoder = protocol("metamotion").decoder(StreamFormat(100, 8, 1000, protocol="metamotion"))
    assert decoder.feed(PACKED_ACC_8G) == ([], [])  # waits for its gyroscope half
    (packet,), errors = decoder.feed(PACKED_GYRO_1000)
    assert errors == [] and len(packet) == 3
    np.testing.assert_allclose(
        packet.acc / G,
        [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]],
        atol=5e-4,
    )
    assert packet.gyr is not None
    np.testing.assert_allclose(
        np.degrees(packet.gyr),
        [[164.177, 301.86, -265.122], [207.134, 296.982, -215.457], [254.055, 309.634, -152.591]],
        atol=5e-3,
    )


def test_a_half_whose_partner_was_lost_is_let_go() -> None:
    decoder = protocol("metamotion").decoder(StreamFormat(100, 8, 1000, protocol="metamotion"))
    assert decoder.feed(PACKED_GYRO_1000) == ([], [])  # its accelerometer half never came
    decoder.feed(PACKED_ACC_8G)
    decoder.feed(PACKED_ACC_8G)  # the first one's gyroscope half never came
    packets, _ = decoder.feed(PACKED_GYRO_1000)
    assert [len(p) for p in packets] == [3]
    _, errors = decoder.feed(PACKED_ACC_8G[:-5])
    assert [str(e) for e in errors] == ["MetaWear 03 1c data of 15 bytes, expected 20"]
    assert decoder.feed(PACKED_GYRO_1000) == ([], [])  # its accelerometer half was garbled
    assert decoder.feed(bytes.fromhex("038328 08")) == ([], [])  # a register answer
    with pytest.raises(DecodeError, match="1 bytes"):
        mm.decode_data(b"\x03")


def test_the_commands_are_the_documented_bytes() -> None:
    assert mm.encode_config(mm.ACC, 100, 4) == bytes.fromhex("03032805")
    commands = mm.start_commands(100, 8, 500)
    assert [c.hex() for c in commands[2:]] == [
        "031c01",
        "130701",
        "03020100",
        "13020100",
        "030101",
        "130101",
    ]
    with pytest.raises(ValueError, match="cannot sample 400 Hz"):
        mm.encode_config(mm.ACC, 400, 8)


@pytest.mark.slow
async def test_the_firmware_follows_the_commands_and_reads_its_configuration_back() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "standing", model="metamotion", seed=21)
    assert isinstance(sensor, MetaMotionDevice)
    await sensor.start()
    heard: asyncio.Queue[bytes] = asyncio.Queue()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [(s.name, s.protocol) for s in found] == [("MetaWear", "metamotion")]
            device = await BleakScanner.find_device_by_name(
                "MetaWear", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                await client.start_notify(mm.NOTIFY_UUID, lambda _s, d: heard.put_nowait(bytes(d)))

                async def write(*requests: bytes) -> None:
                    for request in requests:
                        await client.write_gatt_char(mm.COMMAND_UUID, request, response=True)

                await write(bytes.fromhex("0303ff08"))  # no such rate: ignored
                await write(bytes.fromhex("0383"))
                async with asyncio.timeout(3):
                    assert await heard.get() == bytes.fromhex("03832803")  # as shipped
                await write(*mm.start_commands(50, 8, 500))
                assert sensor.streaming and sensor.rate_hz == 50
                kinds = set()
                async with asyncio.timeout(3):
                    while len(kinds) < 2:
                        kinds.add((await heard.get())[:2])
                assert kinds == {b"\x03\x1c", b"\x13\x07"}
                await write(*mm.stop_commands())
                assert not sensor.streaming
    finally:
        await sensor.stop()


@pytest.mark.slow
async def test_drops_and_disconnects_lose_no_sample_that_arrives() -> None:
    run = await fault_run("metamotion", seed=4, rate_hz=100)
    assert isinstance(run.sensor, MetaMotionDevice)
    run.assert_nothing_lost_that_arrived(in_flight=6)
    assert run.summary.configured_rate_hz == 100 and run.summary.battery_percent == 87


@pytest.mark.slow
def test_stream_command_with_the_metamotion_model() -> None:
    summary = stream_summary("metamotion")
    sent = summary["firmware"]["samples_sent"]
    assert summary["samples"] >= 0.995 * sent
    assert summary["duplicates"] == 0
    assert summary["protocol"] == "metamotion" and summary["configured_rate_hz"] == 100
    assert summary["rate_hz"] == pytest.approx(100, rel=0.01)
    assert summary["sensor_seconds"] >= 29.5


# --- counting lost samples by arrival ----------------------------------------------------------

MM_FORMAT = StreamFormat(100, 8, 500, samples_per_packet=3, protocol="metamotion")


def metamotion_arrivals(
    packets: int,
    *,
    lost: frozenset[int] = frozenset(),
    setup_delay_s: float = 0.0,
    stall: tuple[int, float, float] | None = None,
) -> list[Notification | LinkEvent]:
    """Packed notifications at 100 Hz, each pair 10 ms plus radio jitter after its last sample;
    the first ``setup_delay_s`` late (waiting behind the connection's set-up traffic). A
    ``stall`` (packet, s, s a packet) holds everything from that packet on for a while, then
    lets the backlog through at a pace of its own (a busy computer)."""
    rng = np.random.default_rng(5)
    items: list[Notification | LinkEvent] = [
        LinkEvent(BASE, LinkEventKind.CONFIGURED, config=MM_FORMAT)
    ]
    for k in range(packets):
        if k in lost:
            continue
        counts = np.array([[3 * k + j, 0, 4096] for j in range(3)], dtype=np.int16)
        at = BASE + (3 * k + 2) / 100 + 0.010 + rng.exponential(0.002)
        if k == 0:
            at += setup_delay_s
        if stall is not None and k >= stall[0]:
            start, held_s, pace_s = stall
            at = max(at, BASE + (3 * start + 2) / 100 + held_s + (k - start) * pace_s)
        items.append(Notification(at, fw_mm.encode_data(fw_mm.ACC, counts, packed=True)))
        items.append(Notification(at + 0.0005, fw_mm.encode_data(fw_mm.GYRO, counts, packed=True)))
    return items


def assemble(items: list[Notification | LinkEvent]) -> tuple[StreamAssembler, list[int]]:
    assembler = StreamAssembler()
    numbers: list[int] = []
    for item in items:
        batch, _ = assembler.feed(item)
        if batch is not None:
            numbers += range(batch.first_index, batch.first_index + len(batch))
    return assembler, numbers


def test_a_late_first_packet_does_not_start_a_run_of_false_losses() -> None:
    # The first packet waits 40 ms behind the set-up traffic, so the clock mapping's offset
    # later moves by 40 ms. Lateness remembered against the old offset made every following
    # packet look 40 ms late, each counted four samples lost, which moved the offset again.
    assembler, numbers = assemble(metamotion_arrivals(300, setup_delay_s=0.040))
    assert assembler.stats.lost == 0
    assert numbers == list(range(900))


def test_lost_packets_are_counted_as_lost_and_nothing_more() -> None:
    lost = frozenset({40, 41, 120, 200})
    assembler, numbers = assemble(metamotion_arrivals(300, lost=lost, setup_delay_s=0.040))
    assert assembler.stats.lost == 3 * len(lost)
    kept = [3 * k + j for k in range(300) if k not in lost for j in range(3)]
    assert numbers == kept


def test_a_backlog_let_through_at_half_the_sensors_pace_lost_nothing() -> None:
    # A MetaMotion packet is two notifications, so a busy computer drains a backlog at about
    # half its pace (16 ms a packet against 30 ms): still held up, not lost.
    items = metamotion_arrivals(300, setup_delay_s=0.040, stall=(100, 0.300, 0.016))
    assembler, numbers = assemble(items)
    assert assembler.stats.lost == 0
    assert numbers == list(range(900))
