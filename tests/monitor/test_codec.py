"""The decoder: round trips with the firmware's encoder, and a clear error for anything else."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_sim import protocol as fw
from monitor import codec
from monitor.errors import DecodeError, MonitorError

counts = st.integers(1, 255).flatmap(
    lambda n: hnp.arrays(np.int16, (n, 3), elements=st.integers(-32768, 32767))
)


@given(
    acc=counts,
    data=st.data(),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    with_gyro=st.booleans(),
)
def test_decoder_round_trips_the_encoder(
    acc: np.ndarray, data: st.DataObject, sequence: int, timestamp: int, with_gyro: bool
) -> None:
    gyr = (
        data.draw(hnp.arrays(np.int16, acc.shape, elements=st.integers(-32768, 32767)))
        if with_gyro
        else None
    )
    packet = codec.decode_imu_packet(fw.encode_imu_packet(sequence, timestamp, acc, gyr))
    assert (packet.sequence, packet.timestamp_us) == (sequence, timestamp)
    np.testing.assert_array_equal(packet.acc_counts, acc)
    if gyr is None:
        assert packet.gyr_counts is None
    else:
        assert packet.gyr_counts is not None
        np.testing.assert_array_equal(packet.gyr_counts, gyr)
        assert packet.gyr_saturated == bool(np.any((gyr == 32767) | (gyr == -32768)))
    assert packet.acc_saturated == bool(np.any((acc == 32767) | (acc == -32768)))


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_decode_or_raise_decode_error(blob: bytes) -> None:
    try:
        packet = codec.decode_imu_packet(blob)
    except DecodeError as exc:
        error: Exception = exc
    else:
        size = 12 if packet.gyr_counts is not None else 6
        assert len(blob) == 9 + packet.sample_count * size
        return
    assert isinstance(error, MonitorError)
    assert isinstance(error, ValueError)
    assert str(error)


@given(st.binary(max_size=20))
def test_arbitrary_config_and_responses_raise_only_decode_error(blob: bytes) -> None:
    for decode in (codec.decode_config, codec.decode_control_response, codec.decode_battery_level):
        with contextlib.suppress(DecodeError):
            decode(blob)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "shorter than its 9-byte header"),
        (bytes.fromhex("02 01 00 00 00 00 00 00 01") + bytes(12), "protocol version 2"),
        (bytes.fromhex("01 01 00 00 00 00 00 00 00"), "no samples"),
        (bytes.fromhex("01 01 00 00 00 00 00 00 02") + bytes(12), "says 2 samples"),
        (bytes.fromhex("01 01 00 00 00 00 00 00 01") + bytes(13), "is 22 bytes long"),
    ],
)
def test_malformed_packets_are_named(blob: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        codec.decode_imu_packet(blob)


def test_bad_configuration_values_are_refused() -> None:
    good = bytearray.fromhex("01 01 64 00 08 f4 01 13 03")
    codec.decode_config(bytes(good))
    cases = [(4, 3, "accelerometer range"), (1, 7, "state"), (7, 0, "0 samples")]
    for offset, value, message in cases:
        bad = bytearray(good)
        bad[offset] = value
        with pytest.raises(DecodeError, match=message):
            codec.decode_config(bytes(bad))


def test_request_encoders_check_their_arguments() -> None:
    assert codec.encode_set_rate(50) == bytes.fromhex("03 32 00")
    assert codec.encode_set_ranges(16, 2000) == bytes.fromhex("04 10 d0 07")
    with pytest.raises(ValueError, match="sample rate"):
        codec.encode_set_rate(60)
    with pytest.raises(ValueError, match="gyroscope range"):
        codec.encode_set_ranges(8, 300)
