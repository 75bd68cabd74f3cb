"""The pelvic range test: a pure state machine over (t, sagittal, frontal), about a minute.

Standing: rest still (the wearer's neutral), tilt fully forward and back three times, then hitch
each hip three times (either side first: the direction tells the side). The result is the
sagittal and frontal range, where neutral sits within the sagittal range, and the left/right
asymmetry of the hitches. Limits are the mean of the three peaks each way, so one overreach or a
timid first try does not make the figure. Repeated over weeks it is the wearer's progress line.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.coach.strokes import Stroke, StrokeDetector

CYCLES = 3
STAND_S = 2.0  # still this long to take the neutral
STAND_SPREAD_DEG = 1.5
UPRIGHT_DEG = 30.0  # the neutral must be an upright stand
PHASE_TIMEOUT_S = 60.0  # a phase ends after this even if incomplete (a result if each way seen)


class RangePhase(enum.StrEnum):
    STAND = "stand"
    SAGITTAL = "sagittal"
    FRONTAL = "frontal"
    DONE = "done"
    FAILED = "failed"


PROMPTS = {
    RangePhase.STAND: (
        "Stand tall and relaxed, feet hip-width apart, hands on your hips. Hold still."
    ),
    RangePhase.SAGITTAL: (
        "Tilt your pelvis fully forward (arch), then fully back (tuck the tailbone under)."
        " Three times, slowly; keep your chest still."
    ),
    RangePhase.FRONTAL: (
        "Hitch one hip up towards your ribs and back down, three times; then the other hip"
        " three times. Keep both feet on the floor."
    ),
    RangePhase.DONE: "Done. Your range is below.",
    RangePhase.FAILED: "The test could not finish.",
}


@dataclass(frozen=True, slots=True)
class RangeResult:
    t_start: float
    t_end: float
    neutral_sagittal_deg: float
    neutral_frontal_deg: float
    anterior_deg: float  # forward limit, from neutral
    posterior_deg: float  # back limit, from neutral
    sagittal_range_deg: float
    neutral_fraction: float  # 0 = neutral at the back limit, 1 = at the forward limit
    right_hitch_deg: float  # right hip up, from neutral
    left_hitch_deg: float
    frontal_range_deg: float
    asymmetry_deg: float  # right hitch − left hitch (+: the right hip lifts further)
    strokes: int  # movements measured (of 12 asked)

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def summary(self) -> str:
        return (
            f"sagittal range {self.sagittal_range_deg:.0f}° (forward {self.anterior_deg:.0f}°,"
            f" back {self.posterior_deg:.0f}°); neutral is {self.neutral_fraction:.0%} of the way"
            f" to your forward limit. Hip hitch: right {self.right_hitch_deg:.0f}°, left"
            f" {self.left_hitch_deg:.0f}° ({_asymmetry_words(self.asymmetry_deg)})."
        )


def _asymmetry_words(asym: float) -> str:
    if abs(asym) < 1.0:
        return "even"
    side = "right" if asym > 0 else "left"
    return f"the {side} lifts {abs(asym):.0f}° further"


@dataclass(slots=True)
class RangeTest:
    """Feed samples; read ``phase``, ``prompt`` and, when done, ``result``."""

    cycles: int = CYCLES
    phase: RangePhase = RangePhase.STAND
    t_start: float | None = None
    phase_start: float | None = None
    neutral: tuple[float, float] | None = None
    forward: list[Stroke] = field(default_factory=list)
    back: list[Stroke] = field(default_factory=list)
    right: list[Stroke] = field(default_factory=list)  # right hip up: frontal −
    left: list[Stroke] = field(default_factory=list)
    result: RangeResult | None = None
    failure: str = ""
    _window: list[tuple[float, float, float]] = field(default_factory=list)
    _detector: StrokeDetector | None = None

    @property
    def prompt(self) -> str:
        if self.phase is RangePhase.FAILED:
            return f"{PROMPTS[self.phase]} {self.failure}"
        return PROMPTS[self.phase]

    @property
    def finished(self) -> bool:
        return self.phase in (RangePhase.DONE, RangePhase.FAILED)

    @property
    def progress(self) -> tuple[int, int]:
        """(movements done, movements asked) in the current phase."""
        if self.phase is RangePhase.SAGITTAL:
            return min(len(self.forward), self.cycles) + min(
                len(self.back), self.cycles
            ), 2 * self.cycles
        if self.phase is RangePhase.FRONTAL:
            return min(len(self.right), self.cycles) + min(
                len(self.left), self.cycles
            ), 2 * self.cycles
        return (0, 0) if self.phase is RangePhase.STAND else (1, 1)

    def feed(self, t: npt.ArrayLike, sagittal: npt.ArrayLike, frontal: npt.ArrayLike) -> None:
        tt = np.asarray(t, dtype=np.float64).reshape(-1)
        sag = np.asarray(sagittal, dtype=np.float64).reshape(-1)
        fro = np.asarray(frontal, dtype=np.float64).reshape(-1)
        for ti, si, fi in zip(tt.tolist(), sag.tolist(), fro.tolist(), strict=True):
            if self.finished:
                return
            self._step(ti, si, fi)

    def stop(self, t: float, reason: str = "stopped") -> None:
        if not self.finished:
            self.phase = RangePhase.FAILED
            self.failure = reason

    def _step(self, t: float, sag: float, fro: float) -> None:
        if self.t_start is None:
            self.t_start = self.phase_start = t
        assert self.phase_start is not None
        if self.phase is RangePhase.STAND:
            self._stand(t, sag, fro)
            return
        assert self._detector is not None and self.neutral is not None
        if self.phase is RangePhase.SAGITTAL and not (self.forward or self.back):
            self._refine_neutral(t, sag, fro)
        angle = sag if self.phase is RangePhase.SAGITTAL else fro
        stroke = self._detector.feed(t, angle)
        if isinstance(stroke, Stroke):
            if self.phase is RangePhase.SAGITTAL:
                (self.forward if stroke.direction > 0 else self.back).append(stroke)
            else:
                (self.left if stroke.direction > 0 else self.right).append(stroke)
        first, second = (
            (self.forward, self.back)
            if self.phase is RangePhase.SAGITTAL
            else (self.right, self.left)
        )
        complete = len(first) >= self.cycles and len(second) >= self.cycles
        timed_out = t - self.phase_start > PHASE_TIMEOUT_S
        if (complete and not self._detector.moving) or timed_out:
            if not (first and second):
                what = (
                    "forward and back tilts"
                    if self.phase is RangePhase.SAGITTAL
                    else "hitches on both sides"
                )
                self.stop(t, f"No {what} seen in {PHASE_TIMEOUT_S:.0f} s.")
                return
            if self.phase is RangePhase.SAGITTAL:
                self._enter(t, RangePhase.FRONTAL, self.neutral[1], min_range=2.0, max_range=40.0)
            else:
                self._finish(t)

    def _stand(self, t: float, sag: float, fro: float) -> None:
        self._window.append((t, sag, fro))
        while self._window[0][0] < t - STAND_S:
            self._window.pop(0)
        if self._window[-1][0] - self._window[0][0] < 0.95 * STAND_S:
            return
        s = np.array([w[1] for w in self._window])
        f = np.array([w[2] for w in self._window])
        if np.ptp(s) > STAND_SPREAD_DEG or np.ptp(f) > STAND_SPREAD_DEG:
            return
        if abs(float(s.mean())) > UPRIGHT_DEG or abs(float(f.mean())) > UPRIGHT_DEG:
            return  # not standing upright (yet)
        self.neutral = (float(s.mean()), float(f.mean()))
        self._enter(t, RangePhase.SAGITTAL, self.neutral[0], min_range=3.0, max_range=60.0)

    def _refine_neutral(self, t: float, sag: float, fro: float) -> None:
        """Until the first tilt, the neutral is the latest still stand: the one just before the
        movement, not the first moment the wearer stood still (perhaps still settling)."""
        assert self._detector is not None
        self._window.append((t, sag, fro))
        while self._window[0][0] < t - STAND_S:
            self._window.pop(0)
        if self._detector.moving or self._window[-1][0] - self._window[0][0] < 0.95 * STAND_S:
            return
        s = np.array([w[1] for w in self._window])
        f = np.array([w[2] for w in self._window])
        if np.ptp(s) <= STAND_SPREAD_DEG and np.ptp(f) <= STAND_SPREAD_DEG:
            self.neutral = (float(s.mean()), float(f.mean()))
            self._detector.rest_deg = self.neutral[0]

    def _enter(
        self, t: float, phase: RangePhase, rest: float, *, min_range: float, max_range: float
    ) -> None:
        self.phase = phase
        self.phase_start = t
        self._detector = StrokeDetector(
            direction=0,
            min_range_deg=min_range,
            max_range_deg=max_range,
            max_hold_s=10.0,
            rest_deg=rest,
            follow_rest=False,  # the neutral is the reference for the whole test
        )

    def _finish(self, t: float) -> None:
        assert self.neutral is not None and self.t_start is not None
        ant = _mean_range(self.forward)
        post = _mean_range(self.back)
        right = _mean_range(self.right)
        left = _mean_range(self.left)
        sag_range = ant + post
        self.result = RangeResult(
            t_start=self.t_start,
            t_end=t,
            neutral_sagittal_deg=self.neutral[0],
            neutral_frontal_deg=self.neutral[1],
            anterior_deg=ant,
            posterior_deg=post,
            sagittal_range_deg=sag_range,
            neutral_fraction=post / sag_range if sag_range > 0 else 0.5,
            right_hitch_deg=right,
            left_hitch_deg=left,
            frontal_range_deg=right + left,
            asymmetry_deg=right - left,
            strokes=len(self.forward) + len(self.back) + len(self.right) + len(self.left),
        )
        self.phase = RangePhase.DONE


def _mean_range(strokes: list[Stroke]) -> float:
    return float(np.mean([s.range_deg for s in strokes[:CYCLES]])) if strokes else 0.0
