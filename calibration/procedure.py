"""The guided calibration as a pure step machine: samples and their times in, events out.

No clock, no I/O: the caller passes each batch with its sample times, so a Textual wizard, the
``tiltmon calibrate`` command and the tests drive the same code, and a recording replays it
exactly. Phases::

    GET_READY ──(0.5 s still)──► STAND_STILL ──(3 s still)──► WALK ──(walk, stop)──► DONE
        │ (20 s without keeping still)         │                └─ or TILT (3 slow tilts)
        └──────────────► FAILED ◄──────────────┴── any CalibrationError, with its message
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from calibration.alignment import (
    ForwardEstimate,
    StillEstimate,
    forward_from_tilts,
    forward_from_walking,
    still_estimate,
)
from calibration.errors import CalibrationError, MovedDuringStillError, NotEnoughWalkingError
from calibration.rotation import FloatArray, angle_deg, mounting_from_axes
from calibration.signals import moving_std, still_mask


class Phase(enum.StrEnum):
    GET_READY = "get_ready"
    STAND_STILL = "stand_still"
    WALK = "walk"
    TILT = "tilt"
    DONE = "done"
    FAILED = "failed"


INSTRUCTIONS: dict[Phase, str] = {
    Phase.GET_READY: "Stand up straight in your usual relaxed posture and keep still.",
    Phase.STAND_STILL: "Keep still, standing as you normally stand…",
    Phase.WALK: "Now walk straight ahead at your normal pace for about 10 seconds, then stop.",
    Phase.TILT: (
        "Now slowly tilt your pelvis forward (tailbone back, belly forward) and back to upright,"
        " three times, keeping your hips level."
    ),
    Phase.DONE: "Calibration done.",
    Phase.FAILED: "Calibration failed.",
}

# Share of the whole procedure each phase stands for, for one overall progress bar.
_PHASE_SPAN: dict[Phase, tuple[float, float]] = {
    Phase.GET_READY: (0.0, 0.1),
    Phase.STAND_STILL: (0.1, 0.4),
    Phase.WALK: (0.4, 1.0),
    Phase.TILT: (0.4, 1.0),
}


@dataclass(frozen=True, slots=True)
class ProcedureConfig:
    method: str = "walk"  # "walk", or "tilt" for someone who cannot walk
    settle_s: float = 0.5  # still this long before the still phase is announced
    still_s: float = 3.0  # still standing collected for up and gyro bias
    still_timeout_s: float = 20.0  # give up keeping still after this long
    walk_s: float = 10.0  # walking collected
    min_walk_s: float = 5.0
    walk_start_timeout_s: float = 20.0
    stop_s: float = 1.0  # this long without steps ends the walk
    tilt_s: float = 15.0

    def __post_init__(self) -> None:
        if self.method not in ("walk", "tilt"):
            raise ValueError(f"method must be 'walk' or 'tilt', not {self.method!r}")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A new phase began: show ``text`` to the wearer."""

    phase: Phase
    text: str


@dataclass(frozen=True, slots=True)
class Progress:
    phase: Phase
    fraction: float  # of this phase, 0…1
    overall: float  # of the whole procedure, 0…1


@dataclass(frozen=True, slots=True)
class Failed:
    error: CalibrationError

    @property
    def text(self) -> str:
        return str(self.error)


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """What a successful calibration found."""

    q_PS: FloatArray
    gyro_bias: FloatArray  # rad/s, from the still phase
    up_S: FloatArray
    forward_S: FloatArray
    method: str
    quality: dict[str, float]
    created: str  # ISO 8601, UTC

    @classmethod
    def from_estimates(cls, still: StillEstimate, forward: ForwardEstimate) -> CalibrationResult:
        q_PS = mounting_from_axes(still.up_S, forward.forward_S)
        levelled = forward.forward_S - (forward.forward_S @ still.up_S) * still.up_S
        quality = {
            "still_s": round(still.seconds, 2),
            "still_acc_spread": round(still.acc_spread, 4),
            "still_gyr_spread_dps": round(math.degrees(still.gyr_spread), 3),
            "move_s": round(forward.seconds, 2),
            "confidence": round(forward.confidence, 3),
            # forward should be horizontal: far from 90° means the data were odd
            "forward_vs_up_deg": round(angle_deg(still.up_S, forward.forward_S), 2),
        }
        if forward.method == "walk":
            quality |= {"step_hz": round(forward.step_hz, 3), "steps": forward.steps}
        else:
            quality |= {"tilt_deg": round(forward.tilt_deg, 2)}
        return cls(
            q_PS=q_PS,
            gyro_bias=still.gyro_bias,
            up_S=still.up_S,
            forward_S=levelled / np.linalg.norm(levelled),
            method=forward.method,
            quality=quality,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )


@dataclass(frozen=True, slots=True)
class Finished:
    result: CalibrationResult


CalibrationEvent = Prompt | Progress | Failed | Finished


@dataclass(slots=True)
class _Buffer:
    t: list[FloatArray] = field(default_factory=list)
    acc: list[FloatArray] = field(default_factory=list)
    gyr: list[FloatArray] = field(default_factory=list)

    def add(self, t: FloatArray, acc: FloatArray, gyr: FloatArray) -> None:
        self.t.append(t)
        self.acc.append(acc)
        self.gyr.append(gyr)

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        if not self.t:
            return np.empty(0), np.empty((0, 3)), np.empty((0, 3))
        # Consolidate so repeated calls stay linear in the phase length.
        self.t = [np.concatenate(self.t)]
        self.acc = [np.concatenate(self.acc)]
        self.gyr = [np.concatenate(self.gyr)]
        return self.t[0], self.acc[0], self.gyr[0]


class CalibrationProcedure:
    """Drive with :meth:`feed` (sample times, acc, gyr); read the returned events.

    ``rate_hz`` is the sensor's sample rate. The first ``feed`` emits the GET_READY prompt.
    Once DONE or FAILED, further samples are ignored; :attr:`result` / :attr:`error` hold the
    outcome.
    """

    def __init__(self, rate_hz: float, config: ProcedureConfig | None = None) -> None:
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be a finite number > 0, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.config = config if config is not None else ProcedureConfig()
        self.phase: Phase | None = None
        self.result: CalibrationResult | None = None
        self.error: CalibrationError | None = None
        self._phase_t0 = math.nan
        self._buffer = _Buffer()
        self._still: StillEstimate | None = None

    @property
    def finished(self) -> bool:
        return self.phase in (Phase.DONE, Phase.FAILED)

    def feed(
        self, t: npt.ArrayLike, acc: npt.ArrayLike, gyr: npt.ArrayLike
    ) -> list[CalibrationEvent]:
        """Take one batch: ``t`` (n,) sample times in s, ``acc``/``gyr`` (n, 3) sensor frame."""
        if self.finished:
            return []
        times = np.asarray(t, dtype=np.float64).reshape(-1)
        a = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        g = np.asarray(gyr, dtype=np.float64).reshape(-1, 3)
        if not len(times) == len(a) == len(g):
            raise ValueError("t, acc and gyr must have the same number of rows")
        events: list[CalibrationEvent] = []
        if self.phase is None:
            if len(times) == 0:
                return events
            events += self._enter(Phase.GET_READY, float(times[0]))
        if len(times) == 0:
            return events
        self._buffer.add(times, a, g)
        try:
            events += self._step()
        except CalibrationError as exc:
            self.error = exc
            self.phase = Phase.FAILED
            events += [Prompt(Phase.FAILED, INSTRUCTIONS[Phase.FAILED]), Failed(exc)]
        return events

    # --- phases ------------------------------------------------------------------------------

    def _enter(self, phase: Phase, t0: float) -> list[CalibrationEvent]:
        self.phase = phase
        self._phase_t0 = t0
        return [Prompt(phase, INSTRUCTIONS[phase])]

    def _progress(self, fraction: float) -> Progress:
        assert self.phase is not None
        lo, hi = _PHASE_SPAN[self.phase]
        f = min(max(fraction, 0.0), 1.0)
        return Progress(self.phase, f, lo + (hi - lo) * f)

    def _restart_buffer(self, t: FloatArray, a: FloatArray, g: FloatArray, start: int) -> None:
        self._buffer = _Buffer()
        self._buffer.add(t[start:], a[start:], g[start:])

    def _step(self) -> list[CalibrationEvent]:
        if self.phase in (Phase.GET_READY, Phase.STAND_STILL):
            return self._step_still()
        if self.phase is Phase.WALK:
            return self._step_walk()
        if self.phase is Phase.TILT:
            return self._step_tilt()
        return []

    def _step_still(self) -> list[CalibrationEvent]:
        cfg = self.config
        t, a, g = self._buffer.arrays()
        still = still_mask(a, g, self.rate_hz)
        moving = np.flatnonzero(~still)
        start = int(moving[-1]) + 1 if moving.size else 0  # the still run reaching the end
        still_for = (t[-1] - t[start]) if start < len(t) else 0.0
        events: list[CalibrationEvent] = []
        if self.phase is Phase.GET_READY:
            if still_for >= cfg.settle_s:
                events += self._enter(Phase.STAND_STILL, float(t[-1]))
                # The settling already counts: the still run is kept from its start.
                self._restart_buffer(t, a, g, start)
                return events
            events.append(self._progress(still_for / cfg.settle_s))
        else:
            if start > 0:  # moved: start counting again
                self._restart_buffer(t, a, g, start)
                self.phase = Phase.GET_READY
                events.append(Prompt(Phase.GET_READY, INSTRUCTIONS[Phase.GET_READY]))
            elif still_for >= cfg.still_s:
                self._still = still_estimate(a, g, self.rate_hz)
                move = Phase.WALK if cfg.method == "walk" else Phase.TILT
                self._buffer = _Buffer()
                return self._enter(move, float(t[-1]))
            else:
                events.append(self._progress(still_for / cfg.still_s))
        if t[-1] - self._phase_t0 > cfg.still_timeout_s:
            raise MovedDuringStillError(
                "you moved during the still phase: stand upright and still, as you normally"
                f" stand, for {cfg.still_s:.0f} seconds"
            )
        return events

    def _step_walk(self) -> list[CalibrationEvent]:
        cfg = self.config
        assert self._still is not None
        t, a, g = self._buffer.arrays()
        window = max(int(self.rate_hz), 3)
        # A walk swings |a| by a few m/s² each step; standing or shuffling does not.
        stepping = moving_std(np.linalg.norm(a, axis=1), window) > 0.5
        begun = np.flatnonzero(stepping)
        if not begun.size:
            if t[-1] - self._phase_t0 > cfg.walk_start_timeout_s:
                raise NotEnoughWalkingError(
                    "I did not see you walk: walk straight ahead at your normal pace for about"
                    f" {cfg.walk_s:.0f} seconds"
                )
            return [self._progress(0.0)]
        first = int(begun[0])
        stop_run = round(cfg.stop_s * self.rate_hz)
        after = stepping[first:]
        # the walk ends at the first pause of stop_s, or after walk_s
        still_ends = np.flatnonzero(
            np.convolve(~after, np.ones(stop_run, dtype=int), mode="valid") == stop_run
        )
        walked_s = float(t[-1] - t[first])
        if still_ends.size:
            last = first + int(still_ends[0])
        elif walked_s >= cfg.walk_s:
            last = len(t)
        else:
            return [self._progress(walked_s / cfg.walk_s)]
        forward = forward_from_walking(
            a[:last],
            g[:last],
            self.rate_hz,
            self._still.up_S,
            gyro_bias=self._still.gyro_bias,
            min_walk_s=cfg.min_walk_s,
            lead_in=first,
        )
        return self._finish(forward, float(t[-1]))

    def _step_tilt(self) -> list[CalibrationEvent]:
        cfg = self.config
        assert self._still is not None
        t, a, _ = self._buffer.arrays()
        elapsed = float(t[-1] - self._phase_t0)
        if elapsed < cfg.tilt_s:
            return [self._progress(elapsed / cfg.tilt_s)]
        forward = forward_from_tilts(a, self.rate_hz, self._still.up_S)
        return self._finish(forward, float(t[-1]))

    def _finish(self, forward: ForwardEstimate, t: float) -> list[CalibrationEvent]:
        assert self._still is not None
        self.result = CalibrationResult.from_estimates(self._still, forward)
        events: list[CalibrationEvent] = [self._progress(1.0)]
        events += self._enter(Phase.DONE, t)
        events.append(Finished(self.result))
        return events


__all__ = [
    "INSTRUCTIONS",
    "CalibrationEvent",
    "CalibrationProcedure",
    "CalibrationResult",
    "Failed",
    "Finished",
    "Phase",
    "ProcedureConfig",
    "Progress",
    "Prompt",
]
