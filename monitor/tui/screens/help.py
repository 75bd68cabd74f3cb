"""Every key, in one place (`?`)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Dashboard",
        (
            ("c", "calibrate: stand still, then walk (or tilt)"),
            ("e", "coach: the pelvic range test and guided routines, counted by the sensor"),
            ("o", "settings: nudge times, snooze, quiet hours"),
            ("s", "snooze nudges"),
            ("p", "snooze for a chosen time, or pause (a meeting, the day)"),
            ("h", "history: the week and the month"),
            ("g", "the first-run guide again"),
            ("d", "dismiss the nudge on screen"),
            ("n", "a sample nudge (again: the next kind)"),
            ("?", "this help"),
            ("q ctrl+c", "quit (the recording is closed cleanly); attached: detach"),
            ("ctrl+p", "command palette: themes (light and dark), keys"),
        ),
    ),
    (
        "Replay",
        (
            ("space", "pause / play"),
            ("← →", "back / forward 1 minute"),
            ("[ ]", "back / forward 10 minutes"),
            ("- +", "slower / faster"),
            ("r", "at the end: play again from the start"),
        ),
    ),
    (
        "Calibration",
        (
            ("r", "start again"),
            ("t", "switch between walking and pelvic tilts"),
            ("escape", "close"),
        ),
    ),
    ("Settings", (("ctrl+s", "save"), ("tab", "next field"), ("escape", "close, not saved"))),
)


def keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", justify="right", min_width=8)
    table.add_column()
    for section, rows in KEYS:
        table.add_row("", f"[b u]{section}[/]")
        for key, what in rows:
            table.add_row(key, what)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 64;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: round $primary;
        border-title-color: $text-primary;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape, ? or q: close"
            yield Static(keys_table())

    def action_close(self) -> None:
        self.dismiss()
