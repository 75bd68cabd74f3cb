"""Battery percentage from the cell's voltage: a LiPo discharge curve, smoothed.

One-cell LiPo at the clip's light load (a few mA): the open-circuit voltage against the charge
left, from typical discharge curves. A voltage reading is only an estimate of the charge (±5 %
or so mid-curve, where the curve is flat), so readings are averaged and the published level
moves only by whole steps of at least two percent, except at the ends.
"""

# (volts, percent), rising
LIPO_CURVE = (
    (3.00, 0),
    (3.45, 5),
    (3.68, 10),
    (3.74, 20),
    (3.77, 30),
    (3.79, 40),
    (3.82, 50),
    (3.87, 60),
    (3.92, 70),
    (3.97, 80),
    (4.10, 90),
    (4.20, 100),
)


def percent_from_volts(volts: float) -> int:
    """Charge left (0–100 %) for a resting cell voltage, interpolated along the curve."""
    if volts <= LIPO_CURVE[0][0]:
        return 0
    if volts >= LIPO_CURVE[-1][0]:
        return 100
    for i in range(1, len(LIPO_CURVE)):
        v1, p1 = LIPO_CURVE[i]
        if volts <= v1:
            v0, p0 = LIPO_CURVE[i - 1]
            return int(round(p0 + (p1 - p0) * (volts - v0) / (v1 - v0)))
    return 100


class BatteryGauge:
    """Averages voltage readings and publishes a level that does not flicker."""

    def __init__(self, smoothing: float = 0.2, step: int = 2) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError("smoothing must be in (0, 1]")
        self.smoothing = smoothing
        self.step = step
        self.volts: "float | None" = None
        self.level: "int | None" = None

    def update(self, volts: float) -> bool:
        """Take one reading; True when the published level changed (notify it)."""
        if self.volts is None:
            self.volts = volts
        else:
            self.volts += self.smoothing * (volts - self.volts)
        percent = percent_from_volts(self.volts)
        if (
            self.level is None
            or abs(percent - self.level) >= self.step
            or (percent in (0, 100) and percent != self.level)
        ):
            self.level = percent
            return True
        return False
