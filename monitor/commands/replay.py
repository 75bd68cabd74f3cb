"""``tiltmon replay FILE``: play a recorded session back on the dashboard, or headless."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from monitor.recording import SUFFIX, sessions_dir
from monitor.recording.summary import ReplaySummary, summarise_replay
from monitor.transport.replay import ReplayTransport


def resolve_recording(name: str) -> Path:
    """A path as given, else a file of that name (with or without suffix) in the sessions dir."""
    path = Path(name)
    if path.exists() or path.parent != Path("."):
        return path
    for candidate in (sessions_dir() / name, sessions_dir() / f"{name}{SUFFIX}"):
        if candidate.exists():
            return candidate
    return path


async def run_replay(args: argparse.Namespace) -> int:
    if not args.headless:
        from monitor.commands.dashboard import dashboard_replay, run_app

        # The dashboard plays at 10x unless --speed says otherwise (docs/dashboard.md).
        return await run_app(
            dashboard_replay(resolve_recording(args.file), args.speed), notify=False
        )
    transport = ReplayTransport(resolve_recording(args.file), speed=args.speed)
    async with transport:
        summary = await summarise_replay(transport)
    if args.json:
        import json

        print(json.dumps(summary.as_dict()))
    else:
        print(render(summary))
    return 0


def render(summary: ReplaySummary) -> str:
    started = dt.datetime.fromtimestamp(summary.started_at).strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        f"{summary.file}: {summary.device or 'unknown device'} via {summary.transport},"
        f" started {started}, {summary.duration_s / 60:.1f} min",
        f"{summary.samples} samples at {summary.rate_hz} Hz over {summary.sensor_seconds:.1f} s;"
        f" lost {summary.lost} in {summary.gaps} gaps, duplicates {summary.duplicates},"
        f" malformed {summary.malformed}, reconnects {summary.reconnects}",
    ]
    activity = summary.activity
    if activity:
        lines.append(
            f"sitting {activity['sitting_min']} min in {activity['bouts']} bouts"
            f" (longest {activity['longest_bout_min']} min, {activity['bouts_over_30_min']} over"
            f" 30 min, {activity['bouts_over_60_min']} over 60), {activity['breaks']} breaks;"
            f" {activity['nudges']} nudges, {activity['nudges_followed_by_break']} followed by a"
            " break"
        )
    if summary.app_events:
        lines.append(
            "app events: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.app_events.items()))
        )
    lines.extend(f"notice: {notice}" for notice in summary.notices)
    return "\n".join(lines)


def warn(text: str) -> None:
    print(f"tiltmon: {text}", file=sys.stderr)
