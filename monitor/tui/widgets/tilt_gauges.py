"""Sagittal and frontal tilt as two horizontal gauges, the neutral zone marked on each."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text

from monitor.activity import Posture
from monitor.pipeline import MountingSource
from monitor.tui.format import ZONE_WORDS, angle
from monitor.tui.state import DashboardState
from monitor.tui.widgets.panel import LivePanel

SAGITTAL_RANGE = 30.0  # ± degrees shown
FRONTAL_RANGE = 20.0


class TiltGauges(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "gauge--label",
        "gauge--value",
        "gauge--scale",
        "gauge--neutral",
        "gauge--marker",
        "gauge--marker-out",
        "gauge--hint",
        "gauge--warn",
    }
    DEFAULT_CSS = """
    TiltGauges > .gauge--label { text-style: bold; }
    TiltGauges > .gauge--value { text-style: bold; }
    TiltGauges > .gauge--scale { color: $text-muted; }
    TiltGauges > .gauge--neutral { color: $success; }
    TiltGauges > .gauge--marker { color: $text; text-style: bold; }
    TiltGauges > .gauge--marker-out { color: $warning; text-style: bold; }
    TiltGauges > .gauge--hint { color: $text-muted; }
    TiltGauges > .gauge--warn { color: $text-warning; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, title="Tilt")
        self._shown_seq = -1
        # Called with (received_at of the newest sample shown, now) on each redraw with news.
        self.latency_probe: Callable[[float, float], None] | None = None
        self._pending_received_at: float | None = None

    def show(self, state: DashboardState) -> bool:
        shown = super().show(state)
        if shown and state.tilt_seq != self._shown_seq:
            self._shown_seq = state.tilt_seq
            self._pending_received_at = state.tilt_received_at
        return shown

    def render(self) -> Text:
        if self._pending_received_at is not None and self.latency_probe is not None:
            self.latency_probe(self._pending_received_at, time.time())
        self._pending_received_at = None
        return super().render()

    def build(self, state: DashboardState) -> Text:
        width = max(self.content_size.width, 20)
        config = state.live.pipeline.posture.config
        snap = state.snapshot
        sitting = snap is not None and snap.posture is Posture.SITTING
        base = config.sitting_baseline_deg if sitting else 0.0
        zone = ZONE_WORDS[snap.zone] if snap is not None else ""
        sag_in = base - config.posterior_deg <= state.sagittal_deg <= base + config.anterior_deg
        fro_in = abs(state.frontal_deg) <= config.lateral_deg
        out = Text(no_wrap=True, overflow="crop")
        self._gauge(
            out,
            width,
            "Sagittal",
            state.sagittal_deg,
            SAGITTAL_RANGE,
            (base - config.posterior_deg, base + config.anterior_deg),
            ("◀ slumped back", "tipped forward ▶"),
            zone if snap is not None and snap.zone.value in ("anterior", "posterior") else "",
            sag_in,
        )
        out.append("\n")
        self._gauge(
            out,
            width,
            "Frontal",
            state.frontal_deg,
            FRONTAL_RANGE,
            (-config.lateral_deg, config.lateral_deg),
            ("◀ left hip low", "right hip low ▶"),
            zone if snap is not None and snap.zone.value.startswith("lateral") else "",
            fro_in,
        )
        out.append_text(self._mounting_hint(state))
        return out

    def _gauge(
        self,
        out: Text,
        width: int,
        name: str,
        value: float,
        span: float,
        neutral: tuple[float, float],
        ends: tuple[str, str],
        zone: str,
        inside: bool,
    ) -> None:
        value_text = angle(value)
        out.append(name, self.style_of("gauge--label"))
        note = f"  {zone}" if zone else ""
        pad = width - len(name) - len(value_text) - len(note)
        out.append(" " * max(pad, 1))
        marker_style = self.style_of("gauge--marker" if inside else "gauge--marker-out")
        out.append(value_text, self.style_of("gauge--value"))
        out.append(note, marker_style)
        out.append("\n")

        def column(deg: float) -> int:
            return round((deg + span) / (2 * span) * (width - 1))

        lo, hi = column(max(neutral[0], -span)), column(min(neutral[1], span))
        zero = column(0.0)
        cells = []
        for i in range(width):
            if i == 0:
                cells.append(("├", "gauge--scale"))
            elif i == width - 1:
                cells.append(("┤", "gauge--scale"))
            elif lo <= i <= hi:
                cells.append(("┿" if i == zero else "━", "gauge--neutral"))
            else:
                cells.append(("┼" if i == zero else "─", "gauge--scale"))
        if math.isfinite(value):
            if value < -span:
                cells[0] = ("◀", "")
            elif value > span:
                cells[-1] = ("▶", "")
            else:
                cells[column(value)] = ("●", "")
        for char, style in cells:
            out.append(char, self.style_of(style) if style else marker_style)
        out.append("\n")
        left, right = ends
        gap = width - len(left) - len(right)
        out.append(f"{left}{' ' * max(gap, 1)}{right}"[:width], self.style_of("gauge--hint"))
        out.append("\n")

    def _mounting_hint(self, state: DashboardState) -> Text:
        source = state.live.pipeline.mounting_source
        if source is None:
            return Text("Waiting for the sensor…", self.style_of("gauge--hint"))
        if source is MountingSource.PROVISIONAL:
            long = "Uncalibrated: front and side may mix (c: calibrate)"
            fits = len(long) <= self.content_size.width
            return Text(
                long if fits else "Uncalibrated (c: calibrate)", self.style_of("gauge--warn")
            )
        if source is MountingSource.AUTOMATIC:
            return Text("Aligned from walking (c: calibrate)", self.style_of("gauge--hint"))
        return Text("Calibrated", self.style_of("gauge--hint"))
