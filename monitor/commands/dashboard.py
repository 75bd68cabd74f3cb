"""``tiltmon`` (no command), ``tiltmon dashboard`` and ``tiltmon replay FILE``: the dashboard.

Everything here runs before textual is imported: the sensor is chosen (the one named, else the
one remembered from last time, else any tiltmon sensor in range), the recording is set up like
``tiltmon stream``'s, and only then does :mod:`monitor.tui.app` load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from monitor.commands.record import recorder_from_args
from monitor.commands.stream import transport_from_args
from monitor.config import config_dir
from monitor.private_files import make_private_dirs
from monitor.recording import RecordingTransport
from monitor.signals import ENDING_SIGNALS
from monitor.tui.source import Source

log = logging.getLogger(__name__)

LAST_SENSOR_FILE = "last_sensor.json"
REPLAY_UI_SPEED = 10.0  # the dashboard's replay pace when --speed is not given


def last_sensor_path() -> Path:
    return config_dir() / LAST_SENSOR_FILE


def load_last_sensor() -> dict[str, str] | None:
    """{"name": ..., "address": ...} of the sensor used last time, if any (a bad file: none)."""
    try:
        data = json.loads(last_sensor_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        return None
    return {"name": str(data.get("name", "")), "address": data["address"]}


def remember_sensor(name: str, address: str) -> None:
    """Keep the sensor for next time (atomically; failing to write only loses the memory)."""
    if not address or load_last_sensor() == {"name": name, "address": address}:
        return
    path = last_sensor_path()
    try:
        make_private_dirs(path.parent)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".last_sensor.", delete=False, encoding="utf-8"
        ) as handle:
            json.dump({"name": name, "address": address}, handle)
        os.replace(handle.name, path)
    except OSError as exc:
        log.warning("could not remember the sensor in %s: %s", path, exc)


def source_from_args(args: argparse.Namespace) -> Source:
    """The sensor options' transport, recorded unless --no-record, as a dashboard source."""
    args = copy.copy(args)
    label = "sensor"
    if args.sim is not None:
        label = f"sim:{args.sim}" + (f" ({args.sim_model})" if args.sim_model != "tiltmon" else "")
        if args.sim_speed != 1:
            label += f" ×{args.sim_speed:g}"  # the wearer's time runs fast: say so on screen
    remember = None
    if args.sim is None:
        remember = remember_sensor
        if args.sensor is None and (last := load_last_sensor()) is not None:
            args.sensor = last["address"]  # also what the recording names
            label = last["name"] or last["address"]
        elif args.sensor is not None:
            label = args.sensor
    recorder = recorder_from_args(args)
    transport = transport_from_args(args)
    act_out = getattr(transport, "act_out", None)  # the simulator's wearer takes directions
    if recorder is not None:
        transport = RecordingTransport(transport, recorder)
    return Source(
        transport=transport, label=label, recorder=recorder, remember=remember, act_out=act_out
    )


def replay_source(path: Path, speed: float | None) -> Source:
    """A recording played back through the pipeline with today's settings and calibrations."""
    from monitor.transport.replay import ReplayTransport

    replay = ReplayTransport(path, speed=speed if speed is not None else REPLAY_UI_SPEED)
    return Source(transport=replay, label=path.name, replay=replay, can_calibrate=False)


async def run_app(source: Source, *, notify: bool) -> int:
    from monitor.tui.app import DashboardApp  # textual loads here, and only here
    from monitor.tui.notify import DesktopNotifier

    app = DashboardApp(source, notifier=DesktopNotifier(enabled=notify))
    loop = asyncio.get_running_loop()
    # SIGTERM and SIGHUP (logout, `systemctl stop`) quit as the quit key does: the app closes
    # the source, and with it the recording.
    for signum in ENDING_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, app.exit)
    try:
        await app.run_async()
    finally:
        for signum in ENDING_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    if source.recorder is not None:
        print(f"recorded to {source.recorder.path}")
    if app.state.error is not None:
        print(f"tiltmon: {app.state.error}", file=sys.stderr)
        return 1
    return 0


async def run_dashboard(args: argparse.Namespace) -> int:
    return await run_app(source_from_args(args), notify=not args.no_notify)
