"""``tiltmon report [FILE | --day DATE]``: the day's figures in the terminal, its timeline as PNG.

The figures come from replaying the recordings through today's pipeline (the single source of
truth), not from what the app noted live.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from monitor.coach.history import CoachHistory, build_history, render_history
from monitor.commands.replay import resolve_recording
from monitor.errors import MonitorError
from monitor.private_files import check_output
from monitor.recording import RecordingError, list_sessions, sessions_dir
from monitor.recording.reader import Recording
from monitor.recording.summary import summarise_replay
from monitor.report import DayReport, SessionTimeline, build_report, render_text
from monitor.transport.replay import ReplayTransport


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
        summary = await summarise_replay(transport, on_step=timeline.on_step)
    timeline.notices = list(summary.notices)
    return timeline


def parse_day(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise MonitorError(f"--day {text!r} is not a date like 2026-11-20") from exc


def sessions_of_day(day: dt.date, directory: Path) -> list[Path]:
    """The recordings that started on ``day`` (local time), oldest first."""
    found: list[Path] = []
    for path, info in list_sessions(directory):
        if isinstance(info, RecordingError):
            print(f"tiltmon: skipping {path.name}: {info}", file=sys.stderr)
        elif dt.datetime.fromtimestamp(info.started_at).date() == day:
            found.append(path)
    return found


async def run_report(args: argparse.Namespace) -> int:
    if args.file is not None and args.day is not None:
        raise MonitorError("give a FILE or --day, not both")
    if args.file is not None:
        path = resolve_recording(args.file)
        if not path.is_file():
            raise MonitorError(f"{path}: no such recording")
        paths, title = [path], path.name
        png = path.with_name(f"{path.stem}.report.png")
    else:
        day = parse_day(args.day)
        directory = sessions_dir()
        paths, title = sessions_of_day(day, directory), day.isoformat()
        if not paths:
            raise MonitorError(f"no sessions recorded on {day.isoformat()} (in {directory})")
        png = directory / f"{day.isoformat()}.report.png"
    if not args.no_png:
        # The timeline image is regenerated at will, so an existing one is replaced; never a
        # recording, nor a folder.
        check_output(Path(args.png) if args.png else png, inputs=paths, force=True)
    timelines = [await replay_timeline(p) for p in paths]
    report = build_report(title, timelines)
    drawn = None
    if not args.no_png and report.snapshots:
        from monitor.report_png import draw_day

        drawn = draw_day(report, Path(args.png) if args.png else png)
    coach = coach_history(paths)
    if args.json:
        figures = {**report.figures(), "coach": coach.figures()}
        print(json.dumps({**figures, "png": str(drawn) if drawn else None}))
    else:
        print(render_text(report))
        if not coach.empty:
            print()
            print(render_history(coach))
        for timeline in timelines:
            for notice in timeline.notices:
                print(f"notice: {timeline.path.name}: {notice}")
        if drawn is not None:
            print(f"\ntimeline: {drawn}")
    return 0 if report.snapshots else 1


def coach_history(paths: list[Path]) -> CoachHistory:
    """The coach's recorded events in these recordings (read, not replayed)."""
    found: list[tuple[float, str, dict[str, Any]]] = []
    for path in paths:
        with Recording(path) as recording:
            found += [(e.at, e.kind, e.data) for e in recording.app_events()]
    return build_history(found)


def report_for(paths: list[Path], title: str) -> DayReport:
    """The report of some recordings, for scripts and tests."""
    import asyncio

    async def collect() -> list[SessionTimeline]:
        return [await replay_timeline(p) for p in paths]

    return build_report(title, asyncio.run(collect()))
