"""How readable a dashboard picture is: the contrast of every word against the cell behind it.

Reads the SVG Textual exports (``App.export_screenshot``): background cells are ``<rect fill>``
elements and text runs are ``<text class>`` elements whose class names a fill colour. Contrast is
WCAG 2's ratio of relative luminances, from 1 (invisible) to 21 (black on white).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_STYLE = re.compile(r"\.(terminal-(?:\d+-)?r\d+) \{ fill: (#[0-9a-fA-F]{6})")
_RECT = re.compile(
    r'<rect fill="(#[0-9a-fA-F]{6})" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+"'
)
_TEXT = re.compile(
    r'<text class="(terminal-(?:\d+-)?r\d+)" x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)"'
    r' clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>'
)
_ROW_TOP, _ROW_HEIGHT = 1.5, 24.4


@dataclass(frozen=True)
class Word:
    text: str
    row: int
    colour: str
    background: str

    @property
    def contrast(self) -> float:
        return contrast(self.colour, self.background)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def words(svg: str, default_background: str) -> list[Word]:
    """Every run of letters or digits on screen, with its colour and the colour behind it."""
    fills = dict(_STYLE.findall(svg))
    cells: dict[int, list[tuple[float, float, str]]] = {}
    for fill, x, y, width in _RECT.findall(svg):
        row = round((float(y) - _ROW_TOP) / _ROW_HEIGHT)
        cells.setdefault(row, []).append((float(x), float(x) + float(width), fill))
    found = []
    for cls, x, length, line, raw in _TEXT.findall(svg):
        text = html.unescape(raw).replace("\xa0", " ")
        if not any(ch.isalnum() for ch in text) or cls not in fills:
            continue
        row, middle = int(line), float(x) + float(length) / 2
        behind = next(
            (fill for left, right, fill in cells.get(row, []) if left <= middle < right),
            default_background,
        )
        found.append(Word(text.strip(), row, fills[cls], behind))
    return found


_CELL_WIDTH = 12.2


def screen_lines(svg: str) -> list[str]:
    """The picture's text, a line per terminal row, as the wearer reads it."""
    grid: dict[int, dict[int, str]] = {}
    for _cls, x, _length, line, raw in _TEXT.findall(svg):
        column = round(float(x) / _CELL_WIDTH)
        row = grid.setdefault(int(line), {})
        for offset, ch in enumerate(html.unescape(raw).replace("\xa0", " ")):
            row[column + offset] = ch
    lines = []
    for index in range(max(grid, default=-1) + 1):
        cells = grid.get(index, {})
        width = max(cells, default=-1) + 1
        lines.append("".join(cells.get(c, " ") for c in range(width)).rstrip())
    return lines
