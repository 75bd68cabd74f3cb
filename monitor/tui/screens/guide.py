"""The first-run guide: where to wear the sensor, how to calibrate, what the numbers mean.

Shown once, the first time the dashboard opens on a sensor (a marker file in the config
directory remembers it); `g` shows it again.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

PAGES: tuple[tuple[str, str], ...] = (
    (
        "Where to wear it",
        "Clip the sensor firmly on your belt, at the front just beside the buckle or on the side"
        " over the hip bone. It must move with your pelvis, not swing: a stiff belt or a pouch on"
        " the belt, not a loose pocket. Which way round does not matter, and keep it in the same"
        " place all day.",
    ),
    (
        "Calibrate once",
        "Press [b]c[/b]: stand still for a few seconds, then walk straight for ten. tiltmon then"
        " knows how the clip sits on your pelvis and saves it for this sensor. Until then it"
        " works things out from your first walk (the tilt panel says so). Calibrate again"
        " whenever you clip it on differently.",
    ),
    (
        "What the numbers mean",
        "[b]Sagittal[/b]: + your pelvis tips forward (anterior), − it tucks under, slumped"
        " (posterior). [b]Frontal[/b]: which hip is lower. Near 0° on both is neutral. The"
        " [b]sitting clock[/b] counts the current bout: only a minute or more on your feet is a"
        " real break. [b]Today[/b] adds up sitting, breaks, time per tilt zone and the nudges"
        " you followed.",
    ),
    (
        "Nudges",
        "After a long sit (45 minutes by default, settings: [b]o[/b]) tiltmon invites you to"
        " stand and move, with an exercise you can do at the desk. [b]s[/b] snoozes,"
        " [b]p[/b] picks how long (or pauses for a meeting), [b]d[/b] dismisses; simply"
        " getting up answers it best. [b]h[/b] shows your week and month.",
    ),
)


class GuideScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    GuideScreen { align: center middle; }
    GuideScreen > VerticalScroll {
        width: 72;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: round $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    GuideScreen .guide-title { text-style: bold; color: $primary; margin-top: 1; }
    GuideScreen #guide-close { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
        Binding("g", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Welcome to tiltmon"
            for title, text in PAGES:
                yield Static(title, classes="guide-title")
                yield Static(text)
            yield Static("enter or escape: start · g: this guide again · ?: every key",
                         id="guide-close")  # fmt: skip

    def action_close(self) -> None:
        self.dismiss()
