"""What the clip does to its raw readings: IMU counts to the protocol's scale, volts to percent."""

from __future__ import annotations

import itertools
import math

import pytest
from tiltmon_fw.battery import LIPO_CURVE, BatteryGauge, percent_from_volts
from tiltmon_fw.packets import encode_imu_packet
from tiltmon_fw.scaling import ACC_MG_PER_COUNT, GYR_MDPS_PER_COUNT, Scaler

from monitor import codec


@pytest.mark.parametrize("acc_g", sorted(ACC_MG_PER_COUNT))
@pytest.mark.parametrize("gyr_dps", sorted(GYR_MDPS_PER_COUNT))
def test_rescaled_counts_mean_the_same_physical_value(acc_g: int, gyr_dps: int) -> None:
    scaler = Scaler(acc_g, gyr_dps)
    config = codec.SensorConfig(100, acc_g, gyr_dps, True, 19, True)
    raw_acc, raw_gyr = (1000, -2000, 8000), (100, -300, 1234)
    wire = scaler.counts(raw_acc, raw_gyr)
    for raw, counts in zip(raw_acc, wire[:3], strict=True):
        chip = raw * ACC_MG_PER_COUNT[acc_g] * 1e-3 * codec.STANDARD_GRAVITY  # m/s²
        assert counts * config.acc_scale == pytest.approx(chip, abs=config.acc_scale)
    for raw, counts in zip(raw_gyr, wire[3:], strict=True):
        chip = math.radians(raw * GYR_MDPS_PER_COUNT[gyr_dps] * 1e-3)  # rad/s
        assert counts * config.gyr_scale == pytest.approx(chip, abs=config.gyr_scale)


def test_a_saturated_chip_reading_stays_saturated_on_the_wire() -> None:
    scaler = Scaler(8, 500)
    # ±8 g: the chip's bound 32767 would rescale to 32748, no longer a bound; 500 °/s: a large
    # in-range reading (the chip goes to ±573 °/s) lands beyond the wire's bound.
    assert scaler.counts((32767, -32768, 0), (30000, -30000, 0)) == [
        32767,
        -32768,
        0,
        32767,
        -32768,
        0,
    ]
    packet = codec.decode_imu_packet(
        encode_imu_packet(0, 0, scaler.counts((32767, 0, 0), (0, 0, 0)))
    )
    assert packet.acc_saturated and not packet.gyr_saturated


def test_accelerometer_only_reading() -> None:
    assert len(Scaler(2, 125).counts((1, 2, 3), None)) == 3


def test_unknown_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="sensitivity"):
        Scaler(3, 500)


def test_the_lipo_curve_ends_and_interpolates() -> None:
    assert percent_from_volts(2.5) == 0 and percent_from_volts(3.0) == 0
    assert percent_from_volts(4.2) == 100 and percent_from_volts(4.35) == 100
    assert percent_from_volts(3.82) == 50
    assert percent_from_volts((3.82 + 3.87) / 2) == 55
    levels = [percent_from_volts(3.0 + i * 0.005) for i in range(241)]
    assert levels == sorted(levels)  # never rises as the voltage falls
    assert [v for v, _ in LIPO_CURVE] == sorted(v for v, _ in LIPO_CURVE)


def test_the_gauge_smooths_and_does_not_flicker() -> None:
    gauge = BatteryGauge(smoothing=0.2, step=2)
    assert gauge.update(3.82) and gauge.level == 50
    # ADC noise of ±10 mV around the same charge: the published level holds.
    changes = [gauge.update(3.82 + (0.01 if i % 2 else -0.01)) for i in range(50)]
    assert not any(changes) and gauge.level == 50
    # A real discharge moves it, in steps of at least two percent.
    shown = [gauge.level]
    for i in range(400):
        if gauge.update(3.82 - i * 0.0005):
            shown.append(gauge.level)
    assert shown == sorted(shown, reverse=True) and shown[-1] < 45
    assert all(a - b >= 2 for a, b in itertools.pairwise(shown))


def test_the_gauge_reaches_empty() -> None:
    gauge = BatteryGauge(smoothing=1.0)
    assert gauge.update(3.05) and gauge.level == 1
    # one percent down, less than a step, but the end of the scale is always shown
    assert gauge.update(2.9) and gauge.level == 0
