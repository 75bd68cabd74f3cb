"""The clip firmware's packets, byte for byte against docs/protocol.md and the client's decoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiltmon_fw import packets
from tiltmon_fw import profile as fw
from tiltmon_fw.control import Settings

from firmware_sim import protocol as sim
from monitor import codec

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()

GYRO_PACKET = bytes.fromhex(
    "01 05 2a 00 40 42 0f 00 02"
    " 00 00 00 00 00 10 0a 00 ec ff 00 00"
    " 33 ff 29 00 04 10 ff 7f 00 00 fd ff"
)
ACC_ONLY_PACKET = bytes.fromhex("01 00 ff ff f0 ff ff ff 01 64 00 9c ff 00 10")
CONFIG = bytes.fromhex("01 01 64 00 08 f4 01 13 03")


def test_the_examples_are_the_documents() -> None:
    for example in (GYRO_PACKET, ACC_ONLY_PACKET, CONFIG):
        assert example.hex(" ") in DOC


def test_firmware_copy_of_the_profile_matches_the_document_and_the_client() -> None:
    for name in ("IMU_SERVICE_UUID", "IMU_DATA_UUID", "CONFIG_UUID", "CONTROL_POINT_UUID"):
        assert getattr(fw, name) == getattr(codec, name)
        assert getattr(fw, name) in DOC
    assert fw.SAMPLE_RATES_HZ == codec.SAMPLE_RATES_HZ
    assert fw.ACC_RANGES_G == codec.ACC_RANGES_G
    assert fw.GYR_RANGES_DPS == codec.GYR_RANGES_DPS
    assert fw.PROTOCOL_VERSION == codec.PROTOCOL_VERSION
    assert {op.value for op in codec.Opcode} == set(fw.OPCODES)


def test_gyro_example_is_built_byte_for_byte() -> None:
    counts = [0, 0, 4096, 10, -20, 0, -205, 41, 4100, 32767, 0, -3]
    assert packets.encode_imu_packet(42, 1_000_000, counts) == GYRO_PACKET


def test_accelerometer_only_example_is_built_byte_for_byte() -> None:
    packet = packets.encode_imu_packet(65535, 0xFFFFFFF0, [100, -100, 4096], has_gyro=False)
    assert packet == ACC_ONLY_PACKET
    decoded = codec.decode_imu_packet(packet)
    assert decoded.gyr_counts is None and decoded.timestamp_us == 0xFFFFFFF0


def test_sequence_and_timestamp_wrap_on_the_wire() -> None:
    packet = packets.encode_imu_packet(65536 + 7, (1 << 32) + 123, [1, 2, 3, 4, 5, 6])
    decoded = codec.decode_imu_packet(packet)
    assert (decoded.sequence, decoded.timestamp_us) == (7, 123)


def test_configuration_example_is_built_byte_for_byte() -> None:
    settings = Settings(rate_hz=100, acc_range_g=8, gyr_range_dps=500)
    settings.streaming = True
    settings.samples_per_packet = 19
    assert packets.encode_config(settings) == CONFIG
    config = codec.decode_config(packets.encode_config(settings))
    assert (config.rate_hz, config.streaming, config.has_gyro) == (100, True, True)
    settings.has_gyro = False
    settings.streaming = False
    assert codec.decode_config(packets.encode_config(settings)).has_gyro is False


@pytest.mark.parametrize(
    ("mtu", "gyro", "expected"),
    [(247, True, 19), (23, True, 1), (517, True, 42), (247, False, 39), (23, False, 1)],
)
def test_batch_size_follows_the_mtu_as_documented(mtu: int, gyro: bool, expected: int) -> None:
    assert packets.samples_per_packet(mtu, gyro) == expected
    assert packets.samples_per_packet(mtu, gyro) == sim.samples_per_packet(mtu, has_gyro=gyro)


def test_a_packet_holds_whole_samples_and_at_most_255() -> None:
    with pytest.raises(ValueError, match="whole"):
        packets.encode_imu_packet(0, 0, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="1 to 255"):
        packets.encode_imu_packet(0, 0, [])
    with pytest.raises(ValueError, match="1 to 255"):
        packets.encode_imu_packet(0, 0, [0] * 6 * 256)


int16 = st.integers(-32768, 32767)


@settings(max_examples=200, deadline=None)
@given(
    sequence=st.integers(0, 200_000),
    timestamp=st.integers(0, 1 << 40),
    gyro=st.booleans(),
    rows=st.lists(st.lists(int16, min_size=6, max_size=6), min_size=1, max_size=40),
)
def test_any_packet_decodes_in_the_client_and_matches_the_simulator(
    sequence: int, timestamp: int, gyro: bool, rows: list[list[int]]
) -> None:
    width = 6 if gyro else 3
    counts = [v for row in rows for v in row[:width]]
    packet = packets.encode_imu_packet(sequence, timestamp, counts, gyro)
    array = np.array(rows, dtype=np.int16)
    reference = sim.encode_imu_packet(
        sequence, timestamp, array[:, :3], array[:, 3:] if gyro else None
    )
    assert packet == reference
    decoded = codec.decode_imu_packet(packet)
    assert decoded.sequence == sequence % 65536
    assert decoded.timestamp_us == timestamp % (1 << 32)
    np.testing.assert_array_equal(decoded.acc_counts, array[:, :3])
    if gyro:
        assert decoded.gyr_counts is not None
        np.testing.assert_array_equal(decoded.gyr_counts, array[:, 3:])
    acc_bound = bool(np.isin(array[:, :3], (-32768, 32767)).any())
    gyr_bound = gyro and bool(np.isin(array[:, 3:], (-32768, 32767)).any())
    assert (decoded.acc_saturated, decoded.gyr_saturated) == (acc_bound, gyr_bound)
