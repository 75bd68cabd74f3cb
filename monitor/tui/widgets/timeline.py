"""The last hour as a terminal plot: a posture band, and sagittal and frontal tilt in braille.

Drawn here from the per-second snapshots (no plotting library): each braille cell holds 2×4 dots,
so a plot P cells wide shows 2P time slots; each slot draws the range of the angle within it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
from rich.style import Style
from rich.text import Text

from monitor.activity import Posture
from monitor.tui.state import HISTORY_S, DashboardState
from monitor.tui.widgets.panel import LivePanel

GUTTER = 4  # the axis labels on the left
SAGITTAL_SPAN = 30.0
FRONTAL_SPAN = 20.0
# Braille dot bits: [row][column] of a 2-wide, 4-high cell.
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_POSTURES = (
    Posture.SITTING,
    Posture.STANDING,
    Posture.WALKING,
    Posture.LYING,
    Posture.UNKNOWN,
    Posture.NON_WEAR,
)
_LEGEND_WORDS = ("sitting", "standing", "walking", "lying")
_LEGEND_SHORT = ("sit", "stand", "walk", "lie")  # a narrow terminal: 80 columns


def braille_rows(
    lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64], span: float, rows: int
) -> list[str]:
    """Rows of braille for slots with a value range [lo, hi] each (NaN: no data), ±span."""
    slots = len(lo)
    dots = rows * 4
    cells = np.zeros((rows, (slots + 1) // 2), dtype=np.int64)

    def dot_row(v: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        scaled = np.round((span - np.clip(v, -span, span)) / (2 * span) * (dots - 1))
        return scaled.astype(np.int64)

    have = ~np.isnan(lo)
    top = np.zeros(slots, dtype=np.int64)
    bottom = np.zeros(slots, dtype=np.int64)
    top[have] = dot_row(hi[have])
    bottom[have] = dot_row(lo[have])
    for slot in np.flatnonzero(have):
        column = slot % 2
        for d in range(top[slot], bottom[slot] + 1):
            cells[d // 4, slot // 2] |= _DOTS[d % 4][column]
    return ["".join(chr(0x2800 + int(v)) for v in row) for row in cells]


class Timeline(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--axis",
        "timeline--sagittal",
        "timeline--frontal",
        *(f"timeline--{p.value}" for p in _POSTURES),
    }
    DEFAULT_CSS = """
    Timeline > .timeline--axis { color: $text-muted; }
    Timeline > .timeline--sagittal { color: $primary; }
    Timeline > .timeline--frontal { color: $accent; }
    Timeline > .timeline--sitting { color: $secondary; }
    Timeline > .timeline--standing { color: $success; }
    Timeline > .timeline--walking { color: $primary; }
    Timeline > .timeline--lying { color: $accent; }
    Timeline > .timeline--unknown { color: $text-disabled; }
    Timeline > .timeline--non_wear { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, title="Last hour")
        self._key: tuple[object, ...] = ()

    def show(self, state: DashboardState) -> bool:
        # The plot changes once a second (a snapshot), not with every tick.
        last = state.timeline[-1].t if state.timeline else None
        key = (len(state.timeline), last, self.content_size, self.app.theme)
        if key == self._key:
            return True
        shown = super().show(state)
        if shown:
            self._key = key
        return shown

    def _legend(self) -> Text:
        """Every posture's colour, in words as long as the border has room for."""
        room = self.size.width - 4  # the corners and a dash each side
        for names in (_LEGEND_WORDS, _LEGEND_SHORT):
            legend = Text()
            for posture, name in zip(_POSTURES[:4], names, strict=True):
                legend.append("█", self.style_of(f"timeline--{posture.value}"))
                legend.append(f" {name} ")
            if legend.cell_len <= room:
                break
        return legend

    def build(self, state: DashboardState) -> Text:
        self.border_subtitle = self._legend()  # here, not at mount: it follows a theme change
        width = max(self.content_size.width - GUTTER, 8)
        height = max(self.content_size.height, 4)
        plot_rows = height - 2  # the posture band above, the time axis below
        sag_rows = max(1, round(plot_rows * 0.6))
        fro_rows = max(1, plot_rows - sag_rows)
        slots = 2 * width
        points = state.timeline
        axis = self.style_of("timeline--axis")
        out = Text(no_wrap=True, overflow="crop")
        if points:
            now = points[-1].t
            t = np.fromiter((p.t for p in points), float, len(points))
            slot = np.floor((t - (now - HISTORY_S)) / HISTORY_S * slots).astype(np.int64)
            slot = np.clip(slot, 0, slots - 1)
            sag = np.fromiter((p.sagittal_deg for p in points), float, len(points))
            fro = np.fromiter((p.frontal_deg for p in points), float, len(points))
            codes = np.fromiter((_POSTURES.index(p.posture) for p in points), int, len(points))
        else:
            slot = np.zeros(0, dtype=np.int64)
            sag = fro = np.zeros(0)
            codes = np.zeros(0, dtype=np.int64)

        # Posture band: the posture seen most in each cell.
        counts = np.stack(
            [
                np.bincount(slot[codes == i] // 2, minlength=width)[:width]
                for i in range(len(_POSTURES))
            ]
        )
        out.append(" " * GUTTER)
        for cell in range(width):
            if counts[:, cell].sum() == 0:
                out.append(" ")
            else:
                posture = _POSTURES[int(np.argmax(counts[:, cell]))]
                out.append("█", self.style_of(f"timeline--{posture.value}"))
        out.append("\n")

        for values, span, rows, style in (
            (sag, SAGITTAL_SPAN, sag_rows, "timeline--sagittal"),
            (fro, FRONTAL_SPAN, fro_rows, "timeline--frontal"),
        ):
            lo = np.full(slots, np.nan)
            hi = np.full(slots, np.nan)
            ok = ~np.isnan(values)
            np.fmin.at(lo, slot[ok], values[ok])
            np.fmax.at(hi, slot[ok], values[ok])
            labels = _labels(rows, span, "sag" if style.endswith("sagittal") else "fro")
            for label, row in zip(labels, braille_rows(lo, hi, span, rows), strict=True):
                out.append(label, axis)
                out.append(row, self.style_of(style))
                out.append("\n")
        out.append_text(_time_axis(width, axis))
        return out


def _labels(rows: int, span: float, name: str) -> list[str]:
    labels = [" " * GUTTER] * rows
    if rows == 1:
        return [f"{name:<{GUTTER}}"]
    labels[0] = f"{span:+.0f}".ljust(GUTTER)
    labels[-1] = f"{-span:+.0f}".ljust(GUTTER)
    if rows >= 3:
        labels[rows // 2] = f"{name:<{GUTTER}}"
    return labels


def _time_axis(width: int, style: Style) -> Text:
    line = [" "] * (GUTTER + width)
    for minutes in (60, 45, 30, 15, 0):
        label = "now" if minutes == 0 else f"-{minutes}m"
        at = GUTTER + round((1 - minutes / 60) * (width - 1))
        start = min(max(at - len(label) // 2, 0), len(line) - len(label))
        if minutes == 0:
            start = len(line) - len(label)
        if all(c == " " for c in line[max(start - 1, 0) : start + len(label) + 1]):
            line[start : start + len(label)] = label
    return Text("".join(line), style=style)
