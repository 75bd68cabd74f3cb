"""Today's figures: sitting time, breaks, the longest bout, nudges, time per tilt zone."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from monitor.activity import Posture, TiltZone
from monitor.tui.format import ZONE_WORDS, bar, duration, plural, short_duration
from monitor.tui.state import DashboardState
from monitor.tui.widgets.panel import LivePanel

_FIXED_LINES = 10  # four figures, the zone heading and five zones


class TotalsPanel(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "totals--label",
        "totals--value",
        "totals--bar",
        "totals--empty",
    }
    DEFAULT_CSS = """
    TotalsPanel > .totals--label { color: $text-muted; }
    TotalsPanel > .totals--value { text-style: bold; }
    TotalsPanel > .totals--bar { color: $secondary; }
    TotalsPanel > .totals--empty { color: $panel-lighten-1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, title="Today")

    def build(self, state: DashboardState) -> Text:
        width = max(self.content_size.width, 24)
        totals = state.live.totals
        label = self.style_of("totals--label")
        value = self.style_of("totals--value")
        out = Text(no_wrap=True, overflow="ellipsis")
        longest = max((end - start for start, end in totals.all_bouts), default=0.0)
        upright = (
            totals.seconds_by_posture[Posture.STANDING] + totals.seconds_by_posture[Posture.WALKING]
        )
        rows = (
            ("Sitting", duration(totals.sitting_s), f" in {plural(len(totals.all_bouts), 'bout')}"),
            ("Upright", duration(upright), ""),
            ("Breaks", str(totals.breaks), f" · longest bout {duration(longest)}"),
            ("Nudges", str(totals.nudges_shown), f" · {totals.nudges_followed} followed"),
        )
        for name, figure, note in rows:
            out.append(f"{name:<9}", label)
            out.append(figure, value)
            out.append(note + "\n", label)
        # The totals keep zones only while sitting or standing (not walking, not lying): say so.
        out.append("Tilt while sitting or standing\n", label)
        zone_total = sum(totals.seconds_by_zone.values())
        bar_width = max(width - 15 - 6, 4)
        for i, zone in enumerate(TiltZone):
            seconds = totals.seconds_by_zone[zone]
            out.append(f"{ZONE_WORDS[zone]:<15}"[:15], label)
            filled, empty = bar(seconds / zone_total if zone_total else 0.0, bar_width)
            out.append(filled, self.style_of("totals--bar"))
            out.append(empty, self.style_of("totals--empty"))
            out.append(f"{short_duration(seconds):>6}", value)
            if i < len(TiltZone) - 1:
                out.append("\n")
        self._hours(out, state, bar_width)
        return out

    def _hours(self, out: Text, state: DashboardState, bar_width: int) -> None:
        """Sitting per hour, the latest hours first to go, where the panel is tall enough."""
        room = self.content_size.height - _FIXED_LINES - 2  # a blank line and the heading
        hours = sorted(state.live.totals.sitting_by_hour.items())[-room:] if room > 0 else []
        if not hours:
            return
        label = self.style_of("totals--label")
        out.append("\n\nSitting per hour", label)
        for start, seconds in hours:
            out.append(f"\n{state.policy.local_time(start):%H:%M}{'':<10}", label)
            filled, empty = bar(seconds / 3600.0, bar_width)
            out.append(filled, self.style_of("totals--bar"))
            out.append(empty, self.style_of("totals--empty"))
            out.append(f"{short_duration(seconds):>6}", self.style_of("totals--value"))
