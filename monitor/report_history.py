"""History: a week's or a month's days side by side, a summary row per day (docs/reports.md).

Each day's figures come from its recordings replayed through the pipeline and combined as the
day report combines them (:func:`monitor.report.build_report`), so the history and the day
report never disagree. Replaying a day takes a while, so each finished day's row is kept in a
cache (``history/days.json`` in the data directory, owner-only) together with the size and
modification time of the recordings it came from; a day is replayed again only when its
recordings changed, and a day still being recorded is never cached.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monitor.activity import TiltZone
from monitor.coach.history import CoachHistory
from monitor.coach.history import build_history as build_coach_history
from monitor.private_files import private_output
from monitor.recording import RecordingError, data_dir, list_sessions
from monitor.recording.reader import Recording, SessionState, session_state
from monitor.recording.summary import summarise_replay
from monitor.report import SessionTimeline, build_report, duration, recorded_decisions
from monitor.transport.replay import ReplayTransport

log = logging.getLogger(__name__)

# 2: coach columns; replays follow the calibrations each session used
CACHE_VERSION = 2
PERIOD_DAYS = {"week": 7, "month": 30}


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One day's row: what a desk worker looks at across a week or a month."""

    day: str  # ISO date (local)
    sessions: int
    covered_min: float  # minutes with posture data
    sitting_min: float
    standing_min: float
    walking_min: float
    bouts: int
    bouts_over_30_min: int
    bouts_over_60_min: int
    longest_bout_min: float
    breaks: int
    nudges: int
    nudges_followed: int
    zone_min: dict[str, float] = field(default_factory=dict)  # sitting or standing, per zone
    # The coach (recorded events, not replayed): routines, their repetitions, range tests, and
    # the sagittal range of the day's last range test (None: no test that day).
    routines: int = 0
    repetitions: int = 0
    range_tests: int = 0
    sagittal_range_deg: float | None = None

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(self.day)

    def row(self) -> dict[str, object]:
        """The CSV row: the figures, a column per tilt zone, then the coach's."""
        figures = {k: v for k, v in asdict(self).items() if k not in ("zone_min", *COACH)}
        zones = {f"{zone.value}_min": self.zone_min.get(zone.value, 0.0) for zone in TiltZone}
        coach = {k: getattr(self, k) for k in COACH}
        if coach["sagittal_range_deg"] is None:
            coach["sagittal_range_deg"] = ""
        return figures | zones | coach


COACH = ("routines", "repetitions", "range_tests", "sagittal_range_deg")


def empty_day(day: dt.date) -> DaySummary:
    return DaySummary(day.isoformat(), 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0.0, 0, 0, 0, {})


CSV_COLUMNS = tuple(empty_day(dt.date(2000, 1, 1)).row())


async def replay_timeline(path: Path) -> SessionTimeline:
    """Replay one recording as fast as possible and keep its per-second activity and nudges."""
    async with ReplayTransport(path, speed=None) as transport:
        assert transport.recording is not None
        info = transport.recording.info
        timeline = SessionTimeline(
            path=path,
            started_at=info.started_at,
            ended_at=info.end,
            transport=info.transport,
            device=info.device.name if info.device is not None else "",
        )
        events = transport.recording.app_events()
        timeline.has_app_events = bool(events)
        timeline.recorded = recorded_decisions([(e.at, e.kind, e.data) for e in events])
        summary = await summarise_replay(transport, listeners=[timeline])
    timeline.notices = list(summary.notices)
    return timeline


def recordings_by_day(
    directory: Path, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, list[Path]], set[dt.date], list[str]]:
    """The recordings started on each day from ``first`` to ``last`` (local time), oldest first;
    the days with one still being recorded; and a note for each unreadable file."""
    days: dict[dt.date, list[Path]] = defaultdict(list)
    live: set[dt.date] = set()
    notes: list[str] = []
    for path, info in list_sessions(directory):
        if isinstance(info, RecordingError):
            notes.append(f"skipping {path.name}: {info}")
            continue
        day = dt.datetime.fromtimestamp(info.started_at).date()
        if first <= day <= last:
            days[day].append(path)
            if session_state(info) is SessionState.LIVE:
                live.add(day)
    return dict(days), live, notes


def recorded_coach_history(paths: Sequence[Path]) -> CoachHistory:
    """The coach's recorded events in these recordings (read, not replayed)."""
    found: list[tuple[float, str, dict[str, Any]]] = []
    for path in paths:
        with Recording(path) as recording:
            found += [(e.at, e.kind, e.data) for e in recording.app_events()]
    return build_coach_history(found)


async def summarise_day(day: dt.date, paths: Sequence[Path]) -> DaySummary:
    """Replay the day's recordings and reduce them to its row."""
    timelines = [await replay_timeline(p) for p in paths]
    coach = recorded_coach_history(paths)
    report = build_report(day.isoformat(), timelines)
    figures = report.totals.summary()
    zone_min = figures["zone_min"]
    assert isinstance(zone_min, dict)
    return DaySummary(
        day=day.isoformat(),
        sessions=len(paths),
        covered_min=round(report.covered_s / 60, 1),
        sitting_min=_number(figures["sitting_min"]),
        standing_min=_number(figures["standing_min"]),
        walking_min=_number(figures["walking_min"]),
        bouts=int(_number(figures["bouts"])),
        bouts_over_30_min=int(_number(figures["bouts_over_30_min"])),
        bouts_over_60_min=int(_number(figures["bouts_over_60_min"])),
        longest_bout_min=_number(figures["longest_bout_min"]),
        breaks=int(_number(figures["breaks"])),
        nudges=int(_number(figures["nudges"])),
        nudges_followed=int(_number(figures["nudges_followed_by_break"])),
        zone_min={str(k): float(v) for k, v in zone_min.items()},
        routines=len(coach.routines),
        repetitions=sum(r.repetitions for r in coach.routines),
        range_tests=len(coach.ranges),
        sagittal_range_deg=coach.ranges[-1].sagittal_range_deg if coach.ranges else None,
    )


def _number(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


# --- the cache -----------------------------------------------------------------------------------


def cache_path() -> Path:
    return data_dir() / "history" / "days.json"


def _fingerprint(paths: Sequence[Path]) -> list[list[object]]:
    """What a day's row depends on: its recordings' names, sizes and modification times."""
    out: list[list[object]] = []
    for path in paths:
        st = path.stat()
        out.append([path.name, st.st_size, st.st_mtime_ns])
    return out


def _load_cache(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the history cache %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    days = data.get("days")
    return days if isinstance(days, dict) else {}


def _save_cache(path: Path, days: dict[str, dict[str, object]]) -> None:
    try:
        with private_output(path) as file:
            json.dump({"version": CACHE_VERSION, "days": days}, file)
    except OSError as exc:  # the cache only saves time: failing to write it loses nothing
        log.warning("could not write the history cache %s: %s", path, exc)


def _from_cache(entry: dict[str, object]) -> DaySummary | None:
    try:
        summary = entry["summary"]
        assert isinstance(summary, dict)
        return DaySummary(**summary)
    except (KeyError, TypeError, AssertionError):
        return None


@dataclass(slots=True)
class History:
    """The rows of a run of days, oldest first; days without recordings have empty rows."""

    first: dt.date
    last: dt.date
    days: list[DaySummary]
    replayed: int = 0  # days replayed now (the others came from the cache)
    notes: list[str] = field(default_factory=list)

    @property
    def recorded(self) -> list[DaySummary]:
        return [d for d in self.days if d.sessions]


async def build_history(
    directory: Path,
    last: dt.date,
    days: int,
    *,
    cache: Path | None = None,
    progress: Callable[[dt.date], None] | None = None,
) -> History:
    """The ``days`` days ending with ``last``: from the cache where the recordings are unchanged,
    else replayed (``progress(day)`` is called before each replay)."""
    first = last - dt.timedelta(days=days - 1)
    by_day, live, notes = recordings_by_day(directory, first, last)
    cache = cache or cache_path()
    cached = _load_cache(cache)
    rows: list[DaySummary] = []
    replayed = 0
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        paths = by_day.get(day, [])
        if not paths:
            rows.append(empty_day(day))
            continue
        key = _fingerprint(paths)
        entry = cached.get(day.isoformat())
        summary = _from_cache(entry) if entry and entry.get("key") == key else None
        if summary is None:
            if progress is not None:
                progress(day)
            summary = await summarise_day(day, paths)
            replayed += 1
            if day not in live:
                cached[day.isoformat()] = {"key": key, "summary": asdict(summary)}
        rows.append(summary)
    if replayed:
        _save_cache(cache, cached)
    return History(first, last, rows, replayed, notes)


# --- output --------------------------------------------------------------------------------------


def history_csv(history: History) -> str:
    """A row per day (days without recordings too: zeros with 0 sessions)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for day in history.days:
        writer.writerow(day.row())
    return out.getvalue()


def write_history_csv(history: History, path: Path) -> Path:
    with private_output(path) as file:
        file.write(history_csv(history))
    return path


def averages(history: History) -> dict[str, float]:
    """Per recorded day: what the summary line and the dashboard show."""
    recorded = history.recorded
    n = len(recorded) or 1
    return {
        "sitting_min": sum(d.sitting_min for d in recorded) / n,
        "breaks": sum(d.breaks for d in recorded) / n,
        "bouts_over_60_min": sum(d.bouts_over_60_min for d in recorded) / n,
    }


def render_history(history: History) -> str:
    """The days as a table, then the averages over the days with recordings."""
    lines = [
        f"{history.first:%a %d %b} – {history.last:%a %d %b %Y}:"
        f" {len(history.recorded)} of {len(history.days)} days recorded",
        "",
        f"{'day':<10}  {'sitting':>10}  {'>30':>3}  {'>60':>3}  {'breaks':>6}  {'upright':>10}"
        f"  {'neutral':>7}  {'nudges':>8}  {'coach':>5}",
    ]
    for d in history.days:
        if not d.sessions:
            lines.append(f"{d.date:%a %d %b}  {'–':>10}")
            continue
        upright = (d.standing_min + d.walking_min) * 60
        zoned = sum(d.zone_min.values())
        neutral = f"{100 * d.zone_min.get('neutral', 0.0) / zoned:.0f} %" if zoned else "–"
        lines.append(
            f"{d.date:%a %d %b}  {duration(d.sitting_min * 60):>10}  {d.bouts_over_30_min:>3}"
            f"  {d.bouts_over_60_min:>3}  {d.breaks:>6}  {duration(upright):>10}  {neutral:>7}"
            f"  {d.nudges_followed:>3} / {d.nudges:<2}  {d.repetitions or '–':>5}"
        )
    if history.recorded:
        avg = averages(history)
        lines += [
            "",
            f"a recorded day: sitting {duration(avg['sitting_min'] * 60)},"
            f" {avg['breaks']:.1f} breaks, {avg['bouts_over_60_min']:.1f} bouts over 60 min",
        ]
    lines.append("(nudges: followed by a break / shown; neutral: share of zoned time;")
    lines.append(" coach: repetitions done in guided routines)")
    return "\n".join(lines)
