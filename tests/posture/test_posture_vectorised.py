"""The vectorised frame features equal the plain per-frame computation, and cutting a
recording into batches (or blocks) changes nothing.

The reference below is the per-frame code the classifier used before its features were
computed a block at a time: one frame's samples in, numpy reductions on them. It feeds the same
state machine, so any difference in the results comes from the features.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from firmware_sim.simulation import simulate
from monitor.activity import ActivitySnapshot, Posture, Transition
from monitor.fusion import estimate
from monitor.posture import (
    Frame,
    G,
    PelvisSamples,
    PostureClassifier,
    PostureResult,
    classify,
    up_from_tilt,
)


class ReferenceClassifier(PostureClassifier):
    """Frame features one frame at a time, as plainly as possible."""

    def __init__(self) -> None:
        super().__init__()
        self._ref_history: list[np.ndarray] = []

    def _close_frames(self, x, bounds, frames, snaps, trans):  # type: ignore[no-untyped-def]
        # frame i is x[bounds[i] : bounds[i + 1]]
        edges = bounds.tolist()
        for lo, hi, k in zip(edges[:-1], edges[1:], frames.tolist(), strict=True):
            self._reference_frame(x.slice(lo, hi), int(k), snaps, trans)

    def _reference_frame(
        self,
        x: PelvisSamples,
        k: int,
        snaps: list[ActivitySnapshot],
        trans: list[Transition],
    ) -> None:
        cfg = self.config
        assert self._t0 is not None
        t, acc, gyr, sag, fro = x.t, x.acc_P, x.gyr_P, x.sagittal_deg, x.frontal_deg
        start = self._t0 + k * cfg.frame_s
        end = start + cfg.frame_s
        ok = np.isfinite(sag) & np.isfinite(fro) & np.all(np.isfinite(acc), axis=1)
        ok &= np.all(np.isfinite(gyr), axis=1)
        if not np.any(ok):
            self._ref_history.clear()
            self._emit_unknown(start, end, snaps)
            return
        t, acc, gyr, sag, fro = t[ok], acc[ok], gyr[ok], sag[ok], fro[ok]
        u = up_from_tilt(sag, fro)
        up = u.mean(axis=0)
        up /= np.linalg.norm(up)
        sag_m = math.degrees(math.atan2(-up[0], math.hypot(up[1], up[2])))
        fro_m = math.degrees(math.atan2(up[1], up[2]))
        incl = math.degrees(math.acos(min(1.0, max(-1.0, float(up[2])))))
        av = np.einsum("ij,ij->i", acc, u) - G
        gh = gyr - np.einsum("ij,ij->i", gyr, u)[:, None] * u
        gh_mag = np.linalg.norm(gh, axis=1)
        dt = cfg.frame_s / len(t)
        rot_deg = math.degrees(float(np.sum(gh_mag)) * dt)
        gh_rms = math.sqrt(float(np.mean(gh_mag**2)))
        acc_std = float(np.std(np.linalg.norm(acc, axis=1)))
        moving = gh_rms > cfg.move_gyr or acc_std > cfg.move_acc
        walking = self._reference_walking(t, av, start) and incl < cfg.walk_max_incl_deg
        up3 = (float(up[0]), float(up[1]), float(up[2]))
        frame = Frame(
            start,
            end,
            up3,
            sag_m,
            fro_m,
            incl,
            walking,
            moving,
            rot_deg,
            av,
            float(np.mean(av)),
            dt,
        )
        self._step(frame, snaps, trans)

    def _reference_walking(self, t: np.ndarray, av: np.ndarray, start: float) -> bool:
        cfg = self.config
        self._ref_history.append(np.stack([t, av]))
        keep = max(1, round(cfg.walk_window_s / cfg.frame_s))
        self._ref_history = self._ref_history[-keep:]
        win = np.concatenate(self._ref_history, axis=1)
        win = win[:, win[0] >= start + cfg.frame_s - cfg.walk_window_s - 1e-9]
        if win.shape[1] < 8:
            return False
        x = win[1] - win[1].mean()
        var = float(np.mean(x**2))
        if var < cfg.slow_walk_std**2:
            return False
        rate = (win.shape[1] - 1) / max(float(win[0, -1] - win[0, 0]), 1e-9)
        power = np.abs(np.fft.rfft(x)) ** 2
        freq = np.fft.rfftfreq(x.size, 1.0 / rate)
        lo, hi = cfg.walk_band_hz
        band = float(np.sum(power[(freq >= lo) & (freq <= hi)]))
        if band < cfg.walk_band_frac * float(np.sum(power[1:])):
            return False
        # autocorrelation at each lag, one lag at a time (unbiased, normalised by lag 0)
        m = x.size
        r0 = float(np.dot(x, x)) / m
        best = -np.inf
        for k in range(1, m):
            if cfg.walk_step_period_s[0] <= k / rate <= cfg.walk_step_period_s[1]:
                best = max(best, float(np.dot(x[:-k], x[k:])) / (m - k) / r0)
        need = cfg.walk_periodicity if var >= cfg.walk_std**2 else cfg.slow_walk_periodicity
        return best > need


def with_holes(ps: PelvisSamples) -> PelvisSamples:
    """Unusable samples (a few, part of a frame, whole frames) and gaps in time."""
    acc, gyr = ps.acc_P.copy(), ps.gyr_P.copy()
    sag, fro = ps.sagittal_deg.copy(), ps.frontal_deg.copy()
    n = len(ps)
    sag[n // 9 : n // 9 + 30] = np.nan
    acc[n // 5 : n // 5 + 400, 1] = np.nan
    gyr[n // 3 : n // 3 + 3] = np.inf
    fro[n // 2 : n // 2 + 200] = np.nan
    keep = np.ones(n, dtype=bool)
    keep[2 * n // 3 : 2 * n // 3 + 1500] = False
    keep[4 * n // 5 : 4 * n // 5 + 10] = False
    return PelvisSamples(ps.t[keep], acc[keep], gyr[keep], sag[keep], fro[keep])


@cache
def recording(name: str) -> PelvisSamples:
    scenario, seed, rate, duration = {
        "desk_short": ("desk_short", 0, 50.0, None),
        "desk_short_holes": ("desk_short", 5, 50.0, None),
        "office_2h": ("office_day", 0, 25.0, 7200.0),
    }[name]
    rec = simulate(scenario, seed=seed, rate_hz=rate, duration_s=duration)
    q = estimate(rec.acc, rec.gyr, rate)
    ps = PelvisSamples.from_sensor(rec.t, rec.acc, rec.gyr, q, rec.mounting)
    return with_holes(ps) if name.endswith("_holes") else ps


def reference(ps: PelvisSamples) -> PostureResult:
    clf = ReferenceClassifier()
    a, b = clf.update(ps), clf.flush()
    return PostureResult(a.snapshots + b.snapshots, a.transitions + b.transitions, clf.bouts, 1.0)


def assert_same(got: PostureResult, want: PostureResult) -> None:
    assert len(got.snapshots) == len(want.snapshots)
    for g, w in zip(got.snapshots, want.snapshots, strict=True):
        assert (g.t, g.posture, g.zone, g.sustained_zone) == (
            w.t,
            w.posture,
            w.zone,
            w.sustained_zone,
        )
        assert (g.sitting_bout_start, g.last_break_end, g.zone_since) == (
            w.sitting_bout_start,
            w.last_break_end,
            w.zone_since,
        )
        for a, b in ((g.sagittal_deg, w.sagittal_deg), (g.frontal_deg, w.frontal_deg)):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-9, rel=1e-9)
    assert [tr.kind for tr in got.transitions] == [tr.kind for tr in want.transitions]
    assert [tr.t for tr in got.transitions] == pytest.approx([tr.t for tr in want.transitions])
    assert got.bouts == want.bouts


@pytest.mark.parametrize("name", ["desk_short", "desk_short_holes", "office_2h"])
def test_vectorised_features_equal_per_frame_reference(name: str) -> None:
    ps = recording(name)
    got = classify(ps)
    assert_same(got, reference(ps))
    seen = {s.posture for s in got.snapshots}
    assert {Posture.SITTING, Posture.STANDING, Posture.WALKING} <= seen
    if name.endswith("_holes"):
        assert Posture.UNKNOWN in seen


def without_angles(s: ActivitySnapshot) -> tuple[object, ...]:
    return (
        s.t,
        s.posture,
        s.zone,
        s.sitting_bout_start,
        s.last_break_end,
        s.zone_since,
        s.sustained_zone,
    )


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [19, 250, 4096, 100_003])
def test_batches_and_blocks_do_not_matter(chunk: int) -> None:
    # office_2h has 7200 frames: several feature blocks; the holes put unknown frames in
    ps = with_holes(recording("office_2h"))
    batch = classify(ps)
    clf = PostureClassifier()
    snaps: list[ActivitySnapshot] = []
    trans: list[Transition] = []
    for lo in range(0, len(ps), chunk):
        out = clf.update(ps.slice(lo, lo + chunk))
        snaps += out.snapshots
        trans += out.transitions
    out = clf.flush()
    snaps += out.snapshots
    trans += out.transitions
    # identical, not merely close (the NaN angles of unknown frames compare equal here)
    assert [without_angles(s) for s in snaps] == [without_angles(s) for s in batch.snapshots]
    np.testing.assert_array_equal(
        [(s.sagittal_deg, s.frontal_deg) for s in snaps],
        [(s.sagittal_deg, s.frontal_deg) for s in batch.snapshots],
    )
    assert trans == list(batch.transitions)
    assert clf.bouts == batch.bouts
    assert any(s.posture is Posture.UNKNOWN for s in snaps)
