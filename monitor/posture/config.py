"""Settings of the posture state machine, validated (defaults documented in docs/posture.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from monitor.errors import MonitorError

G = 9.80665  # m/s², standard gravity


class PostureConfigError(MonitorError, ValueError):
    """A :class:`PostureConfig` field is out of range, or the samples are unusable."""


@dataclass(frozen=True, slots=True)
class PostureConfig:
    """Settings of the posture state machine (defaults documented in docs/posture.md)."""

    frame_s: float = 1.0  # decision period; one snapshot per frame
    # lying: inclination of pelvis up from earth up, with hysteresis
    lying_deg: float = 65.0
    lying_exit_deg: float = 50.0
    # walking: vertical acceleration over the last walk_window_s
    walk_window_s: float = 2.0
    walk_std: float = 1.2  # m/s², standard deviation of the vertical acceleration
    walk_band_hz: tuple[float, float] = (0.6, 5.0)  # steps, strides and their harmonics
    walk_band_frac: float = 0.3  # fraction of the variance in that band
    # Steps repeat: the vertical acceleration's autocorrelation at a step or stride period
    # (0.3–1.4 s). Vigorous movement (walk_std) must show some of it (a drop into a chair does
    # not); gentle gait (slow, shuffling), down to slow_walk_std, must show it clearly
    # (fidgets and weight shifts of that size do not repeat).
    walk_step_period_s: tuple[float, float] = (0.3, 1.4)
    walk_periodicity: float = 0.0
    slow_walk_std: float = 0.35
    slow_walk_periodicity: float = 0.5
    walk_max_incl_deg: float = 35.0  # walking is upright (even a stooped gait)
    # walking this long means upright (shorter runs may be a sit-down or stand-up)
    walk_confirm_s: float = 4.0
    # movement (a frame that is not still): horizontal gyro RMS or |acc| standard deviation
    move_gyr: float = 0.12  # rad/s
    move_acc: float = 0.35  # m/s²
    # a burst is a postural transition if it rotated at least this much about horizontal axes
    transition_rot_deg: float = 20.0
    # upright-still posture with no learned prototype: sitting if inclined this much
    sit_tilt_deg: float = 20.0
    # standing = within this of the standing prototype (learned from still standing frames)
    stand_match_deg: float = 5.0
    # a sit-down / stand-up moves the pelvis ~0.4 m: a burst's height change beyond this decides
    height_change_m: float = 0.2
    # sitting → standing needs the orientation to move at least this much
    min_change_deg: float = 3.0
    # a sit-down's drop is looked for in the first seconds of a burst (it settles afterwards)
    descent_window_s: float = 3.0
    prototype_alpha: float = 0.2  # EMA weight of each still frame in the posture prototypes
    # sitting bouts: a break is upright (standing or walking) for at least break_s
    break_s: float = 60.0
    # tilt zones, degrees relative to the posture's baseline (0 standing, sitting baseline sitting)
    anterior_deg: float = 8.0
    posterior_deg: float = 8.0
    lateral_deg: float = 5.0
    zone_hysteresis_deg: float = 2.0  # leave a zone this much inside its threshold
    sustained_s: float = 600.0  # a non-neutral zone held this long is sustained
    # sitting baseline: habitual upright sitting sagittal, learned from the start of each bout
    sitting_baseline_deg: float = -8.0
    adapt_sitting_baseline: bool = True
    baseline_window_s: float = 30.0  # the first seconds of a bout that set its baseline
    baseline_alpha: float = 0.3  # weight of each bout in the running sitting baseline
    baseline_limits_deg: tuple[float, float] = (-20.0, 5.0)

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> PostureConfigError:
            return PostureConfigError(f"PostureConfig.{name} = {getattr(self, name)!r}: {why}")

        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            for x in vals:
                if isinstance(x, bool):
                    continue
                if not (isinstance(x, int | float) and math.isfinite(x)):
                    raise bad(f.name, "must be a finite number")
        positive = (
            "frame_s",
            "walk_window_s",
            "walk_confirm_s",
            "walk_std",
            "slow_walk_std",
            "walk_max_incl_deg",
            "move_gyr",
            "move_acc",
            "break_s",
            "anterior_deg",
            "posterior_deg",
            "lateral_deg",
            "sustained_s",
            "transition_rot_deg",
            "sit_tilt_deg",
            "baseline_window_s",
            "stand_match_deg",
            "height_change_m",
            "descent_window_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise bad(name, "must be > 0")
        if not 0 < self.lying_exit_deg <= self.lying_deg < 90:
            raise bad("lying_exit_deg", "need 0 < lying_exit_deg <= lying_deg < 90")
        lo, hi = self.walk_band_hz
        if not 0 <= lo < hi:
            raise bad("walk_band_hz", "need 0 <= low < high")
        plo, phi = self.walk_step_period_s
        if not 0 < plo < phi < self.walk_window_s:
            raise bad("walk_step_period_s", "need 0 < shortest < longest < walk_window_s")
        if not 0 <= self.walk_periodicity < self.slow_walk_periodicity < 1:
            raise bad("walk_periodicity", "need 0 <= walk_periodicity < slow_walk_periodicity < 1")
        for name in ("walk_band_frac", "prototype_alpha", "baseline_alpha"):
            if not 0 < getattr(self, name) <= 1:
                raise bad(name, "must be in (0, 1]")
        if self.min_change_deg < 0:
            raise bad("min_change_deg", "must be >= 0")
        if self.walk_window_s < self.frame_s:
            raise bad("walk_window_s", "must be at least frame_s")
        smallest = min(self.anterior_deg, self.posterior_deg, self.lateral_deg)
        if not 0 <= self.zone_hysteresis_deg < smallest:
            raise bad("zone_hysteresis_deg", "must be >= 0 and below every zone threshold")
        blo, bhi = self.baseline_limits_deg
        if not blo <= self.sitting_baseline_deg <= bhi:
            raise bad("sitting_baseline_deg", "must lie within baseline_limits_deg")


__all__ = ["G", "PostureConfig", "PostureConfigError"]
