"""``tiltmon sessions``: list, delete and prune the recorded sessions."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from monitor.errors import MonitorError
from monitor.recording import (
    SUFFIX,
    RecordingError,
    SessionInfo,
    list_sessions,
    sessions_dir,
)
from monitor.recording.reader import SessionState, session_state


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}"


async def run_sessions(args: argparse.Namespace) -> int:
    directory = sessions_dir()
    if args.delete or args.prune_empty:
        return _delete_sessions(directory, args.delete, prune_empty=args.prune_empty)
    found = list_sessions(directory)
    if args.json:
        rows: list[dict[str, object]] = []
        for path, info in found:
            if isinstance(info, RecordingError):
                rows.append({"file": str(path), "state": "unreadable", "error": str(info)})
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
                    "state": session_state(info).value,
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
        state = session_state(info)
        flag = "" if state is SessionState.COMPLETE else f"  ({state.value})"
        print(
            f"{_when(info.started_at):19s}  {_duration(info.duration_s):>8s}"
            f"  {info.samples:9d}  {device:16s}  {path.name}{flag}"
        )
    return 0


def _delete_sessions(directory: Path, names: list[str] | None, *, prune_empty: bool) -> int:
    """Delete the named sessions (and, with ``prune_empty``, every empty one); never a live one."""
    doomed: list[Path] = [_session_file(directory, name) for name in names or ()]
    for path in doomed:
        named = _info_or_none(path)
        if named is not None and session_state(named) is SessionState.LIVE:
            raise MonitorError(f"{path.name} is being recorded now: stop that first")
    if prune_empty:
        for path, found in list_sessions(directory):
            if (
                isinstance(found, SessionInfo)
                and session_state(found) is SessionState.EMPTY
                and path not in doomed
            ):
                doomed.append(path)
    for path in doomed:
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            part.unlink(missing_ok=True)
        print(f"deleted {path.name}")
    if not doomed:
        print("no empty sessions")
    return 0


def _session_file(directory: Path, name: str) -> Path:
    """A session of the sessions directory by its file name, with or without the suffix."""
    if Path(name).name != name:
        raise MonitorError(f"{name!r}: give a session's name as `tiltmon sessions` lists it")
    for candidate in (directory / name, directory / f"{name}{SUFFIX}"):
        if candidate.name.endswith(SUFFIX) and candidate.is_file():
            return candidate
    raise MonitorError(f"no session {name!r} in {directory}")


def _info_or_none(path: Path) -> SessionInfo | None:
    from monitor.recording import read_info

    try:
        return read_info(path)
    except RecordingError:
        return None
