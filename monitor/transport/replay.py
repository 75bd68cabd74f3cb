"""``replay:FILE``: a recorded session played back as a transport.

Items come out exactly as recorded, with their original receive times, so the pipeline behind
gives the same results as it did live; only the pacing is new. ``speed`` 1 plays in real time,
60 a minute per second, ``None`` (or infinity) as fast as the consumer takes them. A UI on the
same event loop can :meth:`~ReplayTransport.pause`, :meth:`~ReplayTransport.resume`,
:meth:`~ReplayTransport.seek` and change :attr:`~ReplayTransport.speed` while it plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.recording.reader import Recording
from monitor.transport.items import LinkEvent, Notification, TransportItem

log = logging.getLogger(__name__)

_YIELD_EVERY = 256  # at full speed, let the loop breathe this often
_EARLY_S = 0.0005  # an item this close to due goes now: sleeping that little costs more


class ReplayTransport:
    def __init__(
        self,
        path: str | Path,
        *,
        speed: float | None = 1.0,
        start_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._speed = _check_speed(speed)
        self._monotonic = monotonic
        self._pending_seek: float | None = start_s if start_s > 0 else None
        self._paused = False
        self._wake = asyncio.Event()
        # Pacing: the item dated anchor_t is due at anchor_m on the monotonic clock.
        self._anchor: tuple[float, float] | None = None
        self._position_t: float | None = None
        self.recording: Recording | None = None
        self.finished = False
        self.overflowed = 0  # a file never overflows: the consumer sets the pace

    # --- context ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.recording = Recording(self.path)
        for notice in self.recording.notices:
            log.warning("%s: %s", self.path.name, notice)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.recording is not None:
            self.recording.close()

    # --- controls (call from the loop that iterates) ------------------------------------------

    @property
    def speed(self) -> float | None:
        return self._speed

    @speed.setter
    def speed(self, speed: float | None) -> None:
        self._speed = _check_speed(speed)
        self._reanchor()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._wake.set()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._reanchor()

    def seek(self, offset_s: float) -> None:
        """Continue from ``offset_s`` seconds after the session started (see :attr:`position_s`).

        Playback resumes with the latest device-info, battery and configured events before that
        point, then the items from it on; a pipeline that keeps its state sees the jump as a gap.
        """
        self._pending_seek = max(0.0, offset_s)
        self._wake.set()

    @property
    def position_s(self) -> float:
        """Seconds since the session started, of the last item handed out."""
        if self._position_t is None or self.recording is None:
            return 0.0
        return self._position_t - self.recording.info.started_at

    @property
    def duration_s(self) -> float:
        return 0.0 if self.recording is None else self.recording.info.duration_s

    @property
    def notices(self) -> list[str]:
        return [] if self.recording is None else self.recording.finish_notices()

    # --- playing ------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        if self.recording is None:
            raise RuntimeError("use `async with` before iterating a transport")
        return self._run(self.recording)

    async def _run(self, recording: Recording) -> AsyncIterator[TransportItem]:
        items: Iterator[Notification | LinkEvent] = iter(())
        item: Notification | LinkEvent | None = None
        fresh = True
        since_yield = 0
        seek_t = -math.inf  # items dated before it are a seek's context: sent at once
        while True:
            if self._pending_seek is not None or fresh:
                start = self._pending_seek
                self._pending_seek = None
                seek_t = -math.inf if start is None else recording.info.started_at + start
                items = recording.items(None if start is None else seek_t)
                item, fresh, self._anchor = None, False, None
            if item is None:
                item = next(items, None)
                if item is None:
                    self.finished = True
                    return
            if self._paused:
                await self._sleep(None)
                continue
            t = item.received_at if isinstance(item, Notification) else item.at
            if t < seek_t:
                # The link context re-sent after a seek (device, battery, configuration) is
                # dated where it happened; pacing from it would wait out the whole distance.
                yield item
                item = None
                continue
            speed = self._speed
            if speed is not None:
                now = self._monotonic()
                if self._anchor is None:
                    self._anchor = (t, now)
                anchor_t, anchor_m = self._anchor
                delay = anchor_m + (t - anchor_t) / speed - now
                if delay > _EARLY_S:
                    await self._sleep(delay)
                    continue  # controls may have changed while waiting
            else:
                since_yield += 1
                if since_yield >= _YIELD_EVERY:
                    since_yield = 0
                    await asyncio.sleep(0)
                    if self._pending_seek is not None or self._paused:
                        continue
            self._position_t = t
            yield item
            item = None

    async def _sleep(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: until woken), or less if a control wakes us."""
        self._wake.clear()
        # asyncio.timeout, not wait_for: wait_for can swallow a cancellation on Python 3.11.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _reanchor(self) -> None:
        # The next item is due one item-interval after now, not when it was due before.
        if self._position_t is not None:
            self._anchor = (self._position_t, self._monotonic())
        else:
            self._anchor = None
        self._wake.set()


def _check_speed(speed: float | None) -> float | None:
    if speed is None or math.isinf(speed):
        return None
    if not speed > 0:
        raise ValueError(f"replay speed must be positive, not {speed}")
    return float(speed)
