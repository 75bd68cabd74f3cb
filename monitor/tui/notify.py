"""A desktop notification where the system has one (``notify-send``), never blocking the UI."""

from __future__ import annotations

import asyncio
import contextlib
import shutil


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
