"""The WitMotion decoder and framer on literal bytes (../shared/reference/sensors/vectors.json)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim import witmotion as fw
from monitor.errors import DecodeError
from monitor.sensors import StreamFormat, protocol
from monitor.sensors import witmotion as wit
from monitor.sensors.base import STANDARD_GRAVITY

# vectors.json "witmotion" (DERIVED from the vendor SDK's scaling): accel (0, 0, 1) g,
# gyro (0.9765625, 0, 0) °/s, angles (5.625, -5.625, 90)°.
VECTOR = bytes.fromhex("5561000000000008100000000000000400fc0040")
FORMAT = StreamFormat(50, 16, 2000, protocol="witmotion")


def frame(i: int) -> bytes:
    """A data frame whose acc-x count is ``i``, so tests can follow every sample."""
    return fw.encode_frame([i, 0, 2048], [0, 0, 0], [0, 0, 0])


def decode(payloads: list[bytes]) -> tuple[list[int], list[str]]:
    decoder = protocol("witmotion").decoder(FORMAT)
    seen: list[int] = []
    errors: list[str] = []
    for payload in payloads:
        packets, errs = decoder.feed(payload)
        for packet in packets:
            counts = packet.acc[:, 0] / STANDARD_GRAVITY / 16 * 32768
            seen += np.round(counts).astype(int).tolist()
        errors += [str(e) for e in errs]
    return seen, errors


def test_the_reference_vector_decodes_to_its_documented_values() -> None:
    decoded = wit.decode_frame(VECTOR)
    np.testing.assert_allclose(decoded.acc_g, [0, 0, 1])
    np.testing.assert_allclose(decoded.gyr_dps, [0.9765625, 0, 0])
    np.testing.assert_allclose(decoded.angle_deg, [5.625, -5.625, 90])


def test_the_stream_decoder_gives_si_units() -> None:
    packets, errors = protocol("witmotion").decoder(FORMAT).feed(VECTOR)
    assert errors == []
    (packet,) = packets
    np.testing.assert_allclose(packet.acc, [[0, 0, STANDARD_GRAVITY]])
    assert packet.gyr is not None
    np.testing.assert_allclose(packet.gyr, [[np.radians(0.9765625), 0, 0]])
    assert packet.stamp is None  # no time stamp: placed by arrival
    assert not packet.saturated.any()


def test_the_simulator_encodes_the_reference_vector_byte_for_byte() -> None:
    assert fw.encode_frame([0, 0, 2048], [16, 0, 0], [1024, -1024, 16384]) == VECTOR
    assert fw.SERVICE_UUID == wit.SERVICE_UUID and fw.NOTIFY_UUID == wit.NOTIFY_UUID
    assert fw.WRITE_UUID == wit.WRITE_UUID and wit.SERVICE_UUID.endswith("9a34fb")


def test_frames_split_across_notifications_are_reassembled() -> None:
    data = frame(1) + frame(2) + frame(3)
    seen, errors = decode([data[:7], data[7:31], data[31:45], data[45:]])
    assert seen == [1, 2, 3] and errors == []


def test_merged_frames_in_one_notification_all_count() -> None:
    seen, errors = decode([frame(1) + frame(2) + frame(3) + frame(4)])
    assert seen == [1, 2, 3, 4] and errors == []


def test_a_frame_cut_short_is_reported_once_and_the_next_one_is_kept() -> None:
    seen, errors = decode([frame(1), frame(2)[:15], frame(3), frame(4)])
    assert seen == [1, 3, 4]
    assert errors == ["WitMotion frame cut short: 15 of 20 bytes"]


def test_garbage_before_a_header_is_skipped_with_a_clear_message() -> None:
    seen, errors = decode([b"\x00\x01\x02" + frame(7)])
    assert seen == [7]
    assert errors == ["skipped 3 bytes that are no WitMotion frame"]


def test_register_answers_are_not_samples() -> None:
    battery = fw.encode_register(0x64, [402])
    seen, errors = decode([frame(1) + battery + frame(2)])
    assert seen == [1, 2] and errors == []


def test_the_battery_register_read_is_the_documented_command_and_answer() -> None:
    assert wit.encode_read(wit.REG_BATTERY) == bytes.fromhex("ffaa276400")
    # The answer may share a notification with data frames; other registers are not it.
    answer = fw.encode_register(0x64, [402])
    assert answer[:4] == bytes.fromhex("55716400")
    assert wit.find_register_answer(frame(1) + answer, wit.REG_BATTERY) == (
        402,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    )
    assert wit.find_register_answer(fw.encode_register(0x65, [402]), wit.REG_BATTERY) is None
    assert wit.find_register_answer(answer[:-1], wit.REG_BATTERY) is None


@pytest.mark.parametrize(
    ("volts", "percent"), [(4.20, 100), (4.25, 100), (4.02, 80), (3.84, 50), (3.0, 0)]
)
def test_a_lipo_voltage_reads_as_its_charge(volts: float, percent: int) -> None:
    assert wit.battery_percent(volts) == percent


def test_a_header_split_after_its_first_byte_survives() -> None:
    data = frame(5) + frame(6)
    seen, errors = decode([data[:21], data[21:]])
    assert seen == [5, 6] and errors == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (VECTOR[:19], "WitMotion frame is 19 bytes, expected 20"),
        (b"\x55\x71" + VECTOR[2:], "WitMotion frame starts 55 71, expected 55 61 (a data frame)"),
    ],
)
def test_malformed_frames_raise_decode_error(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        wit.decode_frame(payload)
    assert str(caught.value) == message
    assert "\n" not in message


def test_saturated_axes_are_flagged() -> None:
    payload = fw.encode_frame([32767, 0, 2048], [0, 0, 0], [0, 0, 0]) + frame(1)
    (packet,), _ = protocol("witmotion").decoder(FORMAT).feed(payload)
    assert packet.saturated.tolist() == [True, False]


def test_commands_are_the_vendor_bytes() -> None:
    assert bytes.fromhex("ffaa6988b5") == wit.UNLOCK
    assert wit.encode_set_rate(50) == bytes.fromhex("ffaa030800")
    assert wit.encode_set_rate(10) == bytes.fromhex("ffaa030600")
    assert wit.command(wit.REG_ALGORITHM, 1) == bytes.fromhex("ffaa240100")
    with pytest.raises(ValueError, match="50"):
        wit.encode_set_rate(100)


def test_recognised_by_name_or_by_service() -> None:
    from monitor.sensors import recognise

    assert recognise("WT901BLE68", []) is protocol("witmotion")
    assert recognise("", [wit.SERVICE_UUID.upper()]) is protocol("witmotion")
    assert recognise("tiltmon", ["8a3c0001-6b1e-4f2a-9d5c-2e7b41f0a6d3"]) is protocol("tiltmon")
    assert recognise("Thingy", []) is protocol("thingy")
    assert recognise("Mi Smart Band", []) is None
