"""The estimator interface, input checks, and the sample bookkeeping every estimator shares.

An estimator keeps three things apart (as vqf does):

- ``params``: what the user chose (a frozen dataclass; never changes);
- ``coeffs``: what follows from the params and the sample rate (``dt`` and friends);
- ``state``: what changes with every sample (a :class:`StreamState` snapshot you can save and
  restore).

Bad rows. A row whose gyroscope reading is not finite is skipped: the filter state is left as it
was and the output repeats the last estimate. A row whose accelerometer reading alone is not
finite is a gyroscope-only step (no tilt correction). Rows before the first usable accelerometer
sample are NaN: the tilt is unknown until gravity has been seen once. Estimators without a
gyroscope skip rows whose accelerometer reading is not finite. So a NaN never enters a filter and
cannot poison its state.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from monitor.fusion import quat
from monitor.fusion.errors import FusionError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_NAN_QUAT = np.full(4, np.nan)


@dataclass
class StreamState:
    """Everything that changes as samples arrive: a copy is a complete snapshot."""

    last: FloatArray = field(default_factory=lambda: _NAN_QUAT.copy())  # held output
    seen_acc: bool = False  # whether gravity has been seen, i.e. the tilt is defined
    filter: dict[str, Any] = field(default_factory=dict)  # the wrapped filter's own state


@dataclass(frozen=True, slots=True)
class Coefficients:
    """What follows from an estimator's parameters and the sample rate."""

    dt: float  # s, sample period = 1 / rate_hz
    latency_s: float  # s, output prediction horizon (0 = none)
    filter: Mapping[str, Any] = field(default_factory=dict)  # the wrapped filter's own


@runtime_checkable
class OrientationEstimator(Protocol):
    """Sensor-to-earth orientation ``q_ES`` (w, x, y, z; earth z up) from IMU samples.

    ``update`` is the streaming path: feed consecutive chunks (one BLE batch of ~5–20 samples, or
    any size) and get one quaternion per row. ``update_batch`` starts from a fresh state and runs a
    whole recording; for a causal estimator it returns exactly what streaming the same rows from a
    fresh state returns. Non-causal (offline) estimators only have ``update_batch``.
    """

    @property
    def name(self) -> str: ...

    @property
    def rate_hz(self) -> float: ...

    @property
    def causal(self) -> bool:
        """True when every output row depends on that row and earlier rows only."""
        ...

    @property
    def needs_gyro(self) -> bool: ...

    @property
    def params(self) -> object:
        """The chosen parameters (a frozen dataclass)."""
        ...

    @property
    def coeffs(self) -> Coefficients: ...

    @property
    def state(self) -> StreamState:
        """A snapshot of everything that changes with the samples."""
        ...

    def reset(self) -> None: ...

    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        """Consume the next rows ``acc`` (n, 3) m/s², ``gyr`` (n, 3) rad/s; return (n, 4)."""
        ...

    def update_batch(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        """Reset, then estimate all rows at once; return (n, 4)."""
        ...


# --- input checks -----------------------------------------------------------------------------


def check_rate(rate_hz: object) -> float:
    """The sample rate as a float, or FusionError unless it is a finite number > 0."""
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float, np.integer, np.floating)):
        raise FusionError(f"rate_hz must be a number of samples per second, got {rate_hz!r}")
    rate = float(rate_hz)
    if not math.isfinite(rate) or rate <= 0.0:
        raise FusionError(f"rate_hz must be finite and > 0, got {rate_hz!r}")
    return rate


def as_samples(x: npt.ArrayLike, name: str) -> FloatArray:
    """``x`` as a C-contiguous float64 (n, 3) array (vqf needs exactly that), or FusionError."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise FusionError(f"{name} must be an (n, 3) array of numbers: {exc}") from exc
    if arr.dtype.kind not in "iuf":
        raise FusionError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise FusionError(f"{name} must have shape (n, 3), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def check_pair(
    acc: npt.ArrayLike, gyr: npt.ArrayLike | None, *, needs_gyro: bool
) -> tuple[FloatArray, FloatArray | None]:
    a = as_samples(acc, "acc")
    if gyr is None:
        if needs_gyro:
            raise FusionError("this estimator needs gyroscope samples (gyr is None)")
        return a, None
    g = as_samples(gyr, "gyr")
    if len(g) != len(a):
        raise FusionError(
            f"acc and gyr must have the same number of rows, got {len(a)} and {len(g)}"
        )
    return a, g


def finite_rows(x: FloatArray) -> BoolArray:
    return np.asarray(np.isfinite(x).all(axis=1), dtype=np.bool_)


# --- shared machinery -------------------------------------------------------------------------


class EstimatorBase(ABC):
    """Validation, bad-row handling and the ``params``/``coeffs``/``state`` split."""

    name: str = "?"
    causal: bool = True
    needs_gyro: bool = True
    params: object
    coeffs: Coefficients

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = check_rate(rate_hz)
        self.dt = 1.0 / self.rate_hz
        self._state = StreamState()

    def __repr__(self) -> str:
        params = getattr(self, "params", None)
        return f"{type(self).__name__}(rate_hz={self.rate_hz:g}, params={params!r})"

    # Subclasses provide the filter itself.
    @abstractmethod
    def _reset_filter(self) -> None: ...

    @abstractmethod
    def _filter_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _set_filter_state(self, state: dict[str, Any]) -> None: ...

    def reset(self) -> None:
        """Forget all samples (parameters and coefficients stay)."""
        self._reset_filter()
        self._state = StreamState()

    @property
    def state(self) -> StreamState:
        """A deep copy of the current state; assign it back to resume from this point."""
        snap = copy.deepcopy(self._state)
        snap.filter = copy.deepcopy(self._filter_state())
        return snap

    @state.setter
    def state(self, value: StreamState) -> None:
        self._set_filter_state(copy.deepcopy(value.filter))
        self._state = StreamState(value.last.copy(), value.seen_acc, {})

    def update_batch(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        self.reset()
        return self.update(acc, gyr)

    @abstractmethod
    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray: ...

    def _usable(self, a: FloatArray, g: FloatArray | None) -> tuple[BoolArray, BoolArray]:
        """Rows the filter consumes at all, and rows among those with a usable accelerometer."""
        acc_ok = finite_rows(a)
        if g is None or not self.needs_gyro:
            return acc_ok, acc_ok
        return finite_rows(g), acc_ok


class CausalEstimator(EstimatorBase):
    """A streaming estimator: subclasses implement :meth:`_run` on clean rows only.

    ``_run`` gets finite gyroscope rows and accelerometer rows that are either finite or all zero
    (zero = "no accelerometer for this row"), and returns one quaternion per row.
    """

    latency_s: float = 0.0  # output prediction, see VQFParams.latency_s

    @abstractmethod
    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray: ...

    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        a, g = check_pair(acc, gyr, needs_gyro=self.needs_gyro)
        if not self.needs_gyro:
            g = None
        n = len(a)
        if n == 0:
            return np.empty((0, 4))
        st = self._state
        if np.isfinite(a).all() and (g is None or np.isfinite(g).all()):
            # Fast path, the common case: nothing to skip or patch.
            q = self._lead(self._run(a, g), g)
            st.seen_acc = True
            st.last = q[-1].copy()
            return q

        use, acc_ok = self._usable(a, g)
        idx = np.flatnonzero(use)
        a_use = a[idx]
        a_use[~acc_ok[idx]] = 0.0
        g_use = None if g is None else g[idx]
        q = self._lead(self._run(a_use, g_use), g_use) if len(idx) else np.empty((0, 4))
        if not st.seen_acc and len(idx):
            has_acc = acc_ok[idx]
            first = int(np.argmax(has_acc)) if has_acc.any() else len(idx)
            q[:first] = np.nan
            st.seen_acc = first < len(idx)
        # Skipped rows repeat the latest estimate (from this chunk or an earlier one).
        latest = np.cumsum(use) - 1
        out = np.empty((n, 4))
        out[:] = st.last
        have = latest >= 0
        if len(idx):
            out[have] = q[latest[have]]
        st.last = out[-1].copy()
        return out

    def _lead(self, q: FloatArray, g: FloatArray | None) -> FloatArray:
        """Predict each output ``latency_s`` ahead with that row's angular rate.

        Compensates the sensor's output delay (its internal filters and transport): the estimate
        refers to the time the motion happened, not when the sample left the chip.
        """
        if self.latency_s == 0.0 or g is None:
            return q
        return quat.propagate(q, g, self.latency_s)


class OfflineEstimator(EstimatorBase):
    """A batch-only estimator that may use future samples (replay and analysis)."""

    causal = False
    latency_s: float = 0.0

    @abstractmethod
    def _run(self, acc: FloatArray, gyr: FloatArray | None) -> FloatArray: ...

    def _reset_filter(self) -> None:
        pass

    def _filter_state(self) -> dict[str, Any]:
        return {}

    def _set_filter_state(self, state: dict[str, Any]) -> None:
        pass

    def update(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        raise FusionError(
            f"{self.name} is an offline estimator (it looks at future samples) and cannot stream; "
            "call update_batch() with the whole recording, or use a causal estimator"
        )

    def update_batch(self, acc: npt.ArrayLike, gyr: npt.ArrayLike | None = None) -> FloatArray:
        a, g = check_pair(acc, gyr, needs_gyro=self.needs_gyro)
        if not self.needs_gyro:
            g = None
        n = len(a)
        use, acc_ok = self._usable(a, g)
        idx = np.flatnonzero(use)
        if not acc_ok[idx].any():
            return np.full((n, 4), np.nan)  # gravity never seen: tilt undefined everywhere
        a_use, g_use = a, g
        if len(idx) < n or not acc_ok.all():
            a_use = a[idx]
            a_use[~acc_ok[idx]] = 0.0
            g_use = None if g is None else np.ascontiguousarray(g[idx])
        q = self._run(a_use, g_use)
        if self.latency_s != 0.0 and g_use is not None:
            # Offline, the rate over the next interval is known: use it for the prediction.
            g_next = np.concatenate([g_use[1:], g_use[-1:]])
            q = quat.propagate(q, g_next, self.latency_s)
        if len(idx) == n:
            return q
        # Skipped rows take the nearest earlier estimate; leading ones the first estimate.
        latest = np.maximum(np.cumsum(use) - 1, 0)
        return q[latest]
