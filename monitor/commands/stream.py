"""``tiltmon stream`` and ``tiltmon scan``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from monitor.live import LiveStream, step_events
from monitor.nudge import NudgeShown
from monitor.pipeline import PipelineStep
from monitor.session import SensorChoice, open_session
from monitor.signals import ended_by_signals
from monitor.stream import MalformedPacket, StreamEvent, StreamGap
from monitor.transport import Transport
from monitor.transport.items import LinkEvent, LinkEventKind


def sensor_choice(args: argparse.Namespace, *, use_last_sensor: bool = True) -> SensorChoice:
    """The sensor options (and recording options, where the command has them) as a choice.

    Every command that opens a sensor chooses alike (monitor.transport.choice): the one asked
    for, else the one used last time, else a calibrated one, else the strongest in range."""
    faults = None
    if args.sim is not None:
        from monitor.commands.sim import faults_from_args

        faults = faults_from_args(args)
    from monitor.commands.pair import terminal_passkey

    record = getattr(args, "record", None)
    return SensorChoice(
        sim=args.sim,
        sim_model=getattr(args, "sim_model", "tiltmon"),
        sim_speed=getattr(args, "sim_speed", 1.0),
        seed=args.seed,
        faults=faults,
        sensor=args.sensor,
        rate_hz=args.rate,
        radio=args.radio,
        record=Path(record) if record else None,
        no_record=getattr(args, "no_record", True),
        use_last_sensor=use_last_sensor,
        sim_open_link=getattr(args, "sim_open_link", False),
        sim_passkey=getattr(args, "sim_passkey", None),
        passkey=terminal_passkey if sys.stdin.isatty() else None,
        adapter_gone_s=getattr(args, "adapter_timeout", None),
    )


class StatusLine:
    """A readable once-a-second view of the stream for a terminal (or a log, when piped).

    Angles are the mean over the second since the last line: one reading a second would alias
    to the stride when walking (the same phase of the step every time).
    """

    def __init__(self, live: LiveStream, out: TextIO) -> None:
        self.live = live
        self.out = out
        self.tty = out.isatty()
        self.sagittal = self.frontal = math.nan
        self._sums = [0.0, 0.0]
        self._count = 0

    def on_step(self, step: PipelineStep) -> None:
        for event in step_events(step):
            self._on_event(event)
        if step.tilt is not None and len(step.tilt):
            sagittal, frontal = step.tilt.sagittal_deg, step.tilt.frontal_deg
            finite = np.isfinite(sagittal) & np.isfinite(frontal)
            self._sums[0] += float(sagittal[finite].sum())
            self._sums[1] += float(frontal[finite].sum())
            self._count += int(finite.sum())
        if step.mounting is not None:
            self._say(f"mounting: {step.mounting.source.value}")
        for nudge in step.nudges:
            if isinstance(nudge, NudgeShown):
                self._say(f"\a{nudge.level.value} nudge: {nudge.reason} {nudge.suggestion.text()}")

    def _on_event(self, event: StreamEvent | LinkEvent) -> None:
        if isinstance(event, StreamGap):
            self._say(f"gap: {event.lost_samples} samples lost ({event.reason.value})")
        elif isinstance(event, MalformedPacket):
            self._say(f"malformed packet dropped: {event.error}")
        elif event.kind not in (LinkEventKind.BATTERY, LinkEventKind.DEVICE_INFO):
            detail = f" ({event.detail})" if event.detail else ""
            self._say(f"{event.kind.value}{detail}")

    def _say(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K")
        self.out.write(text + "\n")
        self.out.flush()

    def render(self) -> str:
        """The line for the second just ended (the angles then start a new mean)."""
        if self._count:
            self.sagittal = self._sums[0] / self._count
            self.frontal = self._sums[1] / self._count
            self._sums, self._count = [0.0, 0.0], 0
        stats = self.live.assembler.stats
        link = self.live.link
        snap = self.live.pipeline.latest_snapshot
        battery = f"{link.battery_percent}%" if link.battery_percent is not None else "?"
        state = f"{link.rate_hz} Hz" if link.streaming else "waiting"
        activity = "…"
        if snap is not None:
            activity = f"{snap.posture.value} {snap.zone.value.replace('_', ' ')}"
            if snap.sitting_bout_start is not None:
                activity += f" {snap.sitting_bout_s / 60:.0f} min"
        calibrated = "" if self.live.pipeline.calibrated else " (uncalibrated)"
        line = (
            f"{activity} · sagittal {_angle(self.sagittal)} frontal {_angle(self.frontal)}"
            f"{calibrated}"
            f" · {link.device_name or 'sensor'} {state} · {stats.samples} samples"
            f" · lost {stats.lost} · dup {stats.duplicates} · reconnects {stats.reconnects}"
            f" · battery {battery}"
        )
        width = shutil.get_terminal_size((100, 24)).columns - 1
        return line if not self.tty or len(line) <= width else line[: width - 1] + "…"

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            line = self.render()
            if self.tty:
                self.out.write("\r\x1b[2K" + line)
            else:
                self.out.write(line + "\n")
            self.out.flush()


def _angle(degrees: float) -> str:
    return "–" if math.isnan(degrees) else f"{degrees:+.1f}°"


async def run_stream(args: argparse.Namespace) -> int:
    """Stream until ``--seconds``, Ctrl-C, SIGTERM or SIGHUP; all of them close the same way."""
    with ended_by_signals() as stop:
        try:
            return await _stream(args)
        except asyncio.CancelledError:
            if stop.signum is None:
                raise
            return stop.exit_status


async def _stream(args: argparse.Namespace) -> int:
    session = open_session(sensor_choice(args))
    recorder = session.recorder
    live = session.live_factory()
    status = None if args.json else StatusLine(live, sys.stdout)
    printer = asyncio.create_task(status.run()) if status is not None else None
    seconds = args.seconds if args.seconds is not None else math.inf
    transport = session.transport
    if not args.json and args.sim is not None and args.sim_speed != 1:
        print(_speed_note(args))
    if recorder is not None and not args.json:
        print(f"recording to {recorder.path}")
    try:
        async with transport:
            await session.run(seconds, live, [status] if status is not None else [])
    finally:
        if printer is not None:
            printer.cancel()
        summary = live.summary(overflowed=transport.overflowed)
        if args.json:
            record = {"recording": str(recorder.path)} if recorder is not None else {}
            print(json.dumps(summary.as_dict() | record | _firmware_counters(transport)))
        else:
            if summary.note:
                print(f"\nnote: {summary.note}")
            print(
                f"\n{summary.samples} samples at {summary.rate_hz} Hz over"
                f" {summary.sensor_seconds:.1f} s; lost {summary.lost},"
                f" duplicates {summary.duplicates}, reconnects {summary.reconnects}"
            )
            if recorder is not None:
                print(f"recorded to {recorder.path}")
    return 0


def _speed_note(args: argparse.Namespace) -> str:
    from monitor.transport.sim import rate_for_speed

    rate = rate_for_speed(args.rate, args.sim_speed)
    capped = f" (at {rate} Hz of its time, not {args.rate})" if rate != args.rate else ""
    return f"simulated time runs {args.sim_speed:g}x real time{capped}"


def _firmware_counters(transport: Transport) -> dict[str, object]:
    """For a simulated sensor, what its firmware did (to compare with what arrived)."""
    inner = getattr(transport, "inner", transport)
    peripheral = getattr(inner, "peripheral", None)
    if peripheral is None:
        return {}
    counters = peripheral.counters
    return {
        "firmware": dataclasses.asdict(counters) | {"samples_spanned": counters.samples_spanned}
    }


async def run_scan(args: argparse.Namespace) -> int:
    from monitor.transport.ble import RADIO_ENV_VAR, open_virtual_radio, scan

    radio_spec = args.radio or os.environ.get(RADIO_ENV_VAR)
    if radio_spec:
        radio = await open_virtual_radio(radio_spec)
        try:
            sensors = await scan(args.seconds, backend=radio.scanner_backend)
        finally:
            await radio.close()
    else:
        sensors = await scan(args.seconds)
    if args.json:
        print(json.dumps([dataclasses.asdict(s) for s in sensors]))
    elif not sensors:
        print("no sensors tiltmon knows found")
    else:
        for sensor in sensors:
            print(f"{sensor.address}  {sensor.rssi:4d} dBm  {sensor.name}  ({sensor.protocol})")
    return 0 if sensors else 1
