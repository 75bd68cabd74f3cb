"""``tiltmon coach``: the range test and the guided routines, headless (docs/coach.md).

``coach range`` and ``coach routine NAME`` stream from the sensor (or ``--sim``: a simulated
wearer doing exactly that) through the live pipeline into the coach's state machines, print the
cues and each repetition as it is counted, record the session with the coach's events, and end
with the result (one JSON line with ``--json``). ``coach list`` shows the routines, ``coach
history`` what was recorded over the last weeks.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from monitor.coach import events
from monitor.coach.history import CoachHistory, build_history, render_history
from monitor.coach.range_test import RangeTest
from monitor.coach.repetitions import Repetition
from monitor.coach.routine import RoutineRun, StepResult
from monitor.coach.session import CoachFeed
from monitor.coach.simulated import RANGE_SCENARIO, routine_scenario
from monitor.errors import MonitorError
from monitor.exercises import Counted, Routine, load_catalogue
from monitor.recording import (
    RecordingError,
    SessionRecorder,
    list_sessions,
    sessions_dir,
)
from monitor.recording.reader import Recording
from monitor.signals import ended_by_signals

AUTO_SIM = "coach"  # bare --sim: the simulated wearer does what the command asks


def add_coach_parser(commands: Any, add_sensor_options: Any, add_recording_options: Any) -> None:
    coach = commands.add_parser(
        "coach", help="the pelvic range test and guided routines, measured by the sensor"
    )
    sub = coach.add_subparsers(dest="coach_command", metavar="WHAT", required=True)
    range_test = sub.add_parser("range", help="the pelvic range test (about a minute)")
    routine = sub.add_parser("routine", help="a guided routine (see `tiltmon coach list`)")
    routine.add_argument("name", metavar="NAME", help="the routine, e.g. anterior")
    for parser, limit in ((range_test, 300.0), (routine, 1800.0)):
        add_sensor_options(parser)
        for action in parser._actions:  # bare --sim: a simulated wearer doing this
            if action.dest == "sim":
                action.const = AUTO_SIM
        parser.add_argument("--json", action="store_true", help="end with one JSON result line")
        parser.add_argument(
            "--seconds", type=float, default=limit, help=f"give up after this long ({limit:.0f})"
        )
        add_recording_options(parser)
    listing = sub.add_parser("list", help="the routines and what the sensor measures in each")
    listing.add_argument("--json", action="store_true")
    history = sub.add_parser("history", help="routines and range tests recorded, over time")
    history.add_argument("--days", type=int, default=28, help="how far back (default 28)")
    history.add_argument("--json", action="store_true")


def routine_named(name: str) -> Routine:
    routines = load_catalogue(_exercises_file()).routines
    if name not in routines:
        raise MonitorError(f"no routine {name!r}; the routines are: {', '.join(routines)}")
    return routines[name]


def _exercises_file() -> Path | None:
    from monitor.config import load_config

    return load_config().nudge.exercises_file


async def run_coach(args: argparse.Namespace) -> int:
    if args.coach_command == "list":
        return _list(args)
    if args.coach_command == "history":
        return _history(args)
    with ended_by_signals() as stop:
        try:
            return await _coach(args)
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            return stop.exit_status


async def _coach(args: argparse.Namespace) -> int:
    from monitor.commands.stream import sensor_choice
    from monitor.live import live_pipeline
    from monitor.session import StepRecorder, open_session

    routine = routine_named(args.name) if args.coach_command == "routine" else None
    if args.sim == AUTO_SIM:
        args.sim = RANGE_SCENARIO if routine is None else routine_scenario(routine)
    machine: RangeTest | RoutineRun = RangeTest() if routine is None else RoutineRun(routine)
    feed = CoachFeed(machine)
    out = _Printer(quiet=args.json)
    session = open_session(sensor_choice(args))
    recorder, transport = session.recorder, session.transport
    step_recorder = StepRecorder(recorder) if recorder is not None else None
    live = live_pipeline()
    if recorder is not None:
        out.say(f"recording to {recorder.path}")
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    last_t = time.time()
    result: dict[str, object] = {}
    async with transport:
        try:
            out.say(feed.prompt())
            async for item in transport:
                step = live.feed(item)
                if step_recorder is not None:
                    step_recorder.on_step(step)
                if step.batch is not None and len(step.batch):
                    last_t = float(step.batch.host_time[-1])
                    deadline = deadline or loop.time() + args.seconds
                snap = live.pipeline.latest_snapshot
                posture = snap.posture if snap is not None else None
                for event in feed.on_step(step, live.pipeline.calibrated, posture):
                    out.event(event, routine)
                    if isinstance(event, StepResult) and recorder is not None and routine:
                        recorder.record_event(*events.step_event(routine.name, event))
                out.say(feed.prompt())
                if feed.finished or (deadline is not None and loop.time() >= deadline):
                    break
        finally:
            # also on Ctrl-C: what was done is recorded before the recording closes
            result = finish_result(machine, last_t, recorder)
            out.close(result, machine)
    if recorder is not None:
        out.say(f"recorded to {recorder.path}")
    if args.json:
        print(json.dumps(result))
    return 0 if result.get("completed") else 1


def finish_result(
    machine: RangeTest | RoutineRun, t: float, recorder: SessionRecorder | None
) -> dict[str, object]:
    """The result as the JSON line holds it; recorded as an event."""
    if isinstance(machine, RangeTest):
        if machine.result is None:
            machine.stop(t, machine.failure or "stopped before the end")
            return {"test": "range", "completed": False, "failure": machine.failure}
        if recorder is not None:
            recorder.record_event(*events.range_event(machine.result))
        return {"test": "range", "completed": True, **machine.result.as_dict()}
    result = machine.stop(t) if not machine.finished else machine.result()
    if recorder is not None:
        if not machine.finished or (result.steps and result.steps[-1].status.value == "stopped"):
            recorder.record_event(*events.step_event(result.routine, result.steps[-1]))
        recorder.record_event(*events.routine_event(result))
    return {
        "routine": result.routine,
        "completed": result.completed,
        # per exercise: {"left": n, "right": n} for a sided one, else the count
        "repetitions": {
            name: sides.get("", 0) if set(sides) <= {""} else sides
            for name, sides in result.counts().items()
        },
        "total_repetitions": result.repetitions,
        "steps": [
            {
                "exercise": s.exercise,
                "status": s.status.value,
                "sides": {
                    side.side or "all": {
                        "asked": side.asked,
                        "done": side.done,
                        "mean_range_deg": _round(side.mean_range_deg),
                        "mean_hold_s": _round(side.mean_hold_s),
                    }
                    for side in s.sides
                },
                "seconds": round(s.seconds_done, 1) if s.measure == "timed" else None,
            }
            for s in result.steps
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class _Printer:
    """Cues and repetitions as lines (nothing but the final JSON with --json)."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.last = ""

    def say(self, text: str) -> None:
        if not self.quiet and text != self.last:
            print(text, flush=True)
            self.last = text

    def event(self, event: Repetition | StepResult, routine: Routine | None) -> None:
        if isinstance(event, Repetition):
            side = f" {event.side}" if event.side else ""
            self.say(
                f"  {event.number}{side}: range {event.range_deg:.0f}°, hold {event.hold_s:.1f} s,"
                f" {event.duration_s:.1f} s"
            )
        else:
            counts = (
                ", ".join(f"{s.side or 'done'} {s.done}/{s.asked}" for s in event.sides)
                or f"{event.seconds_done:.0f} s"
            )
            self.say(f"{event.exercise}: {event.status.value} ({counts})")

    def close(self, result: dict[str, object], machine: RangeTest | RoutineRun) -> None:
        if self.quiet:
            return
        if isinstance(machine, RangeTest):
            if machine.result is not None:
                self.say(machine.result.summary())
            else:
                self.say(f"range test not finished: {machine.failure}")
        else:
            self.say(f"{result['total_repetitions']} repetitions; completed: {result['completed']}")


def _list(args: argparse.Namespace) -> int:
    catalogue = load_catalogue(_exercises_file())
    rows: list[dict[str, object]] = []
    for r in catalogue.routines.values():
        steps = []
        for step in r.steps:
            sensor = step.exercise.sensor
            what = (
                {"measure": "count", "reps": dict(step.reps), "axis": sensor.axis.value}
                if isinstance(sensor, Counted)
                else {"measure": "timed", "seconds": step.seconds, "both_sides": step.both_sides}
            )
            steps.append(
                {"exercise": step.exercise.name, **what, "note": sensor.note if sensor else ""}
            )
        rows.append({"name": r.name, "for": r.kind.value, "title": r.title, "steps": steps})
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        print(f"{row['name']}: {row['title']}")
        for step in row["steps"]:  # type: ignore[attr-defined]
            amount = (
                ", ".join(f"{n} {s}".strip() for s, n in step["reps"].items()) + " reps"
                if step["measure"] == "count"
                else f"{step['seconds']:.0f} s" + (" a side" if step["both_sides"] else "")
            )
            print(f"  {step['exercise']} ({amount}): {step['note']}")
    return 0


def load_history(days: int, directory: Path | None = None) -> CoachHistory:
    """The coach's events of the sessions recorded in the last ``days`` days."""
    since = time.time() - days * 86400.0
    found: list[tuple[float, str, dict[str, Any]]] = []
    for path, info in list_sessions(directory or sessions_dir()):
        if isinstance(info, RecordingError) or info.end < since:
            continue
        try:
            with Recording(path) as recording:
                found += [(e.at, e.kind, e.data) for e in recording.app_events()]
        except RecordingError as exc:
            print(f"tiltmon: skipping {path.name}: {exc}", file=sys.stderr)
    return build_history(found)


def _history(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise MonitorError("--days must be 1 or more")
    history = load_history(args.days)
    if args.json:
        print(json.dumps(history.figures()))
    else:
        since = dt.date.today() - dt.timedelta(days=args.days)
        print(f"since {since.isoformat()}:")
        print(render_history(history))
    return 0 if not history.empty else 1
