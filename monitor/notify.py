"""Desktop notifications for nudges (``notify-send``), never blocking the stream.

Used by the dashboard and by the headless service. Where the desktop has no notification
command (a server, a bare session), a nudge is logged instead, so it is never silently lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

from monitor.nudge import NudgeShown
from monitor.pipeline import PipelineStep

log = logging.getLogger(__name__)


class DesktopNotifier:
    def __init__(self, enabled: bool = True, command: str = "notify-send") -> None:
        self.path = shutil.which(command) if enabled else None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def available(self) -> bool:
        return self.path is not None

    def send(self, title: str, body: str) -> None:
        """Fire and forget: the process runs on its own; a failure only loses the pop-up."""
        if self.path is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(title, body))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _run(self, title: str, body: str) -> None:
        assert self.path is not None
        with contextlib.suppress(OSError):
            process = await asyncio.create_subprocess_exec(
                self.path,
                "--app-name=tiltmon",
                title,
                body,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await process.wait()

    async def drain(self) -> None:
        """Wait for the notifications already sent (before the process ends)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def nudge_text(nudge: NudgeShown) -> str:
    return f"{nudge.reason}\n{nudge.suggestion.move}"


class NudgeNotifier:
    """A step listener: each nudge shown becomes a desktop notification (or a log line)."""

    def __init__(self, notifier: DesktopNotifier) -> None:
        self.notifier = notifier

    def on_step(self, step: PipelineStep) -> None:
        for event in step.nudges:
            if isinstance(event, NudgeShown):
                if self.notifier.available:
                    self.notifier.send("tiltmon", nudge_text(event))
                else:
                    log.warning(
                        "%s nudge: %s", event.level.value, nudge_text(event).replace("\n", ": ")
                    )
