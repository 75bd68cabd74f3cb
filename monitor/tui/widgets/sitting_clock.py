"""The sitting clock: this bout's minutes, the way to the next nudge, the last real break."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from monitor.tui.format import bar, duration
from monitor.tui.state import DashboardState, NextNudge, next_nudge
from monitor.tui.widgets.panel import LivePanel


class SittingClock(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "clock--label",
        "clock--value",
        "clock--bar",
        "clock--bar-firm",
        "clock--empty",
        "clock--dim",
    }
    DEFAULT_CSS = """
    SittingClock > .clock--label { color: $text-muted; }
    SittingClock > .clock--value { text-style: bold; }
    SittingClock > .clock--bar { color: $accent; }
    SittingClock > .clock--bar-firm { color: $warning; }
    SittingClock > .clock--empty { color: $panel-lighten-2; }
    SittingClock > .clock--dim { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, title="Sitting clock")

    def build(self, state: DashboardState) -> Text:
        width = max(self.content_size.width, 20)
        snap = state.snapshot
        out = Text(no_wrap=True, overflow="ellipsis")
        label = self.style_of("clock--label")
        value = self.style_of("clock--value")
        out.append("This bout   ", label)
        if snap is None or snap.sitting_bout_start is None:
            out.append("not sitting" if snap is not None else "–", value)
        else:
            out.append(duration(snap.sitting_bout_s), value)
        out.append("\n")
        upcoming = next_nudge(state)
        if upcoming is None:
            filled, empty = bar(0.0, width)
            out.append(empty + "\n", self.style_of("clock--empty"))
            out.append("Next nudge  ", label)
            gentle = state.nudge_config.gentle_min
            out.append(f"after {gentle:g} min of sitting", self.style_of("clock--dim"))
        else:
            filled, empty = bar(upcoming.fraction, width)
            firm = upcoming.level == "firm"
            out.append(filled, self.style_of("clock--bar-firm" if firm else "clock--bar"))
            out.append(empty + "\n", self.style_of("clock--empty"))
            out.append("Next nudge  ", label)
            if state.nudge_pending:
                out.append("on screen now", value)
            else:
                when = f"in {duration(upcoming.left_min * 60)}"
                out.append(when, value)
                detail = _fitting(_details(upcoming), width - len("Next nudge  ") - len(when))
                out.append(detail, self.style_of("clock--dim"))
        out.append("\n")
        out.append("Last break  ", label)
        if snap is None:
            out.append("–", value)
        elif snap.sitting_bout_start is None and snap.posture.upright:
            out.append("now: you are up", value)
        elif snap.last_break_end is None:
            out.append("none yet this session", self.style_of("clock--dim"))
        else:
            out.append(f"{duration(snap.t - snap.last_break_end)} ago", value)
        return out


def _details(upcoming: NextNudge) -> list[str]:
    """What to say after "in N min", longest first: the panel shows the longest that fits."""
    level = f"{upcoming.level} at {upcoming.at_min:g} min"
    if upcoming.snooze_left_min > 0:  # "in N min" is already the snooze's end
        return [f" ({level}, snoozed)", " (snoozed)", ""]
    if upcoming.note:
        return [f" ({level}) · {upcoming.note}", f" · {upcoming.note}", " (quiet hours)", ""]
    return [f" ({level})", f" ({upcoming.level})", ""]


def _fitting(candidates: list[str], room: int) -> str:
    return next((text for text in candidates if len(text) <= room), "")
