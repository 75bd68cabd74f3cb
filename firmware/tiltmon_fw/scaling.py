"""From the IMU's raw counts to the protocol's: ``range / 32768`` per count, bounds kept.

The LSM6DS3/LSM6DS33/LSM6DS3TR-C family is set to the same full-scale range as the protocol,
but its datasheet sensitivities are not exactly ``range / 32768`` (at ±500 °/s a count is
17.5 m°/s, not 15.26), so the counts are rescaled here; a raw reading at the chip's own bound
stays at the wire's bound, which is how the client learns that an axis saturated.
"""

from tiltmon_fw import profile as p

# Datasheet sensitivities (LSM6DS3TR-C table 3, same for LSM6DS33): per count.
ACC_MG_PER_COUNT = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
GYR_MDPS_PER_COUNT = {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}


def _factor(unit_per_count: float, range_: int) -> float:
    # raw · unit/count / 1000 gives g (or °/s); × 32768 / range gives wire counts
    return unit_per_count * 32.768 / range_


class Scaler:
    """Rescales one raw 6-axis reading for the configured ranges."""

    def __init__(self, acc_range_g: int, gyr_range_dps: int) -> None:
        if acc_range_g not in ACC_MG_PER_COUNT or gyr_range_dps not in GYR_MDPS_PER_COUNT:
            raise ValueError("no sensitivity for ±%d g / ±%d dps" % (acc_range_g, gyr_range_dps))
        self.acc = _factor(ACC_MG_PER_COUNT[acc_range_g], acc_range_g)
        self.gyr = _factor(GYR_MDPS_PER_COUNT[gyr_range_dps], gyr_range_dps)

    def counts(self, raw_acc: "tuple[int, ...]", raw_gyr: "tuple[int, ...] | None") -> "list[int]":
        out = [_rescale(v, self.acc) for v in raw_acc]
        if raw_gyr is not None:
            out.extend(_rescale(v, self.gyr) for v in raw_gyr)
        return out


def _rescale(raw: int, factor: float) -> int:
    if raw >= p.INT16_MAX:
        return p.INT16_MAX
    if raw <= p.INT16_MIN:
        return p.INT16_MIN
    value = int(round(raw * factor))
    # A reading inside the chip's range that lands beyond the wire's is saturated there.
    return max(p.INT16_MIN, min(p.INT16_MAX, value))
