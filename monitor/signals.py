"""Ending a command on SIGTERM or SIGHUP the way Ctrl-C ends it.

``systemctl stop``, ``timeout``, ``kill`` and closing the terminal (logout) send SIGTERM or
SIGHUP, whose default action kills the process on the spot: no end marker in the recording, the
write-ahead log left beside it, no summary. :func:`ended_by_signals` turns them into a
cancellation of the running task instead, so every ``finally`` and ``async with`` on the way out
runs, exactly as for Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass(slots=True)
class SignalStop:
    """Which signal ended the task, once one has."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + (self.signum or 0)


@contextlib.contextmanager
def ended_by_signals() -> Iterator[SignalStop]:
    """While the block runs, SIGTERM and SIGHUP cancel the current task (once each).

    The caller catches the ``CancelledError`` and, when ``stop.signum`` is set, treats it as a
    normal end (the task's cancel request is withdrawn here).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stop = SignalStop()

    def on_signal(signum: int) -> None:
        if stop.signum is None:
            stop.signum = signum
            task.cancel(f"ended by {signal.Signals(signum).name}")

    installed = []
    for signum in ENDING_SIGNALS:
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(signum)
    try:
        yield stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        if stop.signum is not None and task.cancelling():
            task.uncancel()
