"""The pairing step: the sensor keeps its data for the computers it is paired with, and this one
is not (the dashboard's first run with a version-2 sensor, or a lost bond).

It says what happened and what to do (open the sensor's pairing window), pairs when asked
(typing the passkey on the sensor's label when the sensor asks for it), says how that went, and
hands back to the dashboard, which starts the stream again over the encrypted link.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from monitor.errors import MonitorError
from monitor.pairing import parse_passkey, without_command_hint

if TYPE_CHECKING:
    from monitor.transport.ble import PasskeySource

PAIRED_PAUSE_S = 1.5  # the "paired" line stays this long before the dashboard takes over


class PairingScreen(Screen[None]):
    AUTO_FOCUS = None  # the keys are the screen's until the sensor asks for its passkey
    DEFAULT_CSS = """
    PairingScreen { align: center top; }
    PairingScreen > Vertical { width: 80; max-width: 100%; height: auto; padding: 1 2; }
    PairingScreen #pair-title { text-style: bold; color: $primary; }
    PairingScreen #pair-reason { margin-top: 1; color: $text-muted; }
    PairingScreen #pair-steps { margin-top: 1; padding: 1 2; border: round $primary; }
    PairingScreen #pair-passkey { margin-top: 1; width: 30; display: none; }
    PairingScreen #pair-passkey.-asking { display: block; }
    PairingScreen #pair-status { margin-top: 1; height: auto; }
    PairingScreen #pair-status.-error { color: $error; text-style: bold; }
    PairingScreen #pair-status.-done { color: $success; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pair", "Pair now"),
        Binding("escape", "cancel_passkey", "Cancel", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(
        self,
        reason: str,
        pair: Callable[[PasskeySource | None], Awaitable[object]],
        done: asyncio.Future[None],
    ) -> None:
        super().__init__()
        self.reason = without_command_hint(reason)  # the steps below say how, here
        self._pair = pair
        self._done = done
        self.pairing = False
        self.error: str | None = None
        self.paired: str | None = None  # the line said once paired
        self._passkey: asyncio.Future[int | None] | None = None  # while the sensor asks

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Pair with your sensor", id="pair-title")
            yield Static(self.reason, id="pair-reason")
            yield Static(
                "Your sensor keeps its data for the computers it is paired with.\n\n"
                "1. Open its pairing window: press its button, or switch it off and on\n"
                "   (the window stays open for two minutes).\n"
                "2. Press P here. tiltmon pairs (a sensor with a passkey on its label\n"
                "   asks for it), and streams over the encrypted link.",
                id="pair-steps",
            )
            yield Input(
                placeholder="6-digit passkey",
                max_length=7,
                restrict=r"[0-9 ]*",
                id="pair-passkey",
                compact=True,
                disabled=True,
            )
            yield Static(id="pair-status")
        yield Footer()

    @property
    def asking_passkey(self) -> bool:
        return self._passkey is not None and not self._passkey.done()

    def action_pair(self) -> None:
        if not self.pairing:
            self.pairing = True
            self.error = None
            self._show("Pairing…", "")
            self.run_worker(self._run(), name="pairing", exit_on_error=False)

    async def _run(self) -> None:
        try:
            result = await self._pair(self._ask_passkey)
        except MonitorError as exc:
            self.error = str(exc)
            self._show(f"Not paired: {exc}\nOpen the window and press P to try again.", "-error")
            return
        finally:
            self.pairing = False
            self._end_passkey(None)
        self.paired = _paired_line(result)
        self._show(self.paired, "-done")
        self.set_timer(PAIRED_PAUSE_S, self._finish)

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        self.dismiss()

    # --- the passkey, when the sensor asks for it ----------------------------------------------

    async def _ask_passkey(self) -> int | None:
        self._passkey = asyncio.get_running_loop().create_future()
        field = self.query_one("#pair-passkey", Input)
        field.value = ""
        field.disabled = False
        field.add_class("-asking")
        field.focus()
        self._show("The sensor asks for the 6-digit passkey on its label: type it, then Enter.", "")
        return await self._passkey

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self.asking_passkey:
            return
        try:
            passkey = parse_passkey(event.value)
        except MonitorError as exc:
            self._show(f"{exc}: type the 6 digits, then Enter.", "-error")
            return
        self._end_passkey(passkey)
        self._show("Pairing…", "")

    def action_cancel_passkey(self) -> None:
        self._end_passkey(None)

    def _end_passkey(self, passkey: int | None) -> None:
        if self._passkey is not None and not self._passkey.done():
            self._passkey.set_result(passkey)
        field = self.query_one("#pair-passkey", Input)
        field.remove_class("-asking")
        field.disabled = True  # the keys go back to the screen (P tries again)

    def _show(self, text: str, kind: str) -> None:
        status = self.query_one("#pair-status", Static)
        status.update(text)
        status.set_class(kind == "-error", "-error")
        status.set_class(kind == "-done", "-done")


def _paired_line(result: object) -> str:
    name, address = getattr(result, "name", None), getattr(result, "address", None)
    if name and address:  # a PairedWith
        return f"Paired with {name} ({address}): its link is encrypted. Streaming…"
    return "Paired: the link is encrypted. Streaming…"
