"""The Polar PMD decoder on literal bytes (../shared/reference/sensors/vectors.json)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim import polar as fw
from monitor.errors import DecodeError
from monitor.sensors import StreamFormat, protocol
from monitor.sensors import polar as pmd
from monitor.sensors.base import STANDARD_GRAVITY

# A REAL Verity Sense accelerometer frame (polar-ble-sdk issue #443; 52 Hz, no FACTOR: mG).
VERITY_ACC = bytes.fromhex(
    "022e578af13732940a81aeffc2ffe603063e7db213f9e1233cd1fbbe1f00451010bcef0782510079"
    "fff3402ff88320f84120e88160143ce00ff7ff2f3d71f7b8202005b0f7c1eeef0931f0f5d137b7e0"
    "2b4afce889ba1344c00b01b1fb7f3f00060011c0cef7f64e0cc3df137f9e0343c017bfb017c5e0f3"
    "c31e0c01901bc2f0ff3ee0fbba102000b0fb3ef107fc700cc1fdf34241187a9f03fedf07880f0414"
    "e4232c4b53b2dc120e1c63d2eb304211eb2b3130d10d1250bdffd3e3c0d1061000220cf91ffc06a0"
    "e33f52fc7ee00f39d1277fd003c02f0881d0ebbf6100fbc0177b3000"
)
# DERIVED H10 frame: raw int16 mG.
H10_ACC = bytes.fromhex("02daebc39e9843520801f4ff1e00eb03f6ff1c00e903")
FORMAT = StreamFormat(52, 8, 2000, protocol="polar", gyr_factor=2000 / 32768)


def test_the_real_verity_frame_decodes_lsb_first() -> None:
    frame = pmd.decode_frame(VERITY_ACC)
    assert len(VERITY_ACC) == 228
    assert frame.measurement == pmd.ACC
    assert frame.last_timestamp_ns == 762289452789421870
    assert len(frame.counts) == 99
    assert frame.counts[:2].tolist() == [[-82, -62, 998], [-85, -53, 993]]
    assert frame.counts[-1].tolist() == [-82, -46, 996]
    magnitude = np.linalg.norm(frame.counts, axis=1)
    assert magnitude.min() > 990 and magnitude.max() < 1025  # a sensor at rest: about 1 g


def test_the_h10_raw_frame_decodes() -> None:
    frame = pmd.decode_frame(H10_ACC)
    assert frame.counts.tolist() == [[-12, 30, 1003], [-10, 28, 1001]]
    assert frame.last_timestamp_ns == 599616023171427290


def test_start_requests_are_the_documented_bytes() -> None:
    # Verity ACC 52 Hz ±8 g 3 channels (a real request); GYRO ±2000 °/s (derived).
    assert pmd.encode_start(pmd.ACC, 52, 8) == bytes.fromhex("0202000134000101100002010800040103")
    assert pmd.encode_start(pmd.GYRO, 52, 2000) == bytes.fromhex(
        "020500013400010110000201d007040103"
    )
    assert pmd.decode_control_response(bytes.fromhex("f002020000")).ok


def test_the_simulators_frames_decode_to_what_it_encoded() -> None:
    rng = np.random.default_rng(3)
    counts = np.cumsum(rng.integers(-300, 300, size=(40, 3)), axis=0) + 500
    counts[7] = [32767, -32768, 0]  # wide deltas: a block needs 17 bits
    frame = fw.encode_delta_frame(fw.GYRO, 123_456_789, counts)
    decoded = pmd.decode_frame(frame)
    assert decoded.measurement == pmd.GYRO and decoded.last_timestamp_ns == 123_456_789
    np.testing.assert_array_equal(decoded.counts, counts)
    assert fw.SERVICE_UUID == pmd.SERVICE_UUID and fw.DATA_UUID == pmd.DATA_UUID


def test_the_simulator_reencodes_the_real_frame_with_the_same_samples() -> None:
    real = pmd.decode_frame(VERITY_ACC)
    again = fw.encode_delta_frame(fw.ACC, real.last_timestamp_ns, real.counts)
    assert again[:10] == VERITY_ACC[:10]
    np.testing.assert_array_equal(pmd.decode_frame(again).counts, real.counts)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (VERITY_ACC[:7], "PMD frame of 7 bytes is shorter than its 10-byte header"),
        (VERITY_ACC[:100], "PMD delta frame cut short: a block needs 140 bytes, 82 left"),
        (VERITY_ACC[:13], "PMD delta frame has no reference sample"),
        (VERITY_ACC[:9] + b"\x07" + VERITY_ACC[10:], "PMD frame type 0x07 is not supported"),
        (H10_ACC[:-1], "PMD raw frame of 11 bytes is not whole 6-byte samples"),
    ],
)
def test_malformed_frames_raise_one_line_decode_errors(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        pmd.decode_frame(payload)
    assert str(caught.value) == message


def frames(first: int, n: int) -> tuple[bytes, bytes]:
    """Accelerometer and gyroscope frames for samples first..first+n-1 (acc-x = index)."""
    index = np.arange(first, first + n)
    acc = np.stack([index, np.zeros(n), np.full(n, 1000)], axis=1)
    gyr = np.stack([np.zeros(n), index, np.zeros(n)], axis=1)
    last = fw.sample_timestamp_ns(first + n - 1)
    return fw.encode_delta_frame(fw.ACC, last, acc), fw.encode_delta_frame(fw.GYRO, last, gyr)


def test_accelerometer_and_gyroscope_frames_are_paired_by_time() -> None:
    decoder = protocol("polar").decoder(FORMAT)
    out = []
    for k in range(4):
        acc, gyr = frames(26 * k, 26)
        if k == 2:
            acc, gyr = gyr, acc  # the gyroscope's frame may come first
        for payload in (acc, gyr):
            packets, errors = decoder.feed(payload)
            assert errors == []
            out += packets
    acc_index = np.concatenate([p.acc[:, 0] for p in out]) / STANDARD_GRAVITY * 1000
    np.testing.assert_allclose(acc_index, np.arange(104), atol=1e-9)
    gyr_index = np.degrees(np.concatenate([p.gyr[:, 1] for p in out if p.gyr is not None]))
    np.testing.assert_allclose(gyr_index / (2000 / 32768), np.arange(104), atol=1e-6)
    assert out[0].stamp == fw.sample_timestamp_ns(0)


def test_a_lost_frame_leaves_its_partners_unpaired_and_the_rest_consecutive() -> None:
    decoder = protocol("polar").decoder(FORMAT)
    out = []
    for k in range(4):
        acc, gyr = frames(26 * k, 26)
        for payload in (acc,) if k == 1 else (acc, gyr):  # frame k=1's gyroscope lost
            out += decoder.feed(payload)[0]
    # Samples 26..51 are gone (the stream shows them as a gap); nothing else is.
    assert [p.stamp for p in out] == [fw.sample_timestamp_ns(i) for i in (0, 52, 78)]
    assert [len(p) for p in out] == [26, 26, 26]


def test_recognised_by_name_or_service() -> None:
    from monitor.sensors import recognise

    assert recognise("Polar Sense 0A1B2C3D", []) is protocol("polar")
    assert recognise("", [pmd.SERVICE_UUID.upper()]) is protocol("polar")
