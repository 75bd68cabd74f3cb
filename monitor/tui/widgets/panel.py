"""The base of the live panels: content built on the refresh tick, redrawn only if it changed."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from monitor.tui.state import DashboardState


class LivePanel(Widget):
    """A fixed-size panel whose text is rebuilt from the state at the refresh rate.

    Nothing is laid out again and nothing is redrawn when the text is the same as last time, so a
    quiet dashboard costs almost nothing and a busy one never flickers.
    """

    DEFAULT_CSS = """
    LivePanel {
        border: round $foreground 30%;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None, title: str = "") -> None:
        super().__init__(id=id)
        self.border_title = title
        self._content = Text()

    def show(self, state: DashboardState) -> bool:
        """Rebuild from the state; False if the styles were not ready (try again next tick)."""
        try:
            content = self.build(state)
        except KeyError:
            # Component styles are briefly missing while the CSS is being re-applied (a screen
            # pushed, a theme change): skip this tick rather than draw uncoloured text.
            return False
        if content != self._content:
            self._content = content
            self.refresh()
        return True

    def build(self, state: DashboardState) -> Text:
        raise NotImplementedError

    def render(self) -> Text:
        return self._content

    def style_of(self, name: str) -> Style:
        """A component class's style: the CSS (theme tokens) picks the colours, not the code."""
        return self.get_component_rich_style(name, partial=False)
