"""Replay benchmark: an 8-hour 100 Hz office day through the FULL pipeline, as fast as possible.

    python benchmarks/bench_replay.py [--hours 8] [--rate 100] [--per-packet-minutes 20]

A simulated office day (``simulate("office_day")``: bouts, slumps, breaks, a lunch walk) is
packetised as the firmware sends it (19 samples a notification) and recorded with
``SessionRecorder`` as live. Then, each in a fresh process (so that its peak memory, VmHWM, is
its own) and with an empty data directory (no calibration profile: provisional, then automatic
alignment):

- ``summarise_replay`` of a ``ReplayTransport(speed=None)``: reading, stream assembly, tilt
  (VQF), posture, nudges and totals, i.e. ``tiltmon replay --headless`` (target: ≤ 10 s and
  ≤ 500 MB for 8 h at 100 Hz on 2 cores);
- ``tiltmon report FILE`` (the replay plus the text and the PNG);
- the same replay packet by packet (``coalesce_s=0``, as live) over the first
  ``--per-packet-minutes``, extrapolated: what coalescing saves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware_sim.packets import packetize
from firmware_sim.simulation import simulate
from monitor.recording import SessionRecorder
from monitor.sensors import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

T0 = 1_750_000_000.0
PER_PACKET = 19

_CHILD = """
import asyncio, json, re, sys, time
from monitor.live import live_pipeline
from monitor.recording.summary import summarise_replay
from monitor.transport.replay import ReplayTransport

async def main(path, coalesce_s, limit_s):
    async with ReplayTransport(path, speed=None) as replay:
        live = live_pipeline(coalesce_s=coalesce_s)
        if limit_s > 0:  # stop after limit_s of data: feed items ourselves
            end = replay.recording.info.started_at + limit_s
            async for item in replay:
                live.feed(item)
                if getattr(item, "received_at", 0) > end:
                    break
            live.flush()
            return live.summary().as_dict()
        return (await summarise_replay(replay, live=live)).as_dict()

start = time.perf_counter()
summary = asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
took = time.perf_counter() - start
status = open('/proc/self/status').read()
peak = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024
print(json.dumps({"took": took, "peak_mb": peak, "summary": summary}))
"""


def record_office_day(path: Path, hours: float, rate: int) -> int:
    rec = simulate("office_day", seed=1, rate_hz=rate, duration_s=hours * 3600)
    config = StreamFormat(rate, 8, 500, True, PER_PACKET, True)
    now = [T0]
    recorder = SessionRecorder(
        path, transport="sim:office_day", started_at=T0, monotonic=lambda: now[0]
    )
    device = DeviceInfo("tiltmon", "AA:BB", serial="SN-BENCH")
    recorder.feed(LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=device))
    recorder.feed(LinkEvent(T0, LinkEventKind.CONFIGURED, config=config))
    count = 0
    for t, payload in packetize(rec, per_packet=PER_PACKET):
        now[0] = T0 + 0.2 + t + 0.01
        recorder.feed(Notification(now[0], payload))
        count += PER_PACKET
    recorder.close(ended_at=now[0] + 0.1)
    return count


def in_child(args: list[str], env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=100, choices=(25, 50, 100, 200))
    parser.add_argument("--per-packet-minutes", type=float, default=20.0)
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TILTMON_DATA_DIR": str(Path(tmp) / "data")}
        path = Path(tmp) / "office.tiltmon"
        start = time.perf_counter()
        count = record_office_day(path, args.hours, args.rate)
        print(
            f"session: {args.hours:g} h office day at {args.rate} Hz, {count} samples,"
            f" {path.stat().st_size / 1e6:.0f} MB (simulated and recorded in"
            f" {time.perf_counter() - start:.0f} s)"
        )
        result = in_child([str(path), "30", "0"], env)
        took, peak = float(result["took"]), float(result["peak_mb"])  # type: ignore[arg-type]
        summary = result["summary"]
        assert isinstance(summary, dict) and summary["samples"] == count, summary
        print(
            f"full replay:      {took:.1f} s ({count / took / 1e6:.2f} M samples/s),"
            f" peak memory {peak:.0f} MB; sitting {summary['activity']['sitting_min']} min,"
            f" {summary['activity']['bouts']} bouts, {summary['activity']['nudges']} nudges"
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "monitor.cli", "report", str(path)],
            check=True,
            capture_output=True,
            env=env,
        )
        print(f"tiltmon report:   {time.perf_counter() - start:.1f} s (replay, text and PNG)")
        limit = args.per_packet_minutes * 60
        one = in_child([str(path), "0", str(limit)], env)
        many = in_child([str(path), "30", str(limit)], env)
        scale = args.hours * 3600 / limit
        t_one, t_many = float(one["took"]), float(many["took"])  # type: ignore[arg-type]
        print(
            f"packet by packet: {t_one:.1f} s for the first {args.per_packet_minutes:g} min"
            f" (→ {t_one * scale:.0f} s for {args.hours:g} h); coalesced: {t_many:.1f} s"
            f" (→ {t_many * scale:.0f} s)"
        )


if __name__ == "__main__":
    main()
