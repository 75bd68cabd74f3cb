"""Signal helpers: still detection, step frequency, band-passing, a gravity tracker.

All of them work on whole arrays (a buffered phase of the procedure, or a walking bout).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.rotation import FloatArray

G = 9.80665  # standard gravity, m/s²
STEP_BAND_HZ = (1.4, 2.5)  # human step frequencies while walking


def moving_std(x: npt.ArrayLike, window: int) -> FloatArray:
    """Standard deviation over the ``window`` samples centred on each sample (edges shrink).

    For (N, 3) input the per-axis variances are summed: the spread of the vector.
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    # float32 input (long recordings, kept compact) becomes float64 a block at a time below
    if arr.ndim == 1:
        arr = arr[:, None]
    n, dims = arr.shape
    if n == 0:
        return np.zeros(0)
    half = max(window // 2, 1)
    width = 2 * half + 1
    # Window sums from prefix sums, a block at a time: each block's samples with half a window
    # either side (zeros beyond the recording), centred on the block's mean. The prefix sums
    # stay as small as a block's, so their differences keep their precision in a recording of
    # any length, and each block works in the cache.
    block = max(8192, width)
    out = np.empty(n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        lo, hi = max(start - half, 0), min(stop + half, n)
        m, pad = stop - start, lo - (start - half)
        seg = np.zeros((dims, m + 2 * half))
        core = seg[:, pad : pad + hi - lo]
        core[:] = arr[lo:hi].T
        centre = core.mean(axis=1)
        core -= np.where(np.isfinite(centre), centre, 0.0)[:, None]
        prefix = np.zeros((dims, m + 2 * half + 1))
        np.cumsum(seg, axis=1, out=prefix[:, 1:])
        # sample i's window is seg[i : i + width]
        mean = prefix[:, width : width + m] - prefix[:, :m]
        squares = np.zeros(m + 2 * half + 1)
        np.cumsum(np.einsum("ij,ij->j", seg, seg), out=squares[1:])
        var = squares[width : width + m] - squares[:m]
        if lo == 0 or hi == n:  # windows cut by the ends of the recording
            i = np.arange(start, stop)
            count = np.minimum(i + half + 1, n) - np.maximum(i - half, 0)
        else:
            count = np.full(m, width)
        mean /= count
        var /= count
        var -= np.einsum("ij,ij->j", mean, mean)
        out[start:stop] = np.sqrt(np.maximum(var, 0.0))
    return out


def row_norms(x: npt.ArrayLike) -> FloatArray:
    """|x| of each row of an (N, 3) array, in float64 whatever the input's precision, a block at
    a time (no float64 copy of a whole long recording)."""
    arr = np.asarray(x)
    out = np.empty(len(arr))
    for start in range(0, len(arr), 1 << 16):
        block = np.asarray(arr[start : start + (1 << 16)], dtype=np.float64)
        out[start : start + len(block)] = np.linalg.norm(block, axis=1)
    return out


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
    a = np.asarray(acc)
    g = None if gyr is None else np.asarray(gyr)
    still = np.empty(len(a), dtype=bool)
    for out, lo, hi in _blocks_with_context(len(a), window):
        part = moving_std(a[lo:hi], window) < acc_std
        if g is not None:
            part &= moving_std(g[lo:hi], window) < gyr_std
        still[out] = part[out.start - lo : out.stop - lo]
    return still


def moving_std_above(
    x: npt.ArrayLike,
    window: int,
    limit: float,
    of: Callable[[npt.NDArray[Any]], FloatArray] | None = None,
) -> npt.NDArray[np.bool_]:
    """``moving_std(of(x), window) > limit`` (``of``: e.g. :func:`row_norms`), worked out a
    block at a time."""
    arr = np.asarray(x)
    above = np.empty(len(arr), dtype=bool)
    for out, lo, hi in _blocks_with_context(len(arr), window):
        part = arr[lo:hi] if of is None else of(arr[lo:hi])
        above[out] = (moving_std(part, window) > limit)[out.start - lo : out.stop - lo]
    return above


# Samples a block of the windowed helpers above: a long recording never gets float64 arrays of
# its whole length, only of a block (each block with half a window of context either side, so
# every sample sees the same window it would in one pass).
WINDOW_BLOCK = 1 << 20


def _blocks_with_context(n: int, window: int) -> list[tuple[slice, int, int]]:
    half = max(window // 2, 1)
    return [
        (
            slice(start, min(start + WINDOW_BLOCK, n)),
            max(start - half, 0),
            min(start + WINDOW_BLOCK + half, n),
        )
        for start in range(0, n, WINDOW_BLOCK)
    ]


def runs(mask: npt.ArrayLike) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in a boolean array."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    # where the mask changes, found on booleans (no integer copy of a long recording's mask)
    edges = np.flatnonzero(m[1:] != m[:-1]) + 1
    starts = edges[m[edges]].tolist()
    stops = edges[~m[edges]].tolist()
    if m[0]:
        starts.insert(0, 0)
    if m[-1]:
        stops.append(len(m))
    return list(zip(starts, stops, strict=True))


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
    u = np.array(up0, dtype=np.float64)
    u /= np.linalg.norm(u)
    ux, uy, uz = u.tolist()
    # A Python loop over one bout (a few thousand samples), on Python floats: a numpy call per
    # sample would cost several times the arithmetic.
    out: list[tuple[float, float, float]] = []
    for (wx, wy, wz), (ax, ay, az) in zip((w * dt).tolist(), a_unit.tolist(), strict=True):
        x, y, z = ux + uy * wz - uz * wy, uy + uz * wx - ux * wz, uz + ux * wy - uy * wx
        x, y, z = x + gain * (ax - x), y + gain * (ay - y), z + gain * (az - z)
        norm = math.sqrt(x * x + y * y + z * z)
        ux, uy, uz = x / norm, y / norm, z / norm
        out.append((ux, uy, uz))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


__all__ = [
    "STEP_BAND_HZ",
    "G",
    "band_pass",
    "moving_std",
    "moving_std_above",
    "row_norms",
    "runs",
    "step_frequency",
    "still_mask",
    "track_up",
]
