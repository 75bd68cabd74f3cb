"""Where the dashboard's items come from: a sensor, a replay, or a fixed list (tests, demos).

No textual here: the command line builds a :class:`Source` before the UI loads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from monitor.live import LiveStream, live_pipeline
from monitor.recording import SessionRecorder
from monitor.transport import Transport
from monitor.transport.items import TransportItem
from monitor.transport.replay import ReplayTransport


@dataclass(slots=True)
class Source:
    """A transport and what goes with it. The dashboard enters and leaves the transport itself."""

    transport: Transport
    label: str  # what the link bar calls it: "sim:desk_short", "ble", "replay: FILE"
    recorder: SessionRecorder | None = None  # the RecordingTransport's, for the app's own events
    replay: ReplayTransport | None = None  # set for replays: pause, seek, speed
    can_calibrate: bool = True  # a replay cannot be calibrated against
    remember: Callable[[str, str], None] | None = None  # (name, address) of a real sensor
    live_factory: Callable[[], LiveStream] = field(default=live_pipeline)
    # A simulated wearer who acts out a scenario when asked (``sim`` sources): the calibration
    # wizard asks it to do what its prompts say, so a demo can calibrate.
    act_out: Callable[[str], None] | None = None


class ItemsTransport:
    """A transport over items already in memory, handed out as fast as they are taken.

    It stops before each index in ``stops`` (setting :attr:`waiting`) until :meth:`go` is
    called, so a test can act at a chosen moment of the data. With ``hold_open`` it stays open
    after the last item, as a quiet live link would; :attr:`drained` is set once all are out.
    """

    def __init__(
        self, items: Sequence[TransportItem], *, hold_open: bool = True, stops: Sequence[int] = ()
    ) -> None:
        self.items = items
        self.hold_open = hold_open
        self.stops = frozenset(stops)
        self.drained = asyncio.Event()
        self.waiting = asyncio.Event()
        self._go = asyncio.Event()
        self.overflowed = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def go(self) -> None:
        self.waiting.clear()
        self._go.set()

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        return self._run()

    async def _run(self) -> AsyncIterator[TransportItem]:
        for i, item in enumerate(self.items):
            if i in self.stops:
                self._go.clear()
                self.waiting.set()
                await self._go.wait()
            elif i % 16 == 0:
                await asyncio.sleep(0)  # let the UI breathe
            yield item
        self.drained.set()
        if self.hold_open:
            await asyncio.Event().wait()
