"""Attach benchmark: how long a dashboard takes to catch up on the service's day, and its cost.

    python benchmarks/bench_attach.py [--hours 2] [--rate 100]

A simulated office day (``simulate("office_day")``, packetised as the firmware sends it) goes
through the headless service (``monitor.service.run_service``, in this process, with its control
socket). Once the service has taken it all, a client attaches as the dashboard does
(``attach_session``: ``AttachedTransport`` and a mirror pipeline) and goes through the history
to the ``live`` marker; it is timed (wall and this process's CPU, the idle service included)
caught up in 30 s runs, as the dashboard does, and packet by packet, as a live stream is fed.
Also printed: the history the service keeps on disk for later clients (bytes), and that the
mirror ended equal to the service (nudge state and the day's totals).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from firmware_sim.packets import packetize
from firmware_sim.simulation import simulate
from monitor.live import LiveStream, live_pipeline, stream_for
from monitor.notify import DesktopNotifier
from monitor.service import apply_answer, run_service
from monitor.session import Session, attach_session
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

T0 = 1_750_000_000.0


class HeldOpen:
    """Items in memory, then silence: a sensor that stopped sending but is still connected."""

    def __init__(self, items: Sequence[TransportItem]) -> None:
        self.items = items
        self.drained = asyncio.Event()
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

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        return self._run()

    async def _run(self) -> AsyncIterator[TransportItem]:
        for i, item in enumerate(self.items):
            if i % 64 == 0:
                await asyncio.sleep(0)
            yield item
        self.drained.set()
        await asyncio.Event().wait()


def office_items(hours: float, rate: int) -> list[TransportItem]:
    rec = simulate("office_day", seed=1, rate_hz=rate, duration_s=hours * 3600)
    from monitor.sensors import StreamFormat

    device = DeviceInfo("tiltmon", "AA:BB", serial="SN-BENCH")
    items: list[TransportItem] = [
        LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=device),
        LinkEvent(T0, LinkEventKind.CONFIGURED, config=StreamFormat(rate, 8, 500, True, 19, True)),
    ]
    items += [Notification(T0 + 0.2 + t, payload) for t, payload in packetize(rec)]
    return items


class Mirror:
    """The dashboard's worker without the screen: the mirror pipeline and the catch-up rules."""

    def __init__(self, session: Session, coalesce: bool) -> None:
        assert session.attached is not None
        self.session = session
        self.live = session.live_factory() if coalesce else live_pipeline()
        self.caught_up = asyncio.Event()
        session.attached.on_answer = lambda m: (self._flush(), apply_answer(self.live, m))
        session.attached.on_caught_up = self._live

    def _flush(self) -> None:
        self.live.flush()

    def _live(self) -> None:
        self._flush()
        self.live.pipeline.coalesce_s = 0.0
        self.caught_up.set()


async def time_attach(socket: Path, *, coalesce: bool) -> tuple[float, float, LiveStream]:
    session = await attach_session(socket)
    mirror = Mirror(session, coalesce)
    wall, cpu = time.perf_counter(), time.process_time()
    async with session.transport:
        run = asyncio.create_task(stream_for(session.transport, math.inf, live=mirror.live))
        await mirror.caught_up.wait()
        took_wall, took_cpu = time.perf_counter() - wall, time.process_time() - cpu
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    return took_wall, took_cpu, mirror.live


async def main(hours: float, rate: int) -> None:
    items = office_items(hours, rate)
    samples = (len(items) - 2) * 19
    print(f"day: {hours:g} h office day at {rate} Hz, {samples} samples, {len(items)} packets")
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.environ["TILTMON_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["TILTMON_CONFIG_DIR"] = str(Path(tmp) / "config")
        socket = Path(tmp) / "control.sock"
        transport = HeldOpen(items)
        lives: list[LiveStream] = []

        def factory() -> LiveStream:
            lives.append(live_pipeline())
            return lives[-1]

        ready = asyncio.Event()
        servers: list[object] = []
        start = time.perf_counter()
        service = asyncio.create_task(
            run_service(
                Session(transport, label="bench", live_factory=factory),
                socket_path=socket,
                notifier=DesktopNotifier(enabled=False),
                on_ready=lambda server: (ready.set(), servers.append(server)),
            )
        )
        await ready.wait()
        await transport.drained.wait()
        await asyncio.sleep(0.5)
        print(f"service took the day in {time.perf_counter() - start:.1f} s (packet by packet)")
        server = servers[0]
        history = server._history.size  # type: ignore[attr-defined]
        print(f"history kept for later clients: {history / 1e6:.1f} MB, on disk (anonymous file)")
        wall, cpu, mirror = await time_attach(socket, coalesce=True)
        same = (
            mirror.pipeline.nudge_state == lives[-1].pipeline.nudge_state
            and mirror.totals.summary() == lives[-1].totals.summary()
        )
        print(
            f"attach, caught up in 30 s runs (the dashboard): {wall:.1f} s wall, {cpu:.1f} s CPU;"
            f" mirror equal to the service: {same}"
        )
        wall0, cpu0, mirror0 = await time_attach(socket, coalesce=False)
        same0 = mirror0.pipeline.nudge_state == lives[-1].pipeline.nudge_state
        print(
            f"attach, packet by packet: {wall0:.1f} s wall, {cpu0:.1f} s CPU"
            f" (x{wall0 / wall:.1f} the coalesced); mirror equal: {same0}"
        )
        service.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await service


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rate", type=int, default=100, choices=(25, 50, 100, 200))
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    asyncio.run(main(args.hours, args.rate))
