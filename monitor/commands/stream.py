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
from typing import TextIO

from monitor.commands.record import recorder_from_args
from monitor.live import LiveStream, live_pipeline, stream_for
from monitor.nudge import NudgeOutcome, NudgeShown
from monitor.pipeline import MountingChange, PipelineStep
from monitor.recording import RecordingTransport, SessionRecorder
from monitor.signals import ended_by_signals
from monitor.stream import MalformedPacket, StreamEvent, StreamGap
from monitor.transport import Transport, open_transport
from monitor.transport.ble import (
    RADIO_ENV_VAR,
    ReconnectPolicy,
    StreamSettings,
    open_virtual_radio,
    scan,
)
from monitor.transport.items import LinkEvent, LinkEventKind


def transport_from_args(args: argparse.Namespace) -> Transport:
    """The transport the sensor options name: the simulator, or a BLE sensor."""
    settings = StreamSettings(rate_hz=args.rate)
    if args.sim is not None:
        from monitor.commands.sim import faults_from_args

        return open_transport(
            f"sim:{args.sim}",
            seed=args.seed,
            model=args.sim_model,
            faults=faults_from_args(args),
            settings=settings,
        )
    target = f"ble:{args.sensor}" if args.sensor else "ble"
    policy = ReconnectPolicy(adapter_gone_s=args.adapter_timeout)
    return open_transport(target, settings=settings, radio=args.radio, policy=policy)


class StatusLine:
    """A readable once-a-second view of the stream for a terminal (or a log, when piped)."""

    def __init__(self, live: LiveStream, out: TextIO) -> None:
        self.live = live
        self.out = out
        self.tty = out.isatty()
        self.sagittal = self.frontal = math.nan

    def on_step(self, step: PipelineStep) -> None:
        if step.tilt is not None and len(step.tilt):
            self.sagittal = float(step.tilt.sagittal_deg[-1])
            self.frontal = float(step.tilt.frontal_deg[-1])
        if step.mounting is not None:
            self._say(f"mounting: {step.mounting.source.value}")
        for nudge in step.nudges:
            if isinstance(nudge, NudgeShown):
                self._say(f"\a{nudge.level.value} nudge: {nudge.reason} {nudge.suggestion.text()}")

    def on_event(self, event: StreamEvent | LinkEvent) -> None:
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


def record_mounting(recorder: SessionRecorder, change: MountingChange) -> None:
    recorder.record_event(
        change.t, "mounting", {"source": change.source.value, "q_PS": change.q_PS.tolist()}
    )


def record_step(recorder: SessionRecorder, step: PipelineStep) -> None:
    """What the pipeline decided goes into the recording beside the raw packets."""
    if step.mounting is not None:
        record_mounting(recorder, step.mounting)
    for event in step.nudges:
        t = event.t_resolved if isinstance(event, NudgeOutcome) else event.t
        recorder.record_event(t, type(event).__name__, dataclasses.asdict(event))


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
    recorder = recorder_from_args(args)
    live = live_pipeline()
    status = None if args.json else StatusLine(live, sys.stdout)
    printer = asyncio.create_task(status.run()) if status is not None else None
    seconds = args.seconds if args.seconds is not None else math.inf
    transport = transport_from_args(args)
    if recorder is not None:
        transport = RecordingTransport(transport, recorder)
        if not args.json:
            print(f"recording to {recorder.path}")
    try:
        async with transport:

            def on_step(step: PipelineStep) -> None:
                if status is not None:
                    status.on_step(step)
                if recorder is not None:
                    record_step(recorder, step)

            await stream_for(
                transport,
                seconds,
                live=live,
                on_event=status.on_event if status else None,
                on_step=on_step,
            )
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
