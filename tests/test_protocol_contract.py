"""Both sides of docs/protocol.md against its byte-exact examples."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from firmware_sim import protocol as fw
from monitor import codec

DOC = Path(__file__).parents[1] / "docs" / "protocol.md"

GYRO_PACKET = bytes.fromhex(
    "01 05 2a 00 40 42 0f 00 02"
    " 00 00 00 00 00 10 0a 00 ec ff 00 00"
    " 33 ff 29 00 04 10 ff 7f 00 00 fd ff"
)
ACC_ONLY_PACKET = bytes.fromhex("01 00 ff ff f0 ff ff ff 01 64 00 9c ff 00 10")
CONFIG = bytes.fromhex("01 01 64 00 08 f4 01 13 03")


def test_examples_are_the_ones_in_the_document() -> None:
    text = DOC.read_text()
    for example in (GYRO_PACKET, ACC_ONLY_PACKET, CONFIG):
        assert example.hex(" ") in text


def test_both_sides_use_the_same_uuids() -> None:
    for name in ("IMU_SERVICE_UUID", "IMU_DATA_UUID", "CONFIG_UUID", "CONTROL_POINT_UUID"):
        uuid = getattr(codec, name)
        assert uuid == getattr(fw, name)
        assert uuid in DOC.read_text()
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uuid)
    assert codec.BATTERY_LEVEL_UUID == fw.BATTERY_LEVEL_UUID
    assert codec.DEVICE_INFO_UUIDS["serial"] == fw.SERIAL_NUMBER_UUID


def test_gyro_packet_example_decodes_to_documented_values() -> None:
    packet = codec.decode_imu_packet(GYRO_PACKET)
    config = codec.decode_config(CONFIG)
    assert (packet.sequence, packet.timestamp_us, packet.sample_count) == (42, 1_000_000, 2)
    assert not packet.acc_saturated and packet.gyr_saturated
    np.testing.assert_allclose(
        packet.acc_counts * config.acc_scale,
        [[0, 0, 9.80665], [-0.490811, 0.098162, 9.816227]],
        atol=5e-7,
    )
    assert packet.gyr_counts is not None
    np.testing.assert_allclose(
        packet.gyr_counts * config.gyr_scale,
        [[0.002663, -0.005326, 0], [8.726380, 0, -0.000799]],
        atol=5e-7,
    )


def test_acc_only_example_decodes() -> None:
    packet = codec.decode_imu_packet(ACC_ONLY_PACKET)
    assert packet.gyr_counts is None
    assert (packet.sequence, packet.timestamp_us) == (0xFFFF, 0xFFFFFFF0)
    np.testing.assert_array_equal(packet.acc_counts, [[100, -100, 4096]])


def test_config_example_decodes() -> None:
    config = codec.decode_config(CONFIG)
    assert config == codec.SensorConfig(
        rate_hz=100,
        acc_range_g=8,
        gyr_range_dps=500,
        streaming=True,
        samples_per_packet=19,
        has_gyro=True,
    )


def test_firmware_encoder_produces_the_examples() -> None:
    acc = np.array([[0, 0, 4096], [-205, 41, 4100]], dtype=np.int16)
    gyr = np.array([[10, -20, 0], [32767, 0, -3]], dtype=np.int16)
    assert fw.encode_imu_packet(42, 1_000_000, acc, gyr) == GYRO_PACKET
    acc_only = np.array([[100, -100, 4096]], dtype=np.int16)
    assert fw.encode_imu_packet(0xFFFF, 0xFFFFFFF0, acc_only, None) == ACC_ONLY_PACKET
    assert (
        fw.encode_config(
            fw.SensorConfig(
                rate_hz=100, acc_range_g=8, gyr_range_dps=500, streaming=True, samples_per_packet=19
            )
        )
        == CONFIG
    )


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (codec.encode_set_rate(200), codec.Status.SUCCESS),
        (bytes.fromhex("03 c9 00"), codec.Status.INVALID_PARAMETER),
        (bytes.fromhex("03 c8"), codec.Status.MALFORMED),
        (bytes.fromhex("7f"), codec.Status.OPCODE_NOT_SUPPORTED),
    ],
)
def test_control_requests_and_responses(request_bytes: bytes, status: codec.Status) -> None:
    response = fw.encode_control_response(request_bytes[0], fw.Status(status))
    decoded = codec.decode_control_response(response)
    assert decoded.opcode == request_bytes[0]
    assert decoded.status is status
    assert response.hex(" ") in DOC.read_text()


def test_batch_size_follows_the_mtu() -> None:
    assert fw.samples_per_packet(247) == 19
    assert 9 + 19 * 12 <= 247 - 3
    assert fw.samples_per_packet(23) == 1
    assert fw.samples_per_packet(517) == 42
