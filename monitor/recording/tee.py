"""Record a session by passing a transport's items through a recorder on their way."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

from monitor.recording.writer import SessionRecorder
from monitor.transport import Transport
from monitor.transport.items import TransportItem


class RecordingTransport:
    """A transport that is another one, with every item also fed to a :class:`SessionRecorder`.

    The pipeline downstream sees the same items, so recording needs no change anywhere else.
    While the link is silent a timer still commits what is buffered, so no item waits longer
    than the commit interval for the disk. Leaving the context closes the recording cleanly.
    """

    def __init__(self, inner: Transport, recorder: SessionRecorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._flusher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        try:
            await self.inner.__aenter__()
        except BaseException:
            self.recorder.close()
            raise
        self._flusher = asyncio.create_task(self._flush_periodically())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.inner.__aexit__(exc_type, exc, tb)
        finally:
            if self._flusher is not None:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
            # A simulated world whose time runs fast ends by its own clock, as its items do.
            clock: Callable[[], float] = getattr(self.inner, "clock", time.time)
            self.recorder.close(ended_at=clock())

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        return self._run()

    async def _run(self) -> AsyncIterator[TransportItem]:
        feed = self.recorder.feed
        async for item in self.inner:
            feed(item)
            yield item

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.recorder.commit_interval_s)
            self.recorder.flush_or_wait()  # a full disk must not end the stream

    @property
    def overflowed(self) -> int:
        return self.inner.overflowed
