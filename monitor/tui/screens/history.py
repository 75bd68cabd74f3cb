"""The week and the month (`h`): a row per day from the recordings, as `tiltmon report --week`.

The rows come from :func:`monitor.report_history.build_history` in a worker (days not cached
are replayed, which takes a few seconds per recorded hour), so the screen opens at once and says
which day it is replaying.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from monitor.errors import MonitorError
from monitor.recording import sessions_dir
from monitor.report import duration
from monitor.report_history import PERIOD_DAYS, History, averages, build_history


def history_table(history: History) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("day")
    table.add_column("sitting", justify="right")
    table.add_column(">30", justify="right")
    table.add_column(">60", justify="right")
    table.add_column("breaks", justify="right")
    table.add_column("upright", justify="right")
    table.add_column("neutral", justify="right")
    table.add_column("nudges", justify="right")
    for day in reversed(history.days):  # newest first: today on top
        label = f"{day.date:%a %d %b}"
        if not day.sessions:
            table.add_row(Text(label, style="dim"), Text("–", style="dim"))
            continue
        zoned = sum(day.zone_min.values())
        neutral = f"{100 * day.zone_min.get('neutral', 0.0) / zoned:.0f}%" if zoned else "–"
        long_style = "bold red" if day.bouts_over_60_min else ""
        table.add_row(
            label,
            duration(day.sitting_min * 60),
            str(day.bouts_over_30_min),
            Text(str(day.bouts_over_60_min), style=long_style),
            str(day.breaks),
            duration((day.standing_min + day.walking_min) * 60),
            neutral,
            f"{day.nudges_followed}/{day.nudges}",
        )
    return table


class HistoryScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HistoryScreen { align: center middle; }
    HistoryScreen > VerticalScroll {
        width: 78;
        max-width: 98%;
        height: auto;
        max-height: 95%;
        border: round $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    HistoryScreen #history-status { color: $text-muted; }
    HistoryScreen #history-summary { margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "period('week')", "Week"),
        Binding("m", "period('month')", "Month"),
        Binding("escape", "close", "Close"),
        Binding("h", "close", "Close", show=False),
    ]

    def __init__(self, last: dt.date | None = None, period: str = "week") -> None:
        super().__init__()
        self.last = last or dt.date.today()
        self.period = period
        self.history: History | None = None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "History"
            yield Static("", id="history-status")
            yield Static("", id="history-table")
            yield Static("", id="history-summary")

    def on_mount(self) -> None:
        self.action_period(self.period)

    def action_period(self, period: str) -> None:
        self.period = period
        self.history = None
        self.query_one(
            VerticalScroll
        ).border_title = f"History · the {PERIOD_DAYS[period]} days to {self.last:%a %d %b}"
        self._status("reading the recordings…")
        self.run_worker(self._load(period), name="history", exclusive=True, exit_on_error=False)

    async def _load(self, period: str) -> None:
        try:
            history = await build_history(
                sessions_dir(),
                self.last,
                PERIOD_DAYS[period],
                progress=lambda day: self._status(f"replaying {day:%a %d %b}…"),
            )
        except (MonitorError, OSError) as exc:
            self.error = str(exc)
            self._status(f"could not read the history: {exc}")
            return
        if period != self.period:
            return  # the wearer switched meanwhile
        self.history = history
        self._show(history)

    def _status(self, text: str) -> None:
        self.query_one("#history-status", Static).update(text)

    def _show(self, history: History) -> None:
        recorded = history.recorded
        self._status(f"{len(recorded)} of {len(history.days)} days recorded · w week · m month")
        self.query_one("#history-table", Static).update(history_table(history))
        if recorded:
            avg = averages(history)
            summary = (
                f"A recorded day: sitting {duration(avg['sitting_min'] * 60)},"
                f" {avg['breaks']:.1f} breaks, {avg['bouts_over_60_min']:.1f} bouts over an hour."
                "\nnudges: followed by a break / shown · neutral: share of zoned time"
            )
        else:
            summary = "No recordings in these days yet."
        self.query_one("#history-summary", Static).update(summary)

    def action_close(self) -> None:
        self.dismiss()
