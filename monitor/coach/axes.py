"""What the coach measures about, and the resting positions (no numpy: the catalogue uses them)."""

from __future__ import annotations

import enum


class Axis(enum.StrEnum):
    SAGITTAL = "sagittal"  # about the pelvis's left axis: + anterior (top of the pelvis forward)
    FRONTAL = "frontal"  # about the pelvis's forward axis: + right side lower


class Position(enum.StrEnum):
    """Where the pelvis rests between repetitions."""

    UPRIGHT = "upright"  # standing or sitting
    STANDING = "standing"  # upright (gravity cannot tell it from sitting: the cue says it)
    SEATED = "seated"  # upright, sitting
    LYING_BACK = "lying_back"
    LYING_SIDE = "lying_side"


def matches(wanted: Position, found: Position | None) -> bool:
    """Whether a rest found (from gravity: upright, lying on the back or side) will do."""
    upright = (Position.UPRIGHT, Position.STANDING, Position.SEATED)
    if wanted in upright:
        return found in upright
    return found is wanted


def same_place(a: Position, b: Position) -> bool:
    """Whether going from one exercise to the next needs no change of position."""
    upright = (Position.STANDING, Position.SEATED)
    return a is b or (Position.UPRIGHT in (a, b) and a not in upright[1:] and b not in upright[1:])
