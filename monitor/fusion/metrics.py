"""Accuracy measures for orientation estimates (the BROAD benchmark's definitions)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitor.fusion import quat

FloatArray = npt.NDArray[np.float64]


def inclination_error_deg(q_true: npt.ArrayLike, q_est: npt.ArrayLike) -> FloatArray:
    """Per-row angle between the true and the estimated earth-up direction in the sensor frame.

    Defined in the sensor frame, it ignores heading and needs no alignment of the two earth
    frames. NaN rows (e.g. lost optical markers) give NaN.
    """
    return quat.angle_between_deg(quat.earth_up_in_sensor(q_true), quat.earth_up_in_sensor(q_est))


def inclination_rmse_deg(
    q_true: npt.ArrayLike, q_est: npt.ArrayLike, mask: npt.ArrayLike | None = None
) -> float:
    """RMSE of :func:`inclination_error_deg` over ``mask`` rows (all if None), NaN rows skipped."""
    err = inclination_error_deg(q_true, q_est)
    keep = np.isfinite(err)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean(np.square(err[keep]))))
