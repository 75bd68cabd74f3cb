"""``tiltmon service run | install | status``: monitoring with no terminal open."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import os
import shlex
import sys
from importlib import resources
from pathlib import Path

from monitor.commands.stream import sensor_choice
from monitor.config import load_config
from monitor.control import AttachedTransport, ControlError, ControlServer, control_socket_path
from monitor.errors import MonitorError
from monitor.notify import DesktopNotifier
from monitor.service import run_service
from monitor.session import open_session
from monitor.signals import ended_by_signals

UNIT_NAME = "tiltmon.service"


async def run_service_command(args: argparse.Namespace) -> int:
    if args.action == "install":
        return install_unit(args)
    if args.action == "status":
        return await service_status(args)
    return await _run(args)


async def _run(args: argparse.Namespace) -> int:
    logging.getLogger("monitor").setLevel(min(logging.INFO, logging.getLogger().level))
    strict = args.strict or load_config().nudge.strict
    session = open_session(sensor_choice(args, use_last_sensor=True), rebuild_today=True)
    socket_path = Path(args.socket) if args.socket else control_socket_path()

    def ready(server: ControlServer) -> None:
        where = f", recording to {session.recorder.path}" if session.recorder else ""
        print(
            f"tiltmon service: {session.label}{where}; attach with `tiltmon attach`"
            f" (socket {server.path})",
            flush=True,
        )

    seconds = args.seconds if args.seconds is not None else math.inf
    notifier = DesktopNotifier(enabled=not args.no_notify)
    if not notifier.available:
        print("tiltmon service: no notify-send here: nudges go to the log", flush=True)
    with ended_by_signals() as stop:
        try:
            live = await run_service(
                session,
                socket_path=socket_path,
                notifier=notifier,
                seconds=seconds,
                strict=strict,
                on_ready=ready,
            )
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            print(f"tiltmon service: stopped by signal {stop.signum}", flush=True)
            return 0
    summary = live.summary()
    print(
        f"tiltmon service: ended; {summary.samples} samples, lost {summary.lost},"
        f" {summary.activity.get('nudges', 0)} nudges",
        flush=True,
    )
    return 0


async def service_status(args: argparse.Namespace) -> int:
    """Say whether a service runs, what it streams and where it records (exit 1: none)."""
    transport = AttachedTransport(Path(args.socket) if args.socket else None)
    try:
        hello = await transport.connect()
    except ControlError as exc:
        print(str(exc))
        return 1
    finally:
        await transport.__aexit__(None, None, None)
    if args.json:
        print(json.dumps({k: v for k, v in hello.items() if k != "type"}))
        return 0
    started = dt.datetime.fromtimestamp(float(hello["started_at"])).strftime("%Y-%m-%d %H:%M")
    print(
        f"tiltmon service running (pid {hello['pid']}) since {started}: {hello['label']}"
        + (f", recording to {hello['recording']}" if hello.get("recording") else "")
        + (", strict mode" if hello.get("strict") else "")
    )
    return 0


def unit_text(service_args: list[str]) -> str:
    """The systemd user unit, from the template shipped in the package."""
    template = resources.files("monitor.data").joinpath(UNIT_NAME).read_text(encoding="utf-8")
    command = [sys.executable, "-m", "monitor.cli", "service", "run", *service_args]
    return template.replace("@EXEC_START@", shlex.join(command))


def unit_dir() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user"


def install_unit(args: argparse.Namespace) -> int:
    """Write ~/.config/systemd/user/tiltmon.service (never over a different one unless --force)."""
    service_args: list[str] = []
    if args.sensor:
        service_args += ["--sensor", args.sensor]
    if args.no_notify:
        service_args.append("--no-notify")
    if args.strict:
        service_args.append("--strict")
    path = unit_dir() / UNIT_NAME
    text = unit_text(service_args)
    if path.exists() and path.read_text(encoding="utf-8") != text and not args.force:
        raise MonitorError(f"{path} exists and differs: add --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{UNIT_NAME}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path}")
    print("start it now and at every login with:")
    print("  systemctl --user daemon-reload")
    print(f"  systemctl --user enable --now {UNIT_NAME}")
    print("keep it running while logged out:  loginctl enable-linger")
    print("then:  tiltmon attach   (q detaches; the service keeps running)")
    return 0
