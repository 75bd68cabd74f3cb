"""Recording for ``tiltmon stream``, and ``tiltmon sessions``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from monitor.recording import (
    RecordingError,
    SessionRecorder,
    list_sessions,
    new_session_path,
    sessions_dir,
)


def moniker_from_args(args: argparse.Namespace) -> str:
    """The transport moniker the sensor options name (what the session file says it came from)."""
    if args.sim is not None:
        model = getattr(args, "sim_model", "tiltmon")
        return f"sim:{args.sim}" + (f" ({model})" if model != "tiltmon" else "")
    return f"ble:{args.sensor}" if args.sensor else "ble"


def recorder_from_args(args: argparse.Namespace) -> SessionRecorder | None:
    """A recorder for this stream: on by default (also for --sim), off with --no-record."""
    if args.no_record:
        return None
    started_at = time.time()
    path = Path(args.record) if args.record else new_session_path(started_at)
    return SessionRecorder(path, transport=moniker_from_args(args), started_at=started_at)


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}"


async def run_sessions(args: argparse.Namespace) -> int:
    directory = sessions_dir()
    found = list_sessions(directory)
    if args.json:
        rows: list[dict[str, object]] = []
        for path, info in found:
            if isinstance(info, RecordingError):
                rows.append({"file": str(path), "error": str(info)})
                continue
            rows.append(
                {
                    "file": str(path),
                    "started_at": info.started_at,
                    "duration_s": round(info.duration_s, 3),
                    "samples": info.samples,
                    "device": info.device.name if info.device else "",
                    "serial": info.device.serial if info.device else "",
                    "transport": info.transport,
                    "complete": info.complete,
                }
            )
        print(json.dumps(rows))
        return 0
    if not found:
        print(f"no recordings in {directory}")
        return 0
    print(f"{'start':19s}  {'duration':>8s}  {'samples':>9s}  {'device':16s}  file")
    for path, info in found:
        if isinstance(info, RecordingError):
            print(f"{'?':19s}  {'':8s}  {'':9s}  {'':16s}  {path.name}  (unreadable: {info})")
            continue
        device = info.device.name if info.device else "?"
        if info.transport.startswith("sim"):
            device += " (sim)"
        flag = "" if info.complete else "  (ended unexpectedly)"
        print(
            f"{_when(info.started_at):19s}  {_duration(info.duration_s):>8s}"
            f"  {info.samples:9d}  {device:16s}  {path.name}{flag}"
        )
    return 0
