"""The current posture and tilt zone, and how long each has lasted."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from monitor.activity import TiltZone
from monitor.tui.format import POSTURE_WORDS, ZONE_WORDS, duration
from monitor.tui.state import DashboardState
from monitor.tui.widgets.panel import LivePanel


class PosturePanel(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "posture--name",
        "posture--zone",
        "posture--zone-out",
        "posture--dim",
    }
    DEFAULT_CSS = """
    PosturePanel > .posture--name { text-style: bold; color: $text-primary; }
    PosturePanel > .posture--zone { color: $text-success; }
    PosturePanel > .posture--zone-out { color: $text-warning; }
    PosturePanel > .posture--dim { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, title="Now")

    def build(self, state: DashboardState) -> Text:
        snap = state.snapshot
        out = Text(no_wrap=True, overflow="ellipsis")
        if snap is None:
            out.append("Waiting for data…", self.style_of("posture--dim"))
            return out
        out.append(POSTURE_WORDS[snap.posture], self.style_of("posture--name"))
        out.append(" · ", self.style_of("posture--dim"))
        zone_style = "posture--zone" if snap.zone is TiltZone.NEUTRAL else "posture--zone-out"
        out.append(ZONE_WORDS[snap.zone], self.style_of(zone_style))
        out.append("\n")
        since = snap.t
        for point in reversed(state.timeline):
            if point.posture is not snap.posture:
                break
            since = point.t
        # Before its first change a zone is "held since" the start of the machine's timeline;
        # show no more than what this dashboard has seen.
        zone_since = max(snap.zone_since, state.timeline[0].t if state.timeline else snap.t)
        out.append(
            f"for {duration(snap.t - since)}, {ZONE_WORDS[snap.zone]} for"
            f" {duration(snap.t - zone_since)}",
            self.style_of("posture--dim"),
        )
        return out
