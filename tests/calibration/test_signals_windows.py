"""The block-wise moving standard deviation and the float-loop gravity tracker equal their plain
definitions."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from calibration.signals import moving_std, still_mask, track_up
from firmware_sim import simulate

FloatArray = npt.NDArray[np.float64]


def two_pass_std(x: npt.ArrayLike, window: int) -> FloatArray:
    """Per sample: the window's samples (cut at the ends), mean removed, variances summed."""
    arr = np.asarray(x, dtype=np.float64)
    arr = arr[:, None] if arr.ndim == 1 else arr
    half = max(window // 2, 1)
    padded = np.pad(arr, ((half, half), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0)
    out: FloatArray = np.sqrt(np.nanvar(windows, axis=-1).sum(axis=1))
    return out


@pytest.mark.parametrize(
    ("n", "window"),
    [
        (1, 5),
        (2, 5),
        (7, 100),
        (300, 100),
        (8191, 101),
        (8193, 101),
        (20_000, 100),
        (20_000, 3),
        (20_000, 1),
        (1000, 999),
        (1000, 5000),
    ],
)
@pytest.mark.parametrize("dims", [1, 3])
def test_moving_std_is_the_windowed_standard_deviation(n: int, window: int, dims: int) -> None:
    rng = np.random.default_rng(n + window)
    # a level that changes (posture), slow drift and noise, as a worn accelerometer sees
    x = 9.8 * rng.uniform(-1, 1, dims) + np.cumsum(rng.normal(0, 0.02, (n, dims)), axis=0)
    x += rng.normal(0, 0.05, (n, dims))
    x[n // 2 :] += 3.0
    x = x[:, 0] if dims == 1 else x
    want = two_pass_std(x, window)
    got = moving_std(x, window)
    assert got.shape == (n,)
    # relative to the spread; short windows can be nearly flat, hence the absolute part
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-8)


def test_moving_std_keeps_its_precision_in_a_long_recording() -> None:
    # 8 h at 100 Hz of a large level with tiny noise: running sums over the whole recording
    # would cancel away most of the digits of the variance
    rng = np.random.default_rng(0)
    n = 2_880_000
    x = 1000.0 + rng.normal(0, 1e-3, n)
    got = moving_std(x, 100)
    idx = np.r_[0:200, n // 2 : n // 2 + 200, n - 200 : n]
    want = np.array([np.std(x[max(i - 50, 0) : i + 51]) for i in idx])
    np.testing.assert_allclose(got[idx], want, rtol=1e-7)


def test_moving_std_of_nothing() -> None:
    assert moving_std(np.zeros((0, 3)), 100).shape == (0,)
    assert moving_std(np.zeros(0), 100).shape == (0,)


def test_still_mask_on_a_simulated_recording() -> None:
    rec = simulate("desk_short", seed=1, rate_hz=100.0)
    window = 100
    want = (two_pass_std(rec.acc, window) < 0.08) & (two_pass_std(rec.gyr, window) < 0.03)
    got = still_mask(rec.acc, rec.gyr, 100.0)
    assert got.any() and not got.all()
    np.testing.assert_array_equal(got, want)


def per_sample_track_up(
    acc: FloatArray, gyr: FloatArray, rate_hz: float, up0: FloatArray, bias: FloatArray
) -> FloatArray:
    """The complementary filter written with a small numpy array per sample."""
    w = gyr - bias
    dt = 1.0 / rate_hz
    gain = dt / 2.0
    norms = np.linalg.norm(acc, axis=1, keepdims=True)
    a_unit = acc / norms
    out = np.empty_like(acc)
    u = up0 / np.linalg.norm(up0)
    for k in range(len(acc)):
        wx, wy, wz = w[k] * dt
        ux, uy, uz = u
        u = np.array([ux + uy * wz - uz * wy, uy + uz * wx - ux * wz, uz + ux * wy - uy * wx])
        u += gain * (a_unit[k] - u)
        u /= math.sqrt(float(u @ u))
        out[k] = u
    return out


def test_track_up_is_the_complementary_filter() -> None:
    rec = simulate("walk", seed=2, rate_hz=100.0)
    acc, gyr = rec.acc[:3000], rec.gyr[:3000]
    up0 = acc[:100].mean(axis=0)
    bias = np.array([0.002, -0.001, 0.0005])
    want = per_sample_track_up(acc, gyr, 100.0, up0, bias)
    got = track_up(acc, gyr, 100.0, up0, gyro_bias=bias)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert track_up(acc[:0], gyr[:0], 100.0, up0).shape == (0, 3)
