"""Pelvis-frame samples and the per-frame features the posture state machine decides on.

A frame (1 s) gives: the mean earth up in the pelvis frame and its tilt and inclination, the
vertical acceleration, the rotation about horizontal axes, whether it moved, and whether the
wearer was walking. The features of many frames are computed together (whole-array numpy), a
block at a time; every feature depends on the frame's own samples (and the walking window's)
alone, so how a recording is cut into batches and blocks changes nothing.

**Walking** (this is the one place the classifier finds it): over the last ``walk_window_s``
the vertical acceleration varies (``walk_std``, or down to ``slow_walk_std`` for slow and
shuffling gait), has ``walk_band_frac`` of its variance at step frequencies, repeats at a step
or stride period (autocorrelation), and the pelvis is upright. The alignment's search for long
walking bouts (``calibration.auto.find_walking_bouts``) is a different question (bouts of 8 s
and more with a clear step frequency, for the forward axis) and stays in ``calibration``,
which must not depend on ``monitor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.posture.config import G, PostureConfig, PostureConfigError

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]
BLOCK_FRAMES = 1024  # frames whose features are computed together (bounds the memory used)


@dataclass(frozen=True, slots=True, eq=False)
class PelvisSamples:
    """A batch of IMU samples in the pelvis frame (docs/conventions.md), with the tilt angles.

    ``acc_P`` m/s² specific force, ``gyr_P`` rad/s, both already rotated by the mounting ``q_PS``;
    ``sagittal_deg`` / ``frontal_deg`` from the orientation estimate (``monitor.fusion.tilt``).
    ``t`` in seconds, strictly increasing across batches. Build one from sensor-frame data with
    :meth:`from_sensor`.
    """

    t: FloatArray  # (n,)
    acc_P: FloatArray
    gyr_P: FloatArray
    sagittal_deg: FloatArray  # (n,)
    frontal_deg: FloatArray  # (n,)

    def __post_init__(self) -> None:
        n = np.shape(self.t)[0] if np.ndim(self.t) == 1 else -1
        if n < 0:
            raise PostureConfigError(f"t must be 1-D, got shape {np.shape(self.t)}")
        for name in ("acc_P", "gyr_P"):
            if np.shape(getattr(self, name)) != (n, 3):
                got = np.shape(getattr(self, name))
                raise PostureConfigError(f"{name} must have shape ({n}, 3), got {got}")
        for name in ("sagittal_deg", "frontal_deg"):
            if np.shape(getattr(self, name)) != (n,):
                got = np.shape(getattr(self, name))
                raise PostureConfigError(f"{name} must have shape ({n},), got {got}")

    def __len__(self) -> int:
        return int(np.shape(self.t)[0])

    def slice(self, lo: int, hi: int) -> PelvisSamples:
        return PelvisSamples(
            self.t[lo:hi],
            self.acc_P[lo:hi],
            self.gyr_P[lo:hi],
            self.sagittal_deg[lo:hi],
            self.frontal_deg[lo:hi],
        )

    @classmethod
    def from_sensor(
        cls,
        t: npt.ArrayLike,
        acc_S: npt.ArrayLike,
        gyr_S: npt.ArrayLike,
        q_ES: npt.ArrayLike,
        q_PS: npt.ArrayLike,
    ) -> PelvisSamples:
        """Rotate sensor-frame samples into the pelvis frame and add the tilt angles."""
        from monitor.fusion import quat, tilt_deg  # numpy-only helpers

        q_ps = quat.normalize(np.asarray(q_PS, dtype=np.float64))
        sag, fro = tilt_deg(q_ES, q_ps)
        return cls(
            np.asarray(t, dtype=np.float64),
            quat.rotate(q_ps, np.asarray(acc_S, dtype=np.float64)),
            quat.rotate(q_ps, np.asarray(gyr_S, dtype=np.float64)),
            np.asarray(sag, dtype=np.float64),
            np.asarray(fro, dtype=np.float64),
        )


def concat_samples(parts: Sequence[PelvisSamples]) -> PelvisSamples:
    if len(parts) == 1:
        return parts[0]
    return PelvisSamples(
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.acc_P for p in parts]),
        np.concatenate([p.gyr_P for p in parts]),
        np.concatenate([p.sagittal_deg for p in parts]),
        np.concatenate([p.frontal_deg for p in parts]),
    )


def up_from_tilt(sagittal_deg: npt.ArrayLike, frontal_deg: npt.ArrayLike) -> FloatArray:
    """Earth up in the pelvis frame from the tilt angles (the inverse of ``tilt_from_up``)."""
    s = np.radians(np.asarray(sagittal_deg, dtype=np.float64))
    f = np.radians(np.asarray(frontal_deg, dtype=np.float64))
    return np.stack([-np.sin(s), np.cos(s) * np.sin(f), np.cos(s) * np.cos(f)], axis=-1)


@dataclass(slots=True)
class Frame:
    """Features of one frame (what the state machine needs, nothing per sample)."""

    start: float
    end: float
    up: Vec3  # mean earth up in the pelvis frame (unit)
    sagittal: float
    frontal: float
    incl: float  # degrees between earth up and pelvis up
    walking: bool
    moving: bool
    rot_deg: float  # integrated horizontal rotation in the frame
    av: FloatArray  # vertical acceleration samples, m/s² (gravity removed)
    av_mean: float  # their mean
    dt: float  # s per sample


class FrameFeatures:
    """Frame features of consecutive blocks, carrying the walking window across them."""

    def __init__(self, config: PostureConfig) -> None:
        self.config = config
        # the last usable frames as (t, vertical acc), for the walking window
        self._history: list[tuple[FloatArray, FloatArray]] = []

    def block(
        self,
        x: PelvisSamples,
        bounds: npt.NDArray[np.int64],
        start: FloatArray,
        end: FloatArray,
    ) -> list[Frame | None]:
        """The frames ``x[bounds[i]:bounds[i + 1]]`` (times ``start[i]`` to ``end[i]``);
        ``None`` for a frame with no usable sample (it is unknown, and clears the walking
        window)."""
        cfg = self.config
        acc, gyr, sag, fro = x.acc_P, x.gyr_P, x.sagittal_deg, x.frontal_deg
        ok = np.isfinite(sag) & np.isfinite(fro) & np.all(np.isfinite(acc), axis=1)
        ok &= np.all(np.isfinite(gyr), axis=1)
        t = x.t
        if ok.all():
            count = np.diff(bounds)
        else:  # drop the unusable samples; a frame with none left is unknown
            count = np.add.reduceat(ok.astype(np.int64), bounds[:-1])
            t, acc, gyr, sag, fro = t[ok], acc[ok], gyr[ok], sag[ok], fro[ok]
        good = count > 0
        if not good.any():
            self._history = []
            return [None] * len(start)
        n = count[good]
        first = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)

        def total(v: FloatArray) -> FloatArray:
            out: FloatArray = np.add.reduceat(v, first)
            return out

        # earth up per sample (up_from_tilt), its mean per frame, and the frame's tilt
        s, f = np.radians(sag), np.radians(fro)
        cs = np.cos(s)
        ux, uy, uz = -np.sin(s), cs * np.sin(f), cs * np.cos(f)
        mx, my, mz = total(ux) / n, total(uy) / n, total(uz) / n
        norm = np.sqrt(mx * mx + my * my + mz * mz)
        upx, upy, upz = mx / norm, my / norm, mz / norm
        sag_m = np.degrees(np.arctan2(-upx, np.hypot(upy, upz)))
        fro_m = np.degrees(np.arctan2(upy, upz))
        incl = np.degrees(np.arccos(np.clip(upz, -1.0, 1.0)))
        # vertical acceleration; rotation about horizontal axes; spread of |acc|
        ax, ay, az = acc[:, 0], acc[:, 1], acc[:, 2]
        av = ax * ux + ay * uy + az * uz - G
        gx, gy, gz = gyr[:, 0], gyr[:, 1], gyr[:, 2]
        gu = gx * ux + gy * uy + gz * uz
        hx, hy, hz = gx - gu * ux, gy - gu * uy, gz - gu * uz
        gh_mag = np.sqrt(hx * hx + hy * hy + hz * hz)
        dt = cfg.frame_s / n
        rot_deg = np.degrees(total(gh_mag) * dt)
        gh_rms = np.sqrt(total(gh_mag * gh_mag) / n)
        amag = np.sqrt(ax * ax + ay * ay + az * az)
        dev = amag - np.repeat(total(amag) / n, n)
        acc_std = np.sqrt(total(dev * dev) / n)
        moving = (gh_rms > cfg.move_gyr) | (acc_std > cfg.move_acc)
        # people walk upright: a roll in bed or a sit-up can repeat like steps
        walking = self._walking(t, av, n, good, end[good]) & (incl < cfg.walk_max_incl_deg)
        av_mean = total(av) / n

        out: list[Frame | None] = []
        g = 0
        offsets = [*first.tolist(), len(av)]
        rows = zip(
            upx.tolist(),
            upy.tolist(),
            upz.tolist(),
            sag_m.tolist(),
            fro_m.tolist(),
            incl.tolist(),
            walking.tolist(),
            moving.tolist(),
            rot_deg.tolist(),
            av_mean.tolist(),
            dt.tolist(),
            strict=True,
        )
        for t_start, t_end, usable in zip(start.tolist(), end.tolist(), good.tolist(), strict=True):
            if not usable:
                out.append(None)
                continue
            ex, ey, ez, sg, fr, inc, walk, move, rot, avm, step = next(rows)
            frame_av = av[offsets[g] : offsets[g + 1]]
            g += 1
            out.append(
                Frame(
                    t_start, t_end, (ex, ey, ez), sg, fr, inc, walk, move, rot, frame_av, avm, step
                )
            )
        return out

    def _walking(
        self,
        t: FloatArray,
        av: FloatArray,
        n: npt.NDArray[np.int64],
        good: npt.NDArray[np.bool_],
        end: FloatArray,
    ) -> npt.NDArray[np.bool_]:
        """Walking for each usable frame (``n`` samples each, ending at ``end``).

        The window is the frame and the ``walk_window_s / frame_s - 1`` usable frames before it
        (an unknown frame, ``~good``, clears them), cut to ``walk_window_s`` before the frame's
        end. Windows of one length are checked together; a window's numbers depend on its own
        samples alone.
        """
        cfg = self.config
        keep = max(1, round(cfg.walk_window_s / cfg.frame_s))
        hist = self._history
        h = len(hist)
        tc = np.concatenate([*(p[0] for p in hist), t])
        avc = np.concatenate([*(p[1] for p in hist), av])
        sizes = np.concatenate([np.array([len(p[0]) for p in hist], dtype=np.int64), n])
        stop = np.cumsum(sizes)
        begin = stop - sizes
        # position (in history + usable frames) of the first frame after the last unknown one
        nf = len(good)
        # usable frames before each frame of the block
        before: npt.NDArray[np.int64] = np.cumsum(good) - good
        unknown = np.maximum.accumulate(np.where(good, -1, np.arange(nf)))
        barrier = np.where(unknown >= 0, h + before[np.maximum(unknown, 0)], 0)
        pos = h + np.arange(len(n))
        oldest = np.maximum(pos - keep + 1, barrier[good])
        hi = stop[pos]
        thr = end - cfg.walk_window_s - 1e-9
        lo = np.maximum(begin[oldest], np.searchsorted(tc, thr, side="left"))
        # what the next block needs: the last keep - 1 usable frames since an unknown one
        keep_from = max(len(sizes) - (keep - 1), int(barrier[-1]) if good[-1] else len(sizes))
        self._history = [
            (tc[a:b].copy(), avc[a:b].copy())
            for a, b in zip(begin[keep_from:].tolist(), stop[keep_from:].tolist(), strict=True)
        ]

        walking = np.zeros(len(n), dtype=bool)
        size = hi - lo
        blo, bhi = cfg.walk_band_hz
        for m in np.unique(size[size >= 8]).tolist():
            win = np.flatnonzero(size == m)
            x = avc[lo[win, None] + np.arange(m)]
            x -= x.mean(axis=1, keepdims=True)
            var = np.mean(x**2, axis=1)
            big = var >= cfg.slow_walk_std**2
            win, x, var = win[big], x[big], var[big]
            if not len(win):
                continue
            rate = (m - 1) / np.maximum(tc[hi[win] - 1] - tc[lo[win]], 1e-9)
            power = np.abs(np.fft.rfft(x, axis=1)) ** 2
            # np.fft.rfftfreq(m, 1 / rate) per window; the band is a run of bins [a, b)
            freq = np.arange(m // 2 + 1) * (1.0 / (m * (1.0 / rate)))[:, None]
            a = np.count_nonzero(freq < blo, axis=1)
            b = np.count_nonzero(freq <= bhi, axis=1)
            band = np.zeros(len(win))
            for ab in np.unique(np.stack([a, b], axis=1), axis=0).tolist():
                same = (a == ab[0]) & (b == ab[1])
                if ab[1] > ab[0]:
                    band[same] = power[same, ab[0] : ab[1]].sum(axis=1)
            stepping = band >= cfg.walk_band_frac * power[:, 1:].sum(axis=1)
            needed = np.where(
                var >= cfg.walk_std**2, cfg.walk_periodicity, cfg.slow_walk_periodicity
            )
            walking[win] = stepping & (self._step_periodicity(x, rate) > needed)
        return walking

    def _step_periodicity(self, x: FloatArray, rate: FloatArray) -> FloatArray:
        """Per window (rows of ``x``, demeaned): the highest autocorrelation (unbiased,
        normalised) at a lag within ``walk_step_period_s``."""
        m = x.shape[1]
        spectrum = np.fft.rfft(x, n=2 * m, axis=1)
        ac = np.fft.irfft(np.abs(spectrum) ** 2, n=2 * m, axis=1)[:, :m]
        lags = np.arange(m)
        ac = ac / np.maximum(ac[:, :1], 1e-12) * (m / (m - lags))
        lag_s = lags[None, :] / rate[:, None]
        lo, hi = self.config.walk_step_period_s
        in_range = (lag_s >= lo) & (lag_s <= hi)
        peak: FloatArray = np.where(in_range, ac, -np.inf).max(axis=1)
        return peak


__all__ = [
    "BLOCK_FRAMES",
    "Frame",
    "FrameFeatures",
    "PelvisSamples",
    "concat_samples",
    "up_from_tilt",
]
