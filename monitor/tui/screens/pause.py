"""Snooze for a chosen time, or pause nudges for a meeting or for the rest of the day (`p`)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

# (key, label, minutes); None: until midnight, local time.
CHOICES: tuple[tuple[str, str, float | None], ...] = (
    ("1", "snooze 10 minutes", 10.0),
    ("2", "snooze 20 minutes", 20.0),
    ("3", "snooze 30 minutes", 30.0),
    ("4", "pause 1 hour (a meeting)", 60.0),
    ("5", "pause until tomorrow", None),
)


def minutes_to_midnight(local: dt.time) -> float:
    """From a local time of day to the next midnight, in minutes (at least one)."""
    into_day = local.hour * 60 + local.minute + local.second / 60
    return max(24 * 60 - into_day, 1.0)


class PauseScreen(ModalScreen[float | None]):
    """Dismissed with the minutes chosen, or None when closed without a choice."""

    DEFAULT_CSS = """
    PauseScreen { align: center middle; }
    PauseScreen > Vertical {
        width: 46;
        max-width: 95%;
        height: auto;
        border: round $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    PauseScreen #pause-note { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"choose('{key}')", label, show=False) for key, label, _ in CHOICES),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, local_now: dt.time) -> None:
        super().__init__()
        self.local_now = local_now

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "No nudges for…"
            for key, label, _ in CHOICES:
                yield Static(f"[b]{key}[/b]  {label}")
            yield Static(
                "Nudges come back after it; standing up still counts as a break.",
                id="pause-note",
            )

    def action_choose(self, key: str) -> None:
        minutes = next(m for k, _, m in CHOICES if k == key)
        self.dismiss(minutes if minutes is not None else minutes_to_midnight(self.local_now))

    def action_close(self) -> None:
        self.dismiss(None)
