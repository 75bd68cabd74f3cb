"""``tiltmon`` (no command), ``tiltmon dashboard``, ``tiltmon attach`` and ``tiltmon replay FILE``:
the dashboard.

Everything here runs before textual is imported: the sensor is chosen (the one named, else the
one remembered from last time, else any tiltmon sensor in range), the session is opened as
``tiltmon stream`` opens it (:mod:`monitor.session`), and only then does :mod:`monitor.tui.app`
load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import sys
from pathlib import Path

from monitor.commands.stream import sensor_choice
from monitor.config import config_dir
from monitor.private_files import make_private_dirs
from monitor.session import Session, attach_session, open_session, replay_session
from monitor.signals import ENDING_SIGNALS

log = logging.getLogger(__name__)

REPLAY_UI_SPEED = 10.0  # the dashboard's replay pace when --speed is not given


def dashboard_session(args: argparse.Namespace, *, first_run: bool = False) -> Session:
    """The sensor options' session (recorded unless --no-record); without --sensor, the sensor
    used last time. On the first run a simulated version-2 sensor waits to be paired, as a
    new clip would, so the dashboard shows its pairing step; later runs pair it on first use
    (it was just switched on: its window is open). A passkey is asked on the pairing screen,
    never at the terminal the dashboard draws on."""
    choice = dataclasses.replace(
        sensor_choice(args, use_last_sensor=True), passkey=None, sim_pairs_itself=not first_run
    )
    return open_session(choice, rebuild_today=True)


def dashboard_replay(path: Path, speed: float | None) -> Session:
    return replay_session(path, speed if speed is not None else REPLAY_UI_SPEED)


GUIDE_SEEN_FILE = "guide_seen"


def guide_due() -> bool:
    """True the first time the dashboard opens on a sensor (then never: a marker remembers it)."""
    marker = config_dir() / GUIDE_SEEN_FILE
    if marker.exists():
        return False
    try:
        make_private_dirs(marker.parent)
        marker.touch(mode=0o600)
    except OSError as exc:  # shown again next time: better than never
        log.warning("could not remember that the guide was shown (%s): %s", marker, exc)
    return True


async def run_app(session: Session, *, notify: bool, guide: bool | None = None) -> int:
    """``guide``: show the first-run guide (None: if it is due and this is not a replay)."""
    from monitor.notify import DesktopNotifier
    from monitor.tui.app import DashboardApp  # textual loads here, and only here

    if guide is None:
        guide = session.replay is None and guide_due()
    app = DashboardApp(session, notifier=DesktopNotifier(enabled=notify), guide=guide)
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
    if session.recorder is not None:
        print(f"recorded to {session.recorder.path}")
    if app.state.error is not None:
        print(f"tiltmon: {app.state.error}", file=sys.stderr)
        return 1
    return 0


async def run_dashboard(args: argparse.Namespace) -> int:
    if args.attach:
        return await run_attach(None)
    first_run = guide_due()
    session = dashboard_session(args, first_run=first_run)
    return await run_app(session, notify=not args.no_notify, guide=first_run)


async def run_attach(socket: str | None) -> int:
    """The dashboard on the running service: no sensor, no recording of its own."""
    session = await attach_session(Path(socket) if socket else None)
    return await run_app(session, notify=False)  # the service sends the notifications
