"""The nudge: a friendly notice with the suggested movement, snooze and dismiss."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from monitor.nudge import NudgeLevel, NudgeShown

if TYPE_CHECKING:
    from monitor.tui.app import DashboardApp

TITLES = {
    NudgeLevel.GENTLE: "Time for a little movement",
    NudgeLevel.FIRM: "Time to stand up for a few minutes",
    NudgeLevel.TILT: "Time to change position",
}


class NudgeScreen(ModalScreen[None]):
    """Shown over the dashboard (which keeps updating behind it) until answered or a break."""

    DEFAULT_CSS = """
    NudgeScreen { align: center middle; }
    NudgeScreen > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    NudgeScreen #nudge-title { text-style: bold; color: $text-warning; }
    NudgeScreen #nudge-reason { margin-top: 1; }
    NudgeScreen #nudge-move { margin-top: 1; color: $text; }
    NudgeScreen #nudge-keys { margin-top: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "snooze", "Snooze"),
        Binding("p", "app.pause_menu", "Snooze for…"),
        Binding("d", "dismiss_nudge", "Dismiss"),
        Binding("escape", "dismiss_nudge", "Dismiss", show=False),
        Binding("n", "app.sample_nudge", "Next sample", show=False),
    ]

    def __init__(self, nudge: NudgeShown, *, sample: bool = False) -> None:
        super().__init__()
        self.nudge = nudge
        self.sample = sample  # shown on request (n): the wearer's answers are not recorded

    @property
    def dashboard(self) -> DashboardApp:
        from monitor.tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="nudge-title")
            yield Static(id="nudge-reason")
            yield Static(id="nudge-move")
            yield Static(id="nudge-keys")

    def on_mount(self) -> None:
        self.show_nudge(self.nudge)

    def show_nudge(self, nudge: NudgeShown) -> None:
        """A firmer nudge replaces the one on screen."""
        self.nudge = nudge
        snooze = self.dashboard.state.nudge_config.snooze_min
        title = TITLES[nudge.level]
        keys = (
            f"[b]s[/b] snooze {snooze:g} min   [b]p[/b] other lengths, pause   [b]d[/b] dismiss"
            "\n(or just get up)"
        )
        if self.sample:
            title = f"Sample: {title[0].lower()}{title[1:]}"
            keys = "[b]escape[/b] close    [b]n[/b] the next kind of nudge"
        self.query_one("#nudge-title", Static).update(title)
        self.query_one("#nudge-reason", Static).update(nudge.reason)
        self.query_one("#nudge-move", Static).update(nudge.suggestion.text())
        self.query_one("#nudge-keys", Static).update(keys)

    async def action_snooze(self) -> None:
        if self.sample:
            self.dismiss()
        else:
            await self.run_action("app.snooze")

    async def action_dismiss_nudge(self) -> None:
        if self.sample:
            self.dismiss()
        else:
            await self.run_action("app.dismiss_nudge")
