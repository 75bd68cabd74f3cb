"""One movement away from the rest position and back: the unit both the counter and the range
test are built on.

A :class:`StrokeDetector` reads one angle (degrees, relative to where the rest position was found)
sample by sample, with the time as an argument. At rest it follows slow drift of the rest level.
A stroke begins when the angle leaves the rest level by ``enter_deg`` in an allowed direction and
ends when it has come back more than half way from its peak; it counts when its peak reached
``min_range_deg``. A turn beyond ``max_range_deg``, or a stroke that settles still away from the
rest for longer than a hold can explain, is a change of position, not a movement: the caller
then looks for the new rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RELEASE = 0.5  # a stroke ends once back more than half way from its peak
REST_TAU_S = 3.0  # how quickly the rest level follows slow drift while resting
SETTLE_S = 1.0  # still this long away from the rest (by less than a repetition): the new rest
SETTLE_SPREAD_DEG = 1.0
HOLD_BAND_MIN_DEG = 1.5  # "at the top": within this (or 15% of the range) of the peak


@dataclass(frozen=True, slots=True)
class Stroke:
    direction: int  # +1 or −1, the sign of the angle
    t_start: float  # left the rest
    t_peak: float
    t_end: float  # back more than half way
    range_deg: float  # peak distance from the rest level (positive)
    peak_deg: float  # the angle at the peak (signed, same reference as the input)
    hold_s: float  # time spent at the top


@dataclass(frozen=True, slots=True)
class PositionChange:
    t: float
    reason: str


class StrokeDetector:
    def __init__(
        self,
        *,
        direction: int,
        min_range_deg: float,
        max_range_deg: float,
        max_hold_s: float,
        rest_deg: float = 0.0,
        follow_rest: bool = True,
    ) -> None:
        if direction not in (-1, 0, 1):
            raise ValueError("direction is +1, -1 or 0 (both ways)")
        self.direction = direction
        self.min_range_deg = min_range_deg
        self.max_range_deg = max_range_deg
        self.max_hold_s = max_hold_s
        self.enter_deg = max(1.5, 0.4 * min_range_deg)
        self.rest_deg = rest_deg
        self.follow_rest = follow_rest
        self._t_prev: float | None = None
        self._t_quiet: float | None = None  # last time at rest (the start of the next stroke)
        self._sign = 0  # the current stroke's direction; 0 at rest
        self._last_sign = 0  # the last stroke's: the same way again only after coming back
        self._peak = 0.0
        self._t_peak = 0.0
        self._peak_angle = 0.0
        self._trace: list[tuple[float, float]] = []  # (t, distance) within the current stroke
        self._recent: list[tuple[float, float]] = []  # (t, angle) over the last SETTLE_S

    @property
    def moving(self) -> bool:
        return self._sign != 0

    @property
    def current_range_deg(self) -> float:
        """How far out the current stroke is (0 at rest), for a live bar."""
        return self._peak if self._sign else 0.0

    def feed(self, t: float, angle: float) -> Stroke | PositionChange | None:
        dt = 0.0 if self._t_prev is None else max(0.0, t - self._t_prev)
        self._t_prev = t
        d = angle - self.rest_deg
        self._recent.append((t, angle))
        while self._recent[0][0] < t - SETTLE_S:
            self._recent.pop(0)
        if self.follow_rest and self._settled_near():
            # the wearer settled a little off the old rest (shifted their weight): rest there
            self._sign = self._last_sign = 0
            self.rest_deg = sum(a for _, a in self._recent) / len(self._recent)
            self._t_quiet = t
            self._recent.clear()
            return None
        if not self._sign:
            if abs(d) < self.enter_deg:
                self._last_sign = 0
            if abs(d) >= self.enter_deg:
                sign = 1 if d > 0 else -1
                if sign == self._last_sign:
                    return None  # still on the way back from the last stroke
                if self.direction in (0, sign):
                    self._begin(t, sign, angle, abs(d))
                    return None
                if abs(d) >= self.max_range_deg:
                    return PositionChange(t, "turned far the other way")
                return None
            if abs(d) < 0.5 * self.enter_deg:
                self._t_quiet = t
                if self.follow_rest and dt > 0:
                    self.rest_deg += (angle - self.rest_deg) * min(1.0, dt / REST_TAU_S)
            return None
        s = self._sign * d
        self._trace.append((t, s))
        if s > self._peak:
            self._peak, self._t_peak, self._peak_angle = s, t, angle
        if self._peak >= self.max_range_deg:
            self._sign = 0
            return PositionChange(t, f"turned more than {self.max_range_deg:.0f}°")
        if s <= RELEASE * self._peak:
            return self._end(t)
        if t - self._t_peak > self.max_hold_s and self._settled_since(t) > self.max_hold_s:
            self._sign = 0
            return PositionChange(t, "settled in a new position")
        return None

    def _begin(self, t: float, sign: int, angle: float, distance: float) -> None:
        self._sign = sign
        self._peak, self._t_peak, self._peak_angle = distance, t, angle
        self._trace = [(t, distance)]
        if self._t_quiet is None:
            self._t_quiet = t

    def _end(self, t: float) -> Stroke | None:
        sign, peak = self._sign, self._peak
        self._sign = 0
        self._last_sign = sign
        t_start = self._t_quiet if self._t_quiet is not None else self._trace[0][0]
        self._t_quiet = t
        if peak < self.min_range_deg:
            return None
        band = max(HOLD_BAND_MIN_DEG, 0.15 * peak)
        hold = 0.0
        prev_t: float | None = None
        for ts, s in self._trace:
            if prev_t is not None and s >= peak - band:
                hold += ts - prev_t
            prev_t = ts
        return Stroke(sign, t_start, self._t_peak, t, peak, self._peak_angle, hold)

    def _settled_near(self) -> bool:
        """Still for SETTLE_S, off the rest by more than noise but less than a repetition, and
        not at the top of a stroke that reached a repetition (that is a hold)."""
        if len(self._recent) < 2 or self._recent[-1][0] - self._recent[0][0] < 0.95 * SETTLE_S:
            return False
        if self._sign and self._peak >= self.min_range_deg:
            return False
        angles = [a for _, a in self._recent]
        if max(angles) - min(angles) > SETTLE_SPREAD_DEG:
            return False
        off = abs(sum(angles) / len(angles) - self.rest_deg)
        return 0.5 * self.enter_deg <= off < self.min_range_deg

    def _settled_since(self, t: float) -> float:
        """How long the stroke has stayed within the hold band of its peak, up to ``t``."""
        band = max(HOLD_BAND_MIN_DEG, 0.15 * self._peak)
        since = t
        for ts, s in reversed(self._trace):
            if s < self._peak - band:
                break
            since = ts
        return t - since if math.isfinite(since) else 0.0
