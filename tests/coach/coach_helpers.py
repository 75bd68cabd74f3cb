"""Helpers for the coach's tests: tilt as the wearer's pelvis really moved (firmware_sim truth),
and hand-made strokes for edge cases."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware_sim.exercises import ExerciseTruth, exercise_truth
from firmware_sim.motion import MotionModel

Arr = npt.NDArray[np.float64]


def true_tilt(name: str, seed: int, rate: float = 50.0) -> tuple[ExerciseTruth, Arr, Arr, Arr]:
    """The exact pelvis tilt of a simulated exercise session (no sensor, no fusion), from 20 s
    on: the opening stand and walk are for the mounting, and the live coach starts after it."""
    truth = exercise_truth(name, seed)
    motion = MotionModel(truth.segments, seed=seed)
    duration = sum(s.duration_s for s in truth.segments)
    t = np.arange(20.0, duration, 1.0 / rate)
    state = motion.evaluate(t)
    return truth, t, state.sagittal_deg, state.frontal_deg


def ramps(*points: tuple[float, float, float], rate: float = 50.0) -> tuple[Arr, Arr, Arr]:
    """Piecewise-linear (t, sagittal, frontal) through the given (t, sagittal, frontal) points."""
    pts = np.array(points, dtype=np.float64)
    t = np.arange(pts[0, 0], pts[-1, 0], 1.0 / rate)
    return t, np.interp(t, pts[:, 0], pts[:, 1]), np.interp(t, pts[:, 0], pts[:, 2])


def in_chunks(feed, t: Arr, sag: Arr, fro: Arr, size: int = 19) -> list:  # type: ignore[no-untyped-def]
    """Feed as the live pipeline does, a notification's worth at a time."""
    out = []
    for i in range(0, len(t), size):
        out += feed(t[i : i + size], sag[i : i + size], fro[i : i + size]) or []
    return out
