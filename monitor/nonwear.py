"""Non-wear: a sensor lying on a desk or in a bag is not a wearer sitting still.

The field's rule (van Hees et al. 2011, PLoS ONE 6:e22922; 2013, PLoS ONE 8:e61691; the rule
behind GGIR and scikit-digital-health's ``AccelThresholdWearDetection``) calls a stretch of at
least 30-60 minutes non-wear when, on at least two of the three accelerometer axes, the standard
deviation stays under 13 mg and the range under 50 mg. Worn on a wrist that holds. Worn on the
pelvis it does not: a wearer sitting quietly for an hour sways by a fraction of a degree, a few
mg, and passes both thresholds (the classic false positive). So tiltmon adds a third condition
that only a lifeless sensor meets: **no micro-movement**. Within each minute, the one-second
means of every axis must vary by less than :attr:`NonWearConfig.micro_mg`. Averaging over a
second divides the sensor's white noise by the square root of the rate (0.6 mg per sample at
100 Hz is 0.06 mg), while body sway and breathing, below 1 Hz, pass through whole (a 0.1° wobble
of the pelvis is 1.7 mg). A desk or a bag at rest stays far below the threshold; a sitting
person far above it.

Neither the gyroscope nor the orientation is used: an unknown, wandering gyroscope bias makes
"near zero" a property of the device, and a sensor lying flat looks just like a wearer lying in
bed. Only the accelerometer is needed, so accelerometer-only recordings get the same rule.

Minutes are counted from the first sample; a stretch starts at the first still minute and ends
with the last, so its edges are within a minute of the moment the sensor was put down or picked
up. A gap in the data ends a stretch (what happened in the gap is unknown).

:class:`NonWearDetector` is a pure state machine fed batches of (time, acceleration) in the
sensor frame (no mounting needed), live or a block at a time offline; :func:`detect_non_wear`
runs it over whole arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.errors import MonitorError

FloatArray = npt.NDArray[np.float64]
STANDARD_GRAVITY = 9.80665
_MG = STANDARD_GRAVITY / 1000.0  # m/s² per mg


class NonWearConfigError(MonitorError, ValueError):
    """Settings that cannot describe non-wear."""


@dataclass(frozen=True, slots=True)
class NonWearConfig:
    min_s: float = 1800.0  # the shortest stretch called non-wear (van Hees 2011: 30 min)
    sd_mg: float = 13.0  # per-axis standard deviation below this (van Hees 2013)
    range_mg: float = 50.0  # per-axis range (max - min) below this, over the whole stretch
    axes: int = 2  # on at least this many axes
    micro_mg: float = 1.0  # per-axis spread of one-second means within a minute, below this
    epoch_s: float = 60.0  # the unit a stretch is built of

    def __post_init__(self) -> None:
        for name in ("min_s", "sd_mg", "range_mg", "micro_mg", "epoch_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise NonWearConfigError(f"non-wear {name} must be a number > 0, not {value!r}")
        if self.axes not in (1, 2, 3):
            raise NonWearConfigError(f"non-wear axes must be 1, 2 or 3, not {self.axes!r}")
        if self.min_s < self.epoch_s:
            raise NonWearConfigError("non-wear min_s must be at least one epoch")


@dataclass(frozen=True, slots=True)
class NonWear:
    """A stretch of time the sensor was not worn: ``[start, end)`` in the samples' time."""

    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(slots=True)
class _Stats:
    """Sums over a stretch of seconds, per axis: enough for SD, range and the means' spread."""

    n: float = 0.0
    total: FloatArray = field(default_factory=lambda: np.zeros(3))
    squares: FloatArray = field(default_factory=lambda: np.zeros(3))
    low: FloatArray = field(default_factory=lambda: np.full(3, np.inf))
    high: FloatArray = field(default_factory=lambda: np.full(3, -np.inf))

    def add(self, other: _Stats) -> None:
        self.n += other.n
        self.total += other.total
        self.squares += other.squares
        self.low = np.minimum(self.low, other.low)
        self.high = np.maximum(self.high, other.high)

    def quiet_axes(self, config: NonWearConfig) -> int:
        """Axes meeting the van Hees criterion (SD and range small) over these samples."""
        mean = self.total / self.n
        sd = np.sqrt(np.maximum(self.squares / self.n - mean * mean, 0.0))
        quiet = (sd < config.sd_mg * _MG) & (self.high - self.low < config.range_mg * _MG)
        return int(np.count_nonzero(quiet))


@dataclass(frozen=True, slots=True)
class _Epoch:
    """One judged epoch: its index, its seconds (indices) and their means and spreads."""

    index: int
    seconds: npt.NDArray[np.int64]
    means: FloatArray  # (k, 3)
    sds: FloatArray  # (k, 3) spread of the samples within each second
    still: bool


class NonWearDetector:
    """Streaming non-wear: :meth:`update` with ``(t, acc)`` batches, :meth:`flush` at the end.

    Both return the stretches they closed. While a stretch is running, :attr:`still_since` says
    since when the sensor has lain still and :attr:`off_since` when it is already long enough to
    be non-wear (live: a sensor on the desk gets no sitting nudges). A stretch is judged a minute
    at a time; its edges are then found to the second, in the minutes on either side of it, as
    the seconds that are as quiet as the stretch and at its level (where the sensor was put down
    and picked up).
    """

    def __init__(self, config: NonWearConfig | None = None) -> None:
        self.config = config or NonWearConfig()
        self._t0: float | None = None
        self._last_t = -math.inf
        self._pending: list[FloatArray] = []  # samples of the second in progress
        self._second: int | None = None
        self._epoch: int | None = None  # index of the epoch in progress
        self._epoch_stats = _Stats()
        self._epoch_parts: list[tuple[npt.NDArray[np.int64], FloatArray, FloatArray]] = []
        self._previous: _Epoch | None = None  # the last judged epoch
        self._run_first: _Epoch | None = None  # first and last epochs of the still run
        self._run_last: _Epoch | None = None
        self._run_start_t = 0.0  # the run's start, to the second
        self._run_stats = _Stats()

    @property
    def still_since(self) -> float | None:
        """Start of the current run of still minutes (None: moving)."""
        return None if self._run_first is None else self._run_start_t

    @property
    def off_since(self) -> float | None:
        """Start of the current stretch once it is long enough to be non-wear, else None."""
        if self._run_first is None or self._run_last is None:
            return None
        end = self._epoch_start(self._run_last.index + 1)
        return self._run_start_t if end - self._run_start_t >= self.config.min_s else None

    def update(self, t: npt.ArrayLike, acc: npt.ArrayLike) -> list[NonWear]:
        tt = np.asarray(t, dtype=np.float64).reshape(-1)
        aa = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        if len(tt) == 0:
            return []
        if not (np.all(np.isfinite(tt)) and tt[0] > self._last_t and np.all(np.diff(tt) > 0)):
            raise NonWearConfigError("sample times must be finite and strictly increasing")
        self._last_t = float(tt[-1])
        if self._t0 is None:
            self._t0 = float(tt[0])
        second = np.floor(tt - self._t0).astype(np.int64)
        if self._pending:
            held = np.concatenate(self._pending)
            assert self._second is not None
            aa = np.concatenate([held, aa])
            second = np.concatenate([np.full(len(held), self._second), second])
        # every second but the last is complete: a sample of a later second has arrived
        last = int(np.searchsorted(second, second[-1]))
        closed = self._seconds(second[:last], aa[:last]) if last > 0 else []
        self._pending = [aa[last:]]
        self._second = int(second[-1])
        return closed

    def flush(self) -> list[NonWear]:
        """The end of the recording: the second and minute in progress count if long enough."""
        closed: list[NonWear] = []
        if self._pending and self._second is not None:
            aa = np.concatenate(self._pending)
            closed += self._seconds(np.full(len(aa), self._second), aa)
            self._pending = []
        if self._epoch is not None:
            closed += self._close_epoch(partial=True)
            self._epoch = None
        return closed + self._close_run(None)

    # --- seconds into epochs, epochs into runs ---------------------------------------------

    def _seconds(self, second: npt.NDArray[np.int64], acc: FloatArray) -> list[NonWear]:
        """Complete seconds (``second`` sorted, several samples each) into their epochs."""
        starts = np.flatnonzero(np.r_[True, second[1:] != second[:-1]])
        counts = np.diff(np.r_[starts, len(second)]).astype(np.float64)
        sums = np.add.reduceat(acc, starts, axis=0)
        squares = np.add.reduceat(acc * acc, starts, axis=0)
        lows = np.minimum.reduceat(acc, starts, axis=0)
        highs = np.maximum.reduceat(acc, starts, axis=0)
        means = sums / counts[:, None]
        sds = np.sqrt(np.maximum(squares / counts[:, None] - means * means, 0.0))
        seconds = second[starts]
        epochs = (seconds // self.config.epoch_s).astype(np.int64)
        closed: list[NonWear] = []
        bounds = [*np.flatnonzero(np.r_[True, epochs[1:] != epochs[:-1]]).tolist(), len(epochs)]
        for lo, hi in pairwise(bounds):
            epoch = int(epochs[lo])
            if self._epoch is not None and epoch != self._epoch:
                closed += self._close_epoch(partial=False)
            self._epoch = epoch
            self._epoch_stats.add(
                _Stats(
                    float(counts[lo:hi].sum()),
                    sums[lo:hi].sum(axis=0),
                    squares[lo:hi].sum(axis=0),
                    lows[lo:hi].min(axis=0),
                    highs[lo:hi].max(axis=0),
                )
            )
            self._epoch_parts.append((seconds[lo:hi], means[lo:hi], sds[lo:hi]))
        return closed

    def _close_epoch(self, *, partial: bool) -> list[NonWear]:
        """Judge the epoch in progress; extend, end or start the run of still epochs."""
        assert self._epoch is not None
        cfg = self.config
        parts, stats = self._epoch_parts, self._epoch_stats
        self._epoch_parts, self._epoch_stats = [], _Stats()
        means = np.concatenate([m for _, m, _ in parts])
        # An epoch needs most of its seconds (a gap or the recording's edge leaves it unjudged)
        # and several one-second means for their spread to mean anything.
        enough = len(means) >= (0.5 * cfg.epoch_s if not partial else 3)
        micro = float(np.max(np.std(means, axis=0))) if len(means) > 1 else math.inf
        still = enough and micro < cfg.micro_mg * _MG and stats.quiet_axes(cfg) >= cfg.axes
        epoch = _Epoch(
            self._epoch,
            np.concatenate([s for s, _, _ in parts]),
            means,
            np.concatenate([d for _, _, d in parts]),
            still,
        )
        closed: list[NonWear] = []
        last = self._run_last
        if still and last is not None and epoch.index == last.index + 1:
            trial = _Stats()
            trial.add(self._run_stats)
            trial.add(stats)
            if trial.quiet_axes(cfg) >= cfg.axes:  # the stretch as a whole still meets the rule
                self._run_stats, self._run_last = trial, epoch
                self._previous = epoch
                return closed
        closed += self._close_run(epoch)
        if still:
            self._run_first, self._run_last, self._run_stats = epoch, epoch, stats
            self._run_start_t = self._epoch_start(epoch.index)
            before = self._previous
            if before is not None and not before.still and before.index == epoch.index - 1:
                quiet = self._like(before, epoch.means.mean(axis=0))
                # back from the epoch's start through the seconds as quiet as the stretch
                n = len(quiet) - int(np.argmin(quiet[::-1])) if not quiet.all() else 0
                if n < len(quiet) and _contiguous(int(epoch.seconds[0]), before.seconds[n:]):
                    self._run_start_t = self._second_start(int(before.seconds[n]))
        self._previous = epoch
        return closed

    def _close_run(self, after: _Epoch | None) -> list[NonWear]:
        """End the run (if any) before epoch ``after`` (None: a gap or the recording's end)."""
        first, last = self._run_first, self._run_last
        if first is None or last is None:
            return []
        self._run_first = self._run_last = None
        self._run_stats = _Stats()
        # the end of the run's last second with data (before a gap, or the recording's end)
        end = min(self._second_start(int(last.seconds[-1]) + 1), self._last_t)
        if after is not None and after.index == last.index + 1:
            quiet = self._like(after, last.means.mean(axis=0))
            n = len(quiet) if quiet.all() else int(np.argmin(quiet))
            if n > 0 and _contiguous(int(last.seconds[-1]), after.seconds[:n]):
                end = self._second_start(int(after.seconds[n - 1]) + 1)
        if end - self._run_start_t >= self.config.min_s:
            return [NonWear(self._run_start_t, end)]
        return []

    def _like(self, epoch: _Epoch, level: FloatArray) -> npt.NDArray[np.bool_]:
        """Seconds of ``epoch`` as quiet as a still stretch at ``level``."""
        cfg = self.config
        near = np.all(np.abs(epoch.means - level) < 2.0 * cfg.micro_mg * _MG, axis=1)
        return near & np.all(epoch.sds < cfg.sd_mg * _MG, axis=1)

    def _epoch_start(self, epoch: int) -> float:
        assert self._t0 is not None
        return self._t0 + epoch * self.config.epoch_s

    def _second_start(self, second: int) -> float:
        assert self._t0 is not None
        return self._t0 + second


def _contiguous(anchor: int, seconds: npt.NDArray[np.int64]) -> bool:
    """``seconds`` and ``anchor`` together are consecutive seconds, none missing."""
    span = np.sort(np.r_[seconds, anchor])
    return bool(np.all(np.diff(span) == 1))


def non_wear_snapshot(t: float) -> ActivitySnapshot:
    """A second the sensor was not worn: no posture, no tilt, no sitting bout."""
    return ActivitySnapshot(
        t, Posture.NON_WEAR, TiltZone.NEUTRAL, math.nan, math.nan, None, None, t, None
    )


def detect_non_wear(
    t: npt.ArrayLike, acc: npt.ArrayLike, config: NonWearConfig | None = None
) -> list[NonWear]:
    """The non-wear stretches of a whole recording (sensor-frame acceleration, m/s²)."""
    detector = NonWearDetector(config)
    return detector.update(t, acc) + detector.flush()


def wear_mask(t: npt.ArrayLike, stretches: list[NonWear]) -> npt.NDArray[np.bool_]:
    """True for each time outside every non-wear stretch."""
    tt = np.asarray(t, dtype=np.float64)
    worn = np.ones(len(tt), dtype=bool)
    for s in stretches:
        worn &= ~((tt >= s.start) & (tt < s.end))
    return worn


__all__ = [
    "NonWear",
    "NonWearConfig",
    "NonWearConfigError",
    "NonWearDetector",
    "detect_non_wear",
    "non_wear_snapshot",
    "wear_mask",
]
