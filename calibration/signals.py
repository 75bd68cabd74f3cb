"""Signal helpers: still detection, step frequency, band-passing, a gravity tracker.

All of them work on whole arrays (a buffered phase of the procedure, or a walking bout).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from calibration.rotation import FloatArray

G = 9.80665  # standard gravity, m/s²
STEP_BAND_HZ = (1.4, 2.5)  # human step frequencies while walking


def moving_std(x: npt.ArrayLike, window: int) -> FloatArray:
    """Standard deviation over the ``window`` samples centred on each sample (edges shrink).

    For (N, 3) input the per-axis variances are summed: the spread of the vector.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    n = len(arr)
    if n == 0:
        return np.zeros(0)
    half = max(window // 2, 1)
    c1 = np.concatenate([np.zeros((1, arr.shape[1])), np.cumsum(arr, axis=0)])
    c2 = np.concatenate([np.zeros((1, arr.shape[1])), np.cumsum(arr * arr, axis=0)])
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx + half + 1, 0, n)
    count = (hi - lo)[:, None]
    mean = (c1[hi] - c1[lo]) / count
    var = (c2[hi] - c2[lo]) / count - mean * mean
    return np.sqrt(np.maximum(var.sum(axis=1), 0.0))


def still_mask(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    *,
    window_s: float = 1.0,
    acc_std: float = 0.08,
    gyr_std: float = 0.03,
) -> npt.NDArray[np.bool_]:
    """Samples where the sensor is still: little spread of acc (m/s²) and gyro (rad/s).

    Spread, not magnitude, so an unknown gyroscope bias does not matter. Quiet standing sways
    about 0.5° at well under 1 Hz: far below these thresholds; a step is far above them.
    """
    window = max(round(window_s * rate_hz), 3)
    still = moving_std(acc, window) < acc_std
    if gyr is not None:
        still &= moving_std(gyr, window) < gyr_std
    return still


def runs(mask: npt.ArrayLike) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in a boolean array."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _spectrum(x: FloatArray, rate_hz: float) -> tuple[npt.NDArray[np.complex128], FloatArray]:
    # A Hann taper: without it the stride-frequency sway (half the step frequency, as strong as
    # the fore-aft motion) leaks into the step band and turns the forward axis by degrees.
    taper = np.hanning(len(x))
    centred = x - x.mean(axis=0)
    tapered = centred * (taper[:, None] if x.ndim == 2 else taper)
    freq = np.fft.rfftfreq(len(x), 1.0 / rate_hz).astype(np.float64)
    return np.fft.rfft(tapered, axis=0), freq


def step_frequency(
    vertical: npt.ArrayLike, rate_hz: float, band: tuple[float, float] = STEP_BAND_HZ
) -> tuple[float, float]:
    """``(frequency_hz, share)``: the strongest frequency of the vertical acceleration within
    ``band``, and the share of the signal's power (0.3–10 Hz) that lies within ±0.3 Hz of it."""
    v = np.asarray(vertical, dtype=np.float64)
    if len(v) < 8:
        return math.nan, 0.0
    spec, freq = _spectrum(v, rate_hz)
    power = np.abs(spec) ** 2
    in_band = (freq >= band[0]) & (freq <= band[1])
    if not in_band.any():
        return math.nan, 0.0
    peak = float(freq[in_band][np.argmax(power[in_band])])
    total = float(power[(freq >= 0.3) & (freq <= 10.0)].sum())
    near = float(power[np.abs(freq - peak) <= 0.3].sum())
    return peak, (near / total if total > 0 else 0.0)


def band_pass(
    x: npt.ArrayLike, rate_hz: float, low_hz: float, high_hz: float, *, integrate: bool = False
) -> FloatArray:
    """Zero-phase band-pass of a Hann-tapered signal along axis 0; ``integrate`` also divides
    by iω (acceleration → velocity), which is drift-free inside the band."""
    arr = np.asarray(x, dtype=np.float64)
    spec, freq = _spectrum(arr, rate_hz)
    keep = (freq >= low_hz) & (freq <= high_hz)
    spec[~keep] = 0.0
    if integrate:
        omega = 2j * np.pi * np.where(freq > 0, freq, 1.0)
        spec = spec / (omega[:, None] if arr.ndim == 2 else omega)
    return np.fft.irfft(spec, n=len(arr), axis=0)


def track_up(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike,
    rate_hz: float,
    up0: npt.ArrayLike,
    *,
    gyro_bias: npt.ArrayLike = (0.0, 0.0, 0.0),
    tau_s: float = 2.0,
) -> FloatArray:
    """Earth-up in the sensor frame for each sample: a complementary filter.

    The gyroscope turns ``up`` (``du/dt = u × ω``: an earth-fixed vector seen from a turning
    body) and the normalised accelerometer pulls it back with time constant ``tau_s``. Good to
    a fraction of a degree over a walking bout, which is all alignment needs from it.
    """
    a = np.asarray(acc, dtype=np.float64)
    w = np.asarray(gyr, dtype=np.float64) - np.asarray(gyro_bias, dtype=np.float64)
    dt = 1.0 / rate_hz
    gain = dt / tau_s
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    a_unit = np.divide(a, norms, out=np.zeros_like(a), where=norms > 0)
    out = np.empty_like(a)
    u = np.array(up0, dtype=np.float64)
    u /= np.linalg.norm(u)
    # A Python loop over one bout (a few thousand samples) costs milliseconds.
    for k in range(len(a)):
        wx, wy, wz = w[k] * dt
        ux, uy, uz = u
        u = np.array([ux + uy * wz - uz * wy, uy + uz * wx - ux * wz, uz + ux * wy - uy * wx])
        u += gain * (a_unit[k] - u)
        u /= math.sqrt(float(u @ u))
        out[k] = u
    return out


__all__ = [
    "STEP_BAND_HZ",
    "G",
    "band_pass",
    "moving_std",
    "runs",
    "step_frequency",
    "still_mask",
    "track_up",
]
