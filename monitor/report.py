"""Day reports: the figures of one session or one day, from the replayed activity stream.

Pure: the snapshots and nudge events a replay produced go in (``tiltmon report`` collects them by
replaying the recordings through the pipeline, so a report improves when the algorithms do); a
:class:`DayReport` and its text rendering come out. What the wearer was actually shown during
the session (the nudges, snoozes and dismissals recorded as they happened) is reported apart
from the replay, and the replay's nudges are labelled as what today's algorithm would say: the
two differ when settings, calibrations or the algorithm changed since. Totals come from
:class:`monitor.totals.ActivityTotals`, the same accounting the live screen uses. The PNG is drawn
by :mod:`monitor.report_png`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.nudge import FOLLOW_WINDOW_S, NudgeEvent, NudgeOutcome, NudgeShown
from monitor.pipeline import PipelineStep
from monitor.totals import MAX_STEP_S, ActivityTotals

BAR_CHARS = " ▏▎▍▌▋▊▉█"  # eighths of a character cell


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """A nudge decision as the session recorded it when it happened."""

    t: float
    kind: str  # "shown", "snoozed", "dismissed", "break" (followed), "sat on" (not followed)
    detail: str = ""  # for a nudge shown: its level and reason; for a snooze: until when
    level: str = ""  # a nudge shown: gentle, firm or tilt


def recorded_decisions(
    events: Sequence[tuple[float, str, Mapping[str, Any]]],
) -> list[RecordedDecision]:
    """The nudge decisions among a recording's app events ``(at, kind, data)``, in time order.

    The app records each as the nudge event's fields (``NudgeShown``, ``NudgeSnoozed``,
    ``NudgeDismissed``, ``NudgeOutcome``); anything else, or a malformed one, is skipped.
    """
    found: list[RecordedDecision] = []
    for at, kind, data in events:
        try:
            if kind == "NudgeShown":
                level, reason = str(data["level"]), str(data.get("reason", ""))
                t = float(data["t"])
                found.append(RecordedDecision(t, "shown", f"{level}: {reason}", level))
            elif kind == "NudgeSnoozed":
                until = float(data["until"])
                found.append(
                    RecordedDecision(float(data["t"]), "snoozed", f"until {_clock(until)}")
                )
            elif kind == "NudgeDismissed":
                found.append(RecordedDecision(float(data["t"]), "dismissed"))
            elif kind == "NudgeOutcome":
                word = "break" if data["followed"] else "sat on"
                nudge = f"the {_clock(float(data['t_nudge']))} nudge"
                found.append(RecordedDecision(float(data.get("t_resolved", at)), word, nudge))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(found, key=lambda d: d.t)


@dataclass(slots=True)
class SessionTimeline:
    """What one recording's replay gave, reduced to what a report needs (a row a second)."""

    path: Path
    started_at: float  # host wall clock, s
    ended_at: float  # the last moment the recording covers
    transport: str = ""
    device: str = ""
    snapshots: list[ActivitySnapshot] = field(default_factory=list)
    nudges: list[NudgeEvent] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    mountings: list[tuple[float, str]] = field(default_factory=list)  # (t, MountingSource value)
    recorded: list[RecordedDecision] = field(default_factory=list)  # as it happened
    has_app_events: bool = False  # the app that recorded it noted its decisions

    def on_step(self, step: PipelineStep) -> None:
        """A step listener: ``summarise_replay(..., listeners=[timeline])``."""
        self.snapshots.extend(step.snapshots)
        self.nudges.extend(step.nudges)
        if step.mounting is not None:
            self.mountings.append((step.mounting.t, step.mounting.source.value))

    def provisional_until(self) -> float | None:
        """When a proper mounting replaced the provisional one (posture before it is a guess);
        the session's end if none did; None if it never ran on a provisional mounting."""
        if not any(source == "provisional" for _, source in self.mountings):
            return None
        later = [t for t, source in self.mountings if source != "provisional"]
        return min(later) if later else self.ended_at


@dataclass(frozen=True, slots=True)
class Gap:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class DayReport:
    title: str  # what the report covers: a date, or a file's name
    sessions: tuple[SessionTimeline, ...]
    totals: ActivityTotals
    gaps: tuple[Gap, ...]  # no data: between sessions, or lost within one
    nudges: tuple[NudgeShown, ...]  # what today's algorithm gives on the replay
    outcomes: dict[float, bool]  # nudge time -> a break followed within FOLLOW_WINDOW_S
    # The seconds of the day once, in time order: where sessions overlap, the earlier one's.
    timeline: tuple[ActivitySnapshot, ...] = ()
    overlaps: tuple[str, ...] = ()  # sessions whose time another already covered

    @property
    def start(self) -> float:
        return min((s.started_at for s in self.sessions), default=0.0)

    @property
    def end(self) -> float:
        return max((s.ended_at for s in self.sessions), default=0.0)

    @property
    def snapshots(self) -> list[ActivitySnapshot]:
        return list(self.timeline)

    @property
    def recorded(self) -> list[RecordedDecision]:
        return sorted((d for s in self.sessions for d in s.recorded), key=lambda d: d.t)

    @property
    def covered_s(self) -> float:
        """Seconds with posture data (a second's step counts unless it spans a gap)."""
        return sum(self.totals.seconds_by_posture.values())

    @property
    def bouts(self) -> list[tuple[float, float]]:
        return self.totals.all_bouts

    def figures(self) -> dict[str, object]:
        """The report as JSON-ready numbers (minutes rounded to 0.1)."""
        summary = self.totals.summary()
        lengths = [end - start for start, end in self.bouts]
        return {
            "title": self.title,
            "sessions": [str(s.path) for s in self.sessions],
            "start": self.start,
            "end": self.end,
            "covered_min": round(self.covered_s / 60, 1),
            **summary,
            "median_bout_min": round(statistics.median(lengths) / 60, 1) if lengths else 0.0,
            "bout_list": [[round(a, 3), round(b, 3)] for a, b in self.bouts],
            "nudges_resolved": self.totals.nudges_resolved,
            **wear_figures(self),
            "gaps": [[round(g.start, 3), round(g.end, 3)] for g in self.gaps],
            "sitting_min_by_hour": {
                _clock(hour): round(s / 60, 1) for hour, s in sorted(self.sitting_by_hour.items())
            },
            "recorded": [
                {"t": round(d.t, 3), "kind": d.kind, "detail": d.detail} for d in self.recorded
            ],
            "overlaps": list(self.overlaps),
        }

    @property
    def sitting_by_hour(self) -> dict[float, float]:
        return dict(self.totals.sitting_by_hour)


def local_hour_start(t: float) -> float:
    """The start of the local hour ``t`` falls in (the computer's time zone)."""
    moment = dt.datetime.fromtimestamp(t).replace(minute=0, second=0, microsecond=0)
    return moment.timestamp()


def build_report(
    title: str,
    sessions: Sequence[SessionTimeline],
    *,
    hour_of: Callable[[float], float] = local_hour_start,
) -> DayReport:
    """Combine sessions (in time order) into one report; each one's open bout ends with it.

    Sessions may overlap (two recordings running at once, a clock set wrong): each second is
    counted once, from the session that covered it first, so the timeline stays in time order
    and nothing is counted twice.
    """
    ordered = sorted(sessions, key=lambda s: s.started_at)
    totals = ActivityTotals(hour_of=hour_of)
    gaps: list[Gap] = []
    shown: list[NudgeShown] = []
    outcomes: dict[float, bool] = {}
    kept: list[ActivitySnapshot] = []
    overlaps: list[str] = []
    last_t: float | None = None
    for session in ordered:
        covered = last_t if last_t is not None else -math.inf
        fresh = [snap for snap in session.snapshots if snap.t > covered]
        if len(fresh) < len(session.snapshots):
            overlaps.append(session.path.name)
        for snap in fresh:
            if last_t is not None and snap.t - last_t > MAX_STEP_S:
                gaps.append(Gap(last_t, snap.t))
            last_t = snap.t
            totals.add_snapshot(snap)
            kept.append(snap)
        for event in session.nudges:
            if _event_time(event) <= covered:
                continue  # decided on seconds another session already reported
            totals.add_nudge_event(event)
            if isinstance(event, NudgeShown):
                shown.append(event)
            elif isinstance(event, NudgeOutcome):
                outcomes[event.t_nudge] = event.followed
        totals.end_stream()
    return DayReport(
        title,
        tuple(ordered),
        totals,
        tuple(gaps),
        tuple(shown),
        outcomes,
        timeline=tuple(kept),
        overlaps=tuple(overlaps),
    )


def _event_time(event: NudgeEvent) -> float:
    return event.t_nudge if isinstance(event, NudgeOutcome) else event.t


# --- text ------------------------------------------------------------------------------------

_ZONE_NAMES = {
    TiltZone.NEUTRAL: "neutral",
    TiltZone.ANTERIOR: "anterior (forward)",
    TiltZone.POSTERIOR: "posterior (slumped)",
    TiltZone.LATERAL_LEFT: "left hip low",
    TiltZone.LATERAL_RIGHT: "right hip low",
}


def duration(seconds: float) -> str:
    """``5 h 02 min``, ``41 min``, ``0 min``: rounded to the minute."""
    minutes = round(seconds / 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` (0..1) of ``width`` cells, in eighth-cell steps."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (BAR_CHARS[rest] if rest else "")).ljust(width)


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%H:%M")


def _day_words(report: DayReport) -> str:
    if not report.sessions:
        return report.title
    start = dt.datetime.fromtimestamp(report.start)
    return f"{start:%A} {start.day} {start:%B %Y}"


def headline(report: DayReport) -> str:
    """One line of totals, for the PNG's title and the text's first line."""
    t = report.totals
    lengths = [end - start for start, end in report.bouts]
    over60 = sum(s > 3600 for s in lengths)
    return (
        f"sat {duration(t.sitting_s)} in {_count(len(lengths), 'bout')}"
        + (f" ({over60} over 60 min)" if over60 else "")
        + f" · {_count(t.breaks, 'break')} · {_nudge_words(report)}"
    )


def _nudge_words(report: DayReport) -> str:
    """The nudges the wearer was shown if the sessions recorded them, else today's algorithm's."""
    t = report.totals
    replayed = _count(t.nudges_shown, "nudge") + (
        f" ({t.nudges_followed} followed)" if t.nudges_shown else ""
    )
    if not any(s.has_app_events for s in report.sessions):
        return f"{replayed} by today's algorithm"
    shown = sum(d.kind == "shown" for d in report.recorded)
    return f"{_count(shown, 'nudge')} shown (today's algorithm: {t.nudges_shown})"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(report: DayReport, *, width: int = 24) -> str:
    """The report for a terminal: aligned figures, small bar charts in Unicode blocks."""
    t = report.totals
    covered = report.covered_s
    lines: list[str] = []
    if not report.sessions or covered <= 0:
        lines.append(f"tiltmon report — {report.title}: no posture data")
        return "\n".join(lines)
    n = len(report.sessions)
    lines.append(f"tiltmon report — {_day_words(report)}")
    lines.append(
        f"{n} session{'s' if n > 1 else ''}, {_clock(report.start)}–{_clock(report.end)},"
        f" {duration(covered)} with data"
        + (
            f", {len(report.gaps)} gap{'s' if len(report.gaps) > 1 else ''}"
            f" ({duration(sum(g.seconds for g in report.gaps))})"
            if report.gaps
            else ""
        )
    )
    lines.append("")

    def row(label: str, seconds: float, total: float, *, show_bar: bool = True) -> str:
        share = seconds / total if total > 0 else 0.0
        drawn = f"  {bar(share, width)}" if show_bar else ""
        return f"  {label:<20}{duration(seconds):>12}{drawn}  {share * 100:3.0f} %"

    lines.append("Posture")
    for posture in (Posture.SITTING, Posture.STANDING, Posture.WALKING, Posture.LYING):
        lines.append(row(posture.value, t.seconds_by_posture[posture], covered))
    unknown = t.seconds_by_posture[Posture.UNKNOWN]
    if unknown >= 60:
        lines.append(row("unknown", unknown, covered))
    lines.append("")
    lines.extend(wear_lines(report, row))

    lengths = [end - start for start, end in report.bouts]
    lines.append("Sitting bouts")
    lines.append(f"  {'bouts':<20}{len(lengths):>12}")
    if lengths:
        lines.append(f"  {'longest':<20}{duration(max(lengths)):>12}")
        lines.append(f"  {'median':<20}{duration(statistics.median(lengths)):>12}")
    lines.append(f"  {'over 30 min':<20}{sum(s > 1800 for s in lengths):>12}")
    lines.append(f"  {'over 60 min':<20}{sum(s > 3600 for s in lengths):>12}")
    lines.append(f"  {'breaks (≥ 1 min up)':<20}{t.breaks:>12}")
    if lengths:
        spans = [f"{_clock(a)}–{_clock(b)} {duration(b - a)}" for a, b in report.bouts]
        lines.extend(_wrap("  ", spans, 88))
    lines.append("")

    zoned = sum(t.seconds_by_zone.values())
    lines.append("Pelvic tilt (sitting and standing)")
    for zone in TiltZone:
        lines.append(row(_ZONE_NAMES[zone], t.seconds_by_zone[zone], zoned))
    lines.append("")

    lines.extend(_what_happened(report))
    lines.append("Nudges today's settings and algorithm would give (replayed, not what was shown)")
    lines.append(f"  {'would give':<20}{t.nudges_shown:>12}")
    if t.nudges_shown:
        window = round(FOLLOW_WINDOW_S / 60)
        share = t.nudges_followed / t.nudges_resolved if t.nudges_resolved else 0.0
        lines.append(
            f"  {f'break within {window} min':<20}{t.nudges_followed:>12}"
            f"  of {t.nudges_resolved} resolved ({share * 100:.0f} %)"
        )
        for nudge in report.nudges:
            followed = report.outcomes.get(nudge.t)
            mark = {True: "✓ break", False: "✗ sat on", None: "· open"}[followed]
            lines.append(
                f"    {_clock(nudge.t)}  {nudge.level.value:<7} after {nudge.bout_min:3.0f} min"
                f"  {mark}"
            )
    lines.append("")

    for session in report.sessions:
        until = session.provisional_until()
        if until is not None:
            lines.append(
                f"note: {session.path.name}: no calibration profile, so posture until"
                f" {_clock(until)} rests on a provisional mounting (run `tiltmon calibrate`)"
            )
    for name in report.overlaps:
        lines.append(f"note: {name} overlaps an earlier session: its shared time is counted once")
    if lines[-1].startswith("note:"):
        lines.append("")

    hours = sorted(report.sitting_by_hour.items())
    if hours:
        lines.append("Sitting per hour")
        for hour, seconds in _every_hour(hours):
            lines.append(
                f"  {_clock(hour)}  {bar(seconds / 3600, width)}  {round(seconds / 60):>3} min"
            )
    return "\n".join(lines).rstrip()


def _what_happened(report: DayReport) -> list[str]:
    """The decisions the sessions recorded as they happened: what the wearer was shown."""
    lines = ["What happened (recorded during the session)"]
    if not any(s.has_app_events for s in report.sessions):
        lines.append("  nothing recorded: these sessions were not recorded by the dashboard")
        return [*lines, ""]
    recorded = report.recorded
    shown = sum(d.kind == "shown" for d in recorded)
    snoozed = sum(d.kind == "snoozed" for d in recorded)
    dismissed = sum(d.kind == "dismissed" for d in recorded)
    lines.append(f"  {'nudges shown':<20}{shown:>12}")
    lines.append(f"  {'snoozed':<20}{snoozed:>12}")
    lines.append(f"  {'dismissed':<20}{dismissed:>12}")
    for decision in recorded:
        detail = f"  {decision.detail}" if decision.detail else ""
        lines.append(f"    {_clock(decision.t)}  {decision.kind:<9}{detail}")
    return [*lines, ""]


def wear_seconds(report: DayReport) -> tuple[float, float]:
    """``(worn, not worn)`` seconds of the day: a posture known, or the sensor lying still
    off the body (``monitor.nonwear``); unknown seconds and gaps are neither."""
    by_posture = report.totals.seconds_by_posture
    off = by_posture[Posture.NON_WEAR]
    worn = sum(s for p, s in by_posture.items() if p not in (Posture.UNKNOWN, Posture.NON_WEAR))
    return worn, off


def wear_figures(report: DayReport) -> dict[str, float]:
    worn, off = wear_seconds(report)
    return {"wear_min": round(worn / 60, 1), "non_wear_min": round(off / 60, 1)}


def wear_lines(report: DayReport, row: Callable[[str, float, float], str]) -> list[str]:
    """The report's wear section: how much of the time with data the sensor was worn."""
    worn, off = wear_seconds(report)
    total = worn + off
    lines = ["Wear", row("worn", worn, total)]
    if off > 0:
        lines.append(row("not worn", off, total))
    return [*lines, ""]


def _every_hour(hours: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The hours from the first to the last with sitting, the empty ones in between included."""
    by_hour = dict(hours)
    out: list[tuple[float, float]] = []
    hour = hours[0][0]
    last = hours[-1][0]
    while hour <= last + 1:
        out.append((hour, by_hour.get(hour, 0.0)))
        hour += 3600.0  # local hours start 3600 s apart, across DST changes too
    return out


def _wrap(indent: str, words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    current = indent
    for word in words:
        piece = word if current == indent else f", {word}"
        if len(current) + len(piece) > width and current != indent:
            lines.append(current + ",")
            current = indent + word
        else:
            current += piece
    lines.append(current)
    return lines
