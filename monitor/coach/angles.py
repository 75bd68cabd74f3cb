"""Angles the coach measures, from the pipeline's (sagittal, frontal) tilt.

The pipeline's angles are fine upright but fold near lying (sagittal cannot pass −90°, and frontal
is undefined there), so the coach rebuilds the earth's up direction in the pelvis frame from
them (exact, docs/conventions.md) and measures a movement as the rotation of the pelvis about one
of its own axes relative to a rest position: lying on the back, a bridge is a rotation about the
pelvis's left axis like an upright posterior tilt, and reads the same way.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from monitor.coach.axes import Axis, Position

FloatArray = npt.NDArray[np.float64]


_AXIS_VECTOR = {Axis.SAGITTAL: np.array([0.0, 1.0, 0.0]), Axis.FRONTAL: np.array([1.0, 0.0, 0.0])}
_POSITION_COS = math.cos(math.radians(40.0))  # within 40° of the position's up direction


def up_in_pelvis(sagittal_deg: npt.ArrayLike, frontal_deg: npt.ArrayLike) -> FloatArray:
    """(n, 3) earth up seen in the pelvis frame: u = (−sin θ, sin φ cos θ, cos φ cos θ)."""
    th = np.radians(np.asarray(sagittal_deg, dtype=np.float64))
    ph = np.radians(np.asarray(frontal_deg, dtype=np.float64))
    c = np.cos(th)
    return np.stack([-np.sin(th), np.sin(ph) * c, np.cos(ph) * c], axis=-1)


def rotation_about(axis: Axis, rest_up: FloatArray, up: FloatArray) -> FloatArray:
    """Degrees the pelvis turned about its ``axis`` from the rest position, per sample.

    The body turning by +a about a pelvis axis turns "up" (seen in the pelvis) by −a, hence the
    sign; upright this equals the change in sagittal or frontal tilt.
    """
    a = _AXIS_VECTOR[axis]
    r = rest_up - np.dot(rest_up, a) * a
    u = up - np.outer(up @ a, a)
    cross = np.cross(r, u) @ a
    dot = u @ r
    return np.asarray(-np.degrees(np.arctan2(cross, dot)), dtype=np.float64)


def position_of(rest_up: FloatArray) -> Position | None:
    """The resting position, or None when the pelvis is in between (kneeling on all fours...)."""
    if rest_up[2] >= _POSITION_COS:
        return Position.UPRIGHT
    if rest_up[0] >= _POSITION_COS:
        return Position.LYING_BACK  # the pelvis's forward axis points at the ceiling
    if abs(rest_up[1]) >= _POSITION_COS:
        return Position.LYING_SIDE
    return None


def lying_on_right(rest_up: FloatArray) -> bool:
    """Lying on the right side: the pelvis's left axis points up."""
    return bool(rest_up[1] > 0.0)
