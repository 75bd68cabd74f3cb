"""Nordic Thingy:52: the decoder on literal bytes, the motion configuration, and the model end to
end through bleak and the virtual radio."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink
from fault_run import fault_run
from stream_cli import stream_summary

from firmware_sim import thingy as fw
from firmware_sim.models import simulated_device_on_link
from firmware_sim.radio import VirtualRadio
from firmware_sim.thingy import ThingyDevice
from monitor.errors import DecodeError
from monitor.sensors import StreamFormat, protocol
from monitor.sensors import thingy as th
from monitor.transport.ble import scan

G = 9.80665
# vectors.json "thingy52" (DERIVED from m_motion.c's Q formats): (0, 0, 1) g, (1, -2, 0) °/s,
# (1, 0, -2) µT.
RAW = bytes.fromhex("0000000000042000c0ff000010000000e0ff")
FORMAT = StreamFormat(100, 16, 2000, protocol="thingy")


def test_the_reference_vector_decodes() -> None:
    raw = th.decode_raw(RAW)
    np.testing.assert_allclose(raw.acc_g, [0, 0, 1])
    np.testing.assert_allclose(raw.gyr_dps, [1, -2, 0])
    np.testing.assert_allclose(raw.mag_ut, [1, 0, -2])
    (packet,), errors = protocol("thingy").decoder(FORMAT).feed(RAW)
    assert errors == [] and packet.stamp is None
    np.testing.assert_allclose(packet.acc, [[0, 0, G]])
    assert packet.gyr is not None
    np.testing.assert_allclose(np.degrees(packet.gyr), [[1, -2, 0]])


def test_the_simulated_firmware_packs_the_same_bytes() -> None:
    # ±16 g counts: 1 g is 2048 counts, put in Q6.10 exactly.
    acc = np.array([0, 0, 2048], dtype=np.int16)
    assert fw.encode_raw(acc, np.array([32, -64, 0], dtype=np.int16), [1.0, 0.0, -2.0]) == (
        RAW[:6] + bytes.fromhex("3e0083ff0000") + RAW[12:]
    )
    # ±2000 °/s counts are not a whole number of Q11.5 steps: rounded to the nearest.
    gyr = np.array([1000, -12000, 7], dtype=np.int16)
    decoded = th.decode_raw(fw.encode_raw(acc, gyr, [0.0, 0.0, 0.0]))
    np.testing.assert_allclose(decoded.gyr_dps, gyr.astype(float) * 2000 / 32768, atol=0.5 / 32)


def test_wrong_lengths_are_told_and_nothing_raises() -> None:
    decoder = protocol("thingy").decoder(FORMAT)
    _, errors = decoder.feed(RAW[:-5])
    assert [str(e) for e in errors] == ["Thingy raw motion data is 13 bytes, expected 18"]
    with pytest.raises(DecodeError, match="8 bytes, expected 9"):
        th.decode_config(b"\x00" * 8)
    config = th.MotionConfig(100, 10000, 1000, 60, 1)
    assert th.decode_config(th.encode_config(config)) == config


@pytest.mark.slow
async def test_the_rate_is_set_in_the_motion_configuration_and_refused_out_of_range() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "standing", model="thingy", seed=9)
    assert isinstance(sensor, ThingyDevice)
    await sensor.start()
    try:
        async with VirtualRadio(link=link) as radio:
            found = await scan(2.0, backend=radio.scanner_backend)
            assert [(s.name, s.protocol) for s in found] == [("Thingy", "thingy")]
            device = await BleakScanner.find_device_by_name(
                "Thingy", timeout=3.0, backend=radio.scanner_backend
            )
            assert device is not None
            async with BleakClient(device, backend=radio.client_backend) as client:
                config = th.decode_config(await client.read_gatt_char(th.MOTION_CONFIG_UUID))
                assert config.motion_rate_hz == 10  # as shipped
                for rate, kept in ((500, 10), (100, 100)):
                    wanted = th.encode_config(replace(config, motion_rate_hz=rate))
                    await client.write_gatt_char(th.MOTION_CONFIG_UUID, wanted, response=True)
                    read = th.decode_config(await client.read_gatt_char(th.MOTION_CONFIG_UUID))
                    assert read.motion_rate_hz == kept
                samples: asyncio.Queue[bytes] = asyncio.Queue()
                await client.start_notify(th.RAW_DATA_UUID, lambda _s, d: samples.put_nowait(d))
                async with asyncio.timeout(3):
                    raw = th.decode_raw(await samples.get())
                assert abs(float(np.linalg.norm(raw.acc_g)) - 1.0) < 0.1  # standing still
                assert sensor.streaming and sensor.rate_hz == 100
                await client.stop_notify(th.RAW_DATA_UUID)
                await asyncio.sleep(0.1)
                assert not sensor.streaming
    finally:
        await sensor.stop()


@pytest.mark.slow
async def test_drops_and_disconnects_lose_no_sample_that_arrives() -> None:
    run = await fault_run("thingy", seed=6, rate_hz=300)
    assert isinstance(run.sensor, ThingyDevice)
    run.assert_nothing_lost_that_arrived(in_flight=10)
    assert run.summary.configured_rate_hz == 200 and run.summary.battery_percent == 87
    assert run.summary.note == "300 Hz asked, 200 Hz used (the sensor streams 5 to 200 Hz)"


@pytest.mark.slow
def test_stream_command_with_the_thingy_model() -> None:
    summary = stream_summary("thingy")
    sent = summary["firmware"]["samples_sent"]
    assert summary["samples"] >= 0.995 * sent
    assert summary["duplicates"] == 0
    assert summary["protocol"] == "thingy" and summary["configured_rate_hz"] == 100
    assert summary["rate_hz"] == pytest.approx(100, rel=0.01)
    assert summary["sensor_seconds"] >= 29.5


def test_sim_list_shows_the_two_models_and_what_they_can_do() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "sim", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "Nordic Thingy:52" in lines["thingy"] and "(5–200 Hz)" in lines["thingy"]
    assert "MetaMotion" in lines["metamotion"] and "(25/50/100/200 Hz)" in lines["metamotion"]
    assert "no battery level" in lines["movesense"]
    assert "no battery level" not in lines["witmotion"]  # read from its voltage register
