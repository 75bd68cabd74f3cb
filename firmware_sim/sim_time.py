"""The simulated world's time: real time, or faster for a demo.

At ``speed`` N the simulated wearer, the sensor's clock and whatever stamps what the sensor sends
all live on one clock that runs N times real time, so a client sees an ordinary sensor whose
hours pass in minutes. A computer cannot always keep up (a busy event loop delays the firmware's
next packet by a tenth of a second, six simulated seconds at 60x); a fast world then waits for it
(:meth:`SimulationClock.hold`) instead of jumping, as a game's clock does. At speed 1 the clock is
the real one and never waits: a real sensor does not.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable


class SimulationClock:
    def __init__(
        self,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"the simulation speed must be a positive number, not {speed}")
        self.speed = float(speed)
        self._monotonic = monotonic
        self._start_m = monotonic()
        self._start_wall = wall()
        self.held_s = 0.0  # wall seconds the world waited for the computer

    def elapsed(self) -> float:
        """Simulated seconds since the clock was made."""
        return (self._monotonic() - self._start_m - self.held_s) * self.speed

    def now(self) -> float:
        """The simulated world's wall clock (Unix seconds): what stamps arrivals."""
        return self._start_wall + self.elapsed()

    def wall_delay(self, simulated_s: float) -> float:
        """Real seconds until ``simulated_s`` of this clock's time have passed."""
        return simulated_s / self.speed

    def hold(self, wall_s: float) -> None:
        """The computer fell ``wall_s`` behind: a fast world waits (time resumes from here)."""
        if self.speed != 1.0 and wall_s > 0:
            self.held_s += wall_s

    async def sleep(self, simulated_s: float) -> None:
        await asyncio.sleep(self.wall_delay(simulated_s))
