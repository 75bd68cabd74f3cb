"""Value types shared by the posture state machine, the nudge policy, the recorder and the UI.

They describe what the wearer is doing, second by second, in the wearer's own terms. Only plain
data lives here, so every stage can depend on it without depending on each other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Posture(enum.StrEnum):
    SITTING = "sitting"
    STANDING = "standing"
    WALKING = "walking"
    LYING = "lying"
    UNKNOWN = "unknown"
    NON_WEAR = "non_wear"  # the sensor lay still, off the body (monitor.nonwear)

    @property
    def upright(self) -> bool:
        """Standing or walking: what counts towards a break from sitting."""
        return self in (Posture.STANDING, Posture.WALKING)


class TiltZone(enum.StrEnum):
    NEUTRAL = "neutral"
    ANTERIOR = "anterior"  # sagittal above the anterior threshold
    POSTERIOR = "posterior"  # sagittal below minus the posterior threshold (slumped)
    LATERAL_LEFT = "lateral_left"  # left hip lower (frontal < 0)
    LATERAL_RIGHT = "lateral_right"  # right hip lower (frontal > 0)


class TransitionKind(enum.StrEnum):
    STAND_TO_SIT = "stand_to_sit"
    SIT_TO_STAND = "sit_to_stand"
    TO_LYING = "to_lying"
    FROM_LYING = "from_lying"


@dataclass(frozen=True, slots=True)
class Transition:
    t: float  # s, when the transition was recognised (its middle)
    kind: TransitionKind


@dataclass(frozen=True, slots=True)
class ActivitySnapshot:
    """What the posture state machine says at one moment (at least once a second)."""

    t: float  # s, on the stream's timeline (host wall clock for live data)
    posture: Posture
    zone: TiltZone
    sagittal_deg: float
    frontal_deg: float
    sitting_bout_start: float | None  # when the current sitting bout began (None: not in one)
    last_break_end: float | None  # when the wearer last ended a real break (upright ≥ 1 min)
    zone_since: float  # when the current zone began; off neutral: when the wearer left neutral
    # (one hold, even if it moves between zones)
    sustained_zone: TiltZone | None  # a hold off neutral lasting the sustained-tilt time: the
    # zone it spent most time in

    @property
    def sitting_bout_s(self) -> float:
        return 0.0 if self.sitting_bout_start is None else self.t - self.sitting_bout_start
