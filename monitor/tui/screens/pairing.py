"""The pairing step: a private-link sensor refused this computer (first run, or a lost bond).

It says what happened and what to do (open the sensor's pairing window), pairs when asked,
and hands back to the dashboard, which starts the stream again over the encrypted link.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from monitor.errors import MonitorError


class PairingScreen(Screen[None]):
    DEFAULT_CSS = """
    PairingScreen { align: center top; }
    PairingScreen > Vertical { width: 80; max-width: 100%; height: auto; padding: 1 2; }
    PairingScreen #pair-title { text-style: bold; color: $primary; }
    PairingScreen #pair-reason { margin-top: 1; color: $text-muted; }
    PairingScreen #pair-steps { margin-top: 1; padding: 1 2; border: round $primary; }
    PairingScreen #pair-status { margin-top: 1; height: auto; }
    PairingScreen #pair-status.-error { color: $error; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pair", "Pair now"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self, reason: str, pair: Callable[[], Awaitable[object]], done: asyncio.Future[None]
    ) -> None:
        super().__init__()
        self.reason = reason
        self._pair = pair
        self._done = done
        self.pairing = False
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Pair with your sensor", id="pair-title")
            yield Static(self.reason, id="pair-reason")
            yield Static(
                "Your sensor keeps its data for the computers it is paired with.\n\n"
                "1. Open its pairing window: press its button, or switch it off and on\n"
                "   (the window stays open for two minutes).\n"
                "2. Press P here. tiltmon pairs, and streams over the encrypted link.",
                id="pair-steps",
            )
            yield Static(id="pair-status")
        yield Footer()

    def action_pair(self) -> None:
        if not self.pairing:
            self.pairing = True
            self._show("Pairing…", error=False)
            self.run_worker(self._run(), name="pairing", exit_on_error=False)

    async def _run(self) -> None:
        try:
            await self._pair()
        except MonitorError as exc:
            self.error = str(exc)
            self._show(f"{exc}\nOpen the window and press P to try again.", error=True)
            return
        finally:
            self.pairing = False
        if not self._done.done():
            self._done.set_result(None)
        self.dismiss()

    def _show(self, text: str, *, error: bool) -> None:
        status = self.query_one("#pair-status", Static)
        status.update(text)
        status.set_class(error, "-error")
