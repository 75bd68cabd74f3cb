"""``tiltmon report [FILE | --day DATE]``: the day's figures in the terminal, its timeline as PNG.

The figures come from replaying the recordings through today's pipeline (so they improve with
the algorithms); what the wearer was shown comes from the decisions the session recorded, and the
two are reported apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from monitor.coach.history import render_history
from monitor.commands.replay import resolve_recording
from monitor.errors import MonitorError
from monitor.private_files import check_output
from monitor.recording import RecordingError, list_sessions, sessions_dir
from monitor.report import DayReport, SessionTimeline, build_report, render_text
from monitor.report_history import recorded_coach_history, replay_timeline


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
    if args.week or args.month:
        return await run_history_report(args)
    if args.csv is not None:
        raise MonitorError("--csv goes with --week or --month (a row per day)")
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
    coach = recorded_coach_history(paths)
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


def report_for(paths: list[Path], title: str) -> DayReport:
    """The report of some recordings, for scripts and tests."""
    import asyncio

    async def collect() -> list[SessionTimeline]:
        return [await replay_timeline(p) for p in paths]

    return build_report(title, asyncio.run(collect()))


async def run_history_report(args: argparse.Namespace) -> int:
    """``--week`` / ``--month``: the 7 or 30 days ending with --day (today), a row per day."""
    from monitor.report_history import (
        PERIOD_DAYS,
        build_history,
        render_history,
        write_history_csv,
    )

    if args.file is not None:
        raise MonitorError("--week and --month cover days of sessions, not one FILE")
    period = "week" if args.week else "month"
    last = parse_day(args.day)
    directory = sessions_dir()
    stem = f"{period}-{last.isoformat()}"
    csv_path = Path(args.csv) if args.csv else directory / f"{stem}.history.csv"
    png_path = (
        None if args.no_png else Path(args.png) if args.png else directory / f"{stem}.history.png"
    )
    for out in (csv_path, png_path):
        if out is not None:  # regenerated at will; never a recording, nor a folder
            check_output(out, force=True)

    def progress(day: dt.date) -> None:
        if not args.json:
            print(f"replaying {day.isoformat()}…", file=sys.stderr, flush=True)

    history = await build_history(directory, last, PERIOD_DAYS[period], progress=progress)
    for note in history.notes:
        print(f"tiltmon: {note}", file=sys.stderr)
    if not history.recorded:
        raise MonitorError(
            f"no sessions recorded from {history.first.isoformat()} to {last.isoformat()}"
            f" (in {directory})"
        )
    write_history_csv(history, csv_path)
    drawn = None
    if png_path is not None:
        from monitor.report_history_png import draw_history

        drawn = draw_history(history, png_path)
    if args.json:
        print(
            json.dumps(
                {
                    "first": history.first.isoformat(),
                    "last": history.last.isoformat(),
                    "days": [day.row() for day in history.days],
                    "csv": str(csv_path),
                    "png": str(drawn) if drawn else None,
                }
            )
        )
    else:
        print(render_history(history))
        print(f"\na row per day: {csv_path}")
        if drawn is not None:
            print(f"chart: {drawn}")
    return 0
