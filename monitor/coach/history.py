"""What the coach recorded, over days and weeks: routines done, repetitions, the range test's
figures over time, and whether the exercise a nudge suggested was done afterwards.

Pure: recorded app events go in (``tiltmon coach history`` and ``tiltmon report`` read them from
the session files; nothing needs replaying), a :class:`CoachHistory` and its text come out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.coach import events

FOLLOW_UP_S = 12 * 3600.0  # a suggested exercise done within this counts as following the nudge


@dataclass(frozen=True, slots=True)
class RangePoint:
    t: float
    sagittal_range_deg: float
    frontal_range_deg: float
    neutral_fraction: float
    asymmetry_deg: float


@dataclass(frozen=True, slots=True)
class RoutineDone:
    t: float
    name: str
    repetitions: int
    completed: bool
    steps_done: int
    steps: int


@dataclass(frozen=True, slots=True)
class Suggested:
    t: float
    exercise: str
    done_at: float | None  # when a coached step of that exercise was done after it


@dataclass(slots=True)
class CoachHistory:
    ranges: list[RangePoint] = field(default_factory=list)
    routines: list[RoutineDone] = field(default_factory=list)
    suggestions: list[Suggested] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.ranges or self.routines or self.suggestions)

    def figures(self) -> dict[str, object]:
        followed = [s for s in self.suggestions if s.done_at is not None]
        return {
            "routines": len(self.routines),
            "routines_completed": sum(r.completed for r in self.routines),
            "repetitions": sum(r.repetitions for r in self.routines),
            "range_tests": [
                {
                    "t": p.t,
                    "sagittal_range_deg": p.sagittal_range_deg,
                    "frontal_range_deg": p.frontal_range_deg,
                    "neutral_fraction": p.neutral_fraction,
                    "asymmetry_deg": p.asymmetry_deg,
                }
                for p in self.ranges
            ],
            "nudge_exercises_suggested": len(self.suggestions),
            "nudge_exercises_done": len(followed),
        }


def build_history(app_events: Iterable[tuple[float, str, dict[str, Any]]]) -> CoachHistory:
    """From (t, kind, data) app events of any number of recordings, in any order."""
    history = CoachHistory()
    nudges: list[tuple[float, str]] = []
    done: list[tuple[float, str]] = []  # (t, exercise) of coached steps with something done
    for t, kind, data in sorted(app_events, key=lambda e: e[0]):
        if kind == events.RANGE_TEST:
            history.ranges.append(
                RangePoint(
                    t,
                    float(data["sagittal_range_deg"]),
                    float(data["frontal_range_deg"]),
                    float(data["neutral_fraction"]),
                    float(data["asymmetry_deg"]),
                )
            )
        elif kind == events.ROUTINE:
            steps = data.get("steps", [])
            history.routines.append(
                RoutineDone(
                    t,
                    str(data["routine"]),
                    int(data.get("repetitions", 0)),
                    bool(data.get("completed", False)),
                    sum(s.get("status") == "done" for s in steps),
                    len(steps),
                )
            )
        elif kind == events.STEP:
            if int(data.get("repetitions", 0)) > 0 or float(data.get("seconds_done", 0.0)) > 0:
                done.append((t, str(data["exercise"])))
        elif kind == "NudgeShown":
            exercise = data.get("suggestion", {}).get("exercise", {}).get("name")
            if exercise:
                nudges.append((t, str(exercise)))
    for t, exercise in nudges:
        after = [d for d, name in done if name == exercise and t <= d <= t + FOLLOW_UP_S]
        history.suggestions.append(Suggested(t, exercise, min(after) if after else None))
    return history


def _day(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%a %d %b %H:%M")


def render_history(history: CoachHistory) -> str:
    """The coach's section of a report, in lines of text."""
    if history.empty:
        return "Coach: no range test or routine recorded."
    lines = ["Coach"]
    if history.routines:
        reps = sum(r.repetitions for r in history.routines)
        lines.append(f"  routines: {len(history.routines)}, {reps} repetitions")
        for r in history.routines:
            state = "done" if r.completed else "stopped"
            lines.append(
                f"    {_day(r.t)}  {r.name:14s} {r.repetitions:3d} reps,"
                f" {r.steps_done}/{r.steps} steps in full ({state})"
            )
    if history.ranges:
        lines.append("  pelvic range (forward+back, hitch left+right, neutral, asymmetry):")
        first = history.ranges[0]
        for p in history.ranges:
            change = ""
            if p is not first:
                change = f"  ({p.sagittal_range_deg - first.sagittal_range_deg:+.0f}° since first)"
            lines.append(
                f"    {_day(p.t)}  {p.sagittal_range_deg:4.0f}°  {p.frontal_range_deg:4.0f}°"
                f"  {p.neutral_fraction:4.0%}  {p.asymmetry_deg:+.0f}°{change}"
            )
    if history.suggestions:
        followed = sum(s.done_at is not None for s in history.suggestions)
        lines.append(
            f"  nudge suggestions followed with the coach: {followed} of {len(history.suggestions)}"
        )
        for s in history.suggestions:
            mark = "done" if s.done_at is not None else "not done"
            lines.append(f"    {_day(s.t)}  {s.exercise}: {mark}")
    return "\n".join(lines)
