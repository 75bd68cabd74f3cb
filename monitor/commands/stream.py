"""``tiltmon stream`` and ``tiltmon scan``."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
from typing import TextIO

import numpy as np

from monitor.commands.record import recorder_from_args
from monitor.live import LiveStream, stream_for
from monitor.recording import RecordingTransport
from monitor.stream import MalformedPacket, SampleBatch, StreamEvent, StreamGap
from monitor.transport import Transport, open_transport
from monitor.transport.ble import RADIO_ENV_VAR, StreamSettings, scan
from monitor.transport.items import LinkEvent, LinkEventKind


def transport_from_args(args: argparse.Namespace) -> Transport:
    """The transport the sensor options name: the simulator, or a BLE sensor."""
    settings = StreamSettings(rate_hz=args.rate)
    if args.sim is not None:
        from monitor.commands.sim import faults_from_args

        return open_transport(
            f"sim:{args.sim}", seed=args.seed, faults=faults_from_args(args), settings=settings
        )
    target = f"ble:{args.sensor}" if args.sensor else "ble"
    return open_transport(target, settings=settings, radio=args.radio)


class StatusLine:
    """A readable once-a-second view of the stream for a terminal (or a log, when piped)."""

    def __init__(self, live: LiveStream, out: TextIO) -> None:
        self.live = live
        self.out = out
        self.tty = out.isatty()
        self.last_acc = np.zeros(3)
        self.last_gyr_dps = 0.0

    def on_batch(self, batch: SampleBatch) -> None:
        self.last_acc = batch.acc.mean(axis=0)
        if batch.gyr is not None:
            self.last_gyr_dps = math.degrees(float(np.linalg.norm(batch.gyr.mean(axis=0))))

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
        # Inclination of the sensor's z axis from vertical: a sign of life, not pelvic tilt.
        norm = float(np.linalg.norm(self.last_acc)) or 1.0
        incline = math.degrees(math.acos(max(-1.0, min(1.0, float(self.last_acc[2]) / norm))))
        battery = f"{link.battery_percent}%" if link.battery_percent is not None else "?"
        state = f"{link.rate_hz} Hz" if link.streaming else "waiting"
        line = (
            f"{link.device_name or 'sensor'} {state} · {stats.samples} samples"
            f" · lost {stats.lost} · dup {stats.duplicates} · reconnects {stats.reconnects}"
            f" · battery {battery} · z {incline:.0f}° from up · turning {self.last_gyr_dps:.1f} °/s"
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


async def run_stream(args: argparse.Namespace) -> int:
    recorder = recorder_from_args(args)
    live = LiveStream()
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
            await stream_for(
                transport,
                seconds,
                live=live,
                on_batch=status.on_batch if status else None,
                on_event=status.on_event if status else None,
            )
    finally:
        if printer is not None:
            printer.cancel()
        summary = live.summary(overflowed=transport.overflowed)
        if args.json:
            record = {"recording": str(recorder.path)} if recorder is not None else {}
            print(json.dumps(summary.as_dict() | record))
        else:
            print(
                f"\n{summary.samples} samples at {summary.rate_hz} Hz over"
                f" {summary.sensor_seconds:.1f} s; lost {summary.lost},"
                f" duplicates {summary.duplicates}, reconnects {summary.reconnects}"
            )
            if recorder is not None:
                print(f"recorded to {recorder.path}")
    return 0


async def run_scan(args: argparse.Namespace) -> int:
    radio_spec = args.radio or os.environ.get(RADIO_ENV_VAR)
    if radio_spec:
        from firmware_sim.radio import VirtualRadio

        async with VirtualRadio(transport=radio_spec) as radio:
            sensors = await scan(args.seconds, backend=radio.scanner_backend)
    else:
        sensors = await scan(args.seconds)
    if args.json:
        print(json.dumps([{"name": s.name, "address": s.address, "rssi": s.rssi} for s in sensors]))
    elif not sensors:
        print("no tiltmon sensors found")
    else:
        for sensor in sensors:
            print(f"{sensor.address}  {sensor.rssi:4d} dBm  {sensor.name}")
    return 0 if sensors else 1
