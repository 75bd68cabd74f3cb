"""Optional accelerometer calibration: bias and scale per axis from still orientations.

At rest the calibrated reading ``(a − b) / s`` must have length g in every orientation. Six
unknowns (b, s per axis), one equation per orientation: Gauss–Newton least squares on the
residuals ``|(a_i − b) / s| − g`` over the still means ``a_i``. Six or more orientations spread
over the sphere (each face of the clip down, say) pin all six down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.errors import AccelCalibrationError
from calibration.rotation import FloatArray
from calibration.signals import G, runs, still_mask

MIN_ORIENTATIONS = 6


@dataclass(frozen=True, slots=True)
class AccelCalibration:
    """``a_true = (a_measured − bias) / scale`` per axis."""

    bias: FloatArray  # m/s²
    scale: FloatArray  # dimensionless, near 1
    rms_residual: float  # m/s², how well |a| = g fits after calibration
    orientations: int

    def apply(self, acc: npt.ArrayLike) -> FloatArray:
        return (np.asarray(acc, dtype=np.float64) - self.bias) / self.scale

    @classmethod
    def identity(cls) -> AccelCalibration:
        return cls(np.zeros(3), np.ones(3), 0.0, 0)


def fit_accelerometer(still_means: npt.ArrayLike, *, g: float = G) -> AccelCalibration:
    """Fit bias and scale to mean accelerometer readings (k, 3) of still orientations."""
    a = np.asarray(still_means, dtype=np.float64).reshape(-1, 3)
    if len(a) < MIN_ORIENTATIONS:
        raise AccelCalibrationError(
            f"only {len(a)} still orientations: hold the sensor still in at least"
            f" {MIN_ORIENTATIONS} different orientations (each face down once)"
        )
    directions = a / np.linalg.norm(a, axis=1, keepdims=True)
    # Every axis must have seen gravity both ways, or its bias and scale are confounded.
    if np.any(directions.max(axis=0) < 0.5) or np.any(directions.min(axis=0) > -0.5):
        raise AccelCalibrationError(
            "the orientations do not cover every axis both ways: turn the sensor so that each"
            " of its six faces points down once"
        )
    bias = np.zeros(3)
    scale = np.ones(3)
    for _ in range(20):
        x = (a - bias) / scale
        norm = np.linalg.norm(x, axis=1)
        residual = norm - g
        # d|x|/db_j = −x_j/(|x| s_j); d|x|/ds_j = −x_j²/(|x| s_j)
        jac = np.hstack([-x / (norm[:, None] * scale), -(x * x) / (norm[:, None] * scale)])
        step, *_ = np.linalg.lstsq(jac, -residual, rcond=None)
        bias += step[:3]
        scale += step[3:]
        if np.max(np.abs(step)) < 1e-10:
            break
    x = (a - bias) / scale
    rms = float(np.sqrt(np.mean((np.linalg.norm(x, axis=1) - g) ** 2)))
    if np.any(np.abs(scale - 1.0) > 0.2) or np.any(np.abs(bias) > 0.2 * g) or rms > 0.2:
        raise AccelCalibrationError(
            "the accelerometer fit is implausible: the sensor probably moved; hold it still in"
            " each orientation"
        )
    return AccelCalibration(bias=bias, scale=scale, rms_residual=rms, orientations=len(a))


def still_orientation_means(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    *,
    min_still_s: float = 2.0,
    min_separation_deg: float = 20.0,
) -> FloatArray:
    """Mean acc of each still stretch (≥ ``min_still_s``) in a recording of a sensor turned
    from face to face; stretches closer than ``min_separation_deg`` to an earlier one merge."""
    a = np.asarray(acc, dtype=np.float64)
    mask = still_mask(a, gyr, rate_hz)
    means: list[FloatArray] = []
    counts: list[int] = []
    cos_sep = np.cos(np.radians(min_separation_deg))
    for start, stop in runs(mask):
        if stop - start < min_still_s * rate_hz:
            continue
        m = a[start:stop].mean(axis=0)
        for i, prev in enumerate(means):
            if m @ prev / (np.linalg.norm(m) * np.linalg.norm(prev)) > cos_sep:
                n = counts[i]
                means[i] = (prev * n + m * (stop - start)) / (n + stop - start)
                counts[i] = n + stop - start
                break
        else:
            means.append(m)
            counts.append(stop - start)
    return np.array(means).reshape(-1, 3)


__all__ = [
    "MIN_ORIENTATIONS",
    "AccelCalibration",
    "fit_accelerometer",
    "still_orientation_means",
]
