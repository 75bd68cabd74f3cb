"""Recording benchmark: bytes on disk per sample, the recorder's CPU cost, replay speed.

    python benchmarks/bench_recording.py [--hours 1] [--replay-hours 8]

Disk: a synthetic 200 Hz session of real encoded packets (19 samples each, as at the 247-byte
MTU) is recorded with one commit per second of packet time, as live; its size is extrapolated to
8 hours. CPU: the recorder's time per notification, commits included, and what that is at 200 Hz.
Replay: a synthetic 100 Hz session of ``--replay-hours`` played as fast as possible through the
replay transport and the stream assembler (``tiltmon replay --headless``), in a fresh process so
that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware_sim import protocol as fw
from monitor.recording import SessionRecorder
from monitor.sensors import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

PER_PACKET = 19
T0 = 1_750_000_000.0


def packets(hours: float, rate: int) -> list[Notification]:
    """Encoded packets of smooth, noisy motion (not pure noise: real data is not random)."""
    count = int(hours * 3600 * rate / PER_PACKET)
    rng = np.random.default_rng(0)
    t = np.arange(count * PER_PACKET) / rate
    base = np.stack(
        [
            800 * np.sin(0.05 * t),
            300 * np.cos(0.03 * t),
            4096 + 200 * np.sin(0.02 * t),
            50 * np.sin(0.5 * t),
            40 * np.cos(0.4 * t),
            30 * np.sin(0.3 * t),
        ],
        axis=1,
    )
    counts = (base + rng.normal(0, 12, base.shape)).astype(np.int16)
    jitter = rng.uniform(0.002, 0.02, count)
    notes = []
    for k in range(count):
        block = counts[k * PER_PACKET : (k + 1) * PER_PACKET]
        payload = fw.encode_imu_packet(
            k & 0xFFFF, fw.timestamp_us(k * PER_PACKET, rate), block[:, :3], block[:, 3:]
        )
        notes.append(Notification(T0 + (k + 1) * PER_PACKET / rate + jitter[k], payload))
    return notes


def record(path: Path, notes: list[Notification], rate: int) -> tuple[float, list[float]]:
    """Record ``notes`` as live (a commit per second of their time): CPU s, each commit's s."""
    now = [T0]
    recorder = SessionRecorder(path, transport="sim:bench", started_at=T0, monotonic=lambda: now[0])
    commits: list[float] = []
    flush = recorder.flush

    def timed_flush() -> None:
        start = time.perf_counter()
        flush()
        commits.append(time.perf_counter() - start)

    recorder.flush = timed_flush  # type: ignore[method-assign]
    config = StreamFormat(rate, 8, 500, True, PER_PACKET, True)
    start = time.process_time()
    recorder.feed(LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=DeviceInfo("tm", "AA")))
    recorder.feed(LinkEvent(T0, LinkEventKind.CONFIGURED, config=config))
    feed = recorder.feed
    for note in notes:
        now[0] = note.received_at
        feed(note)
    recorder.close(ended_at=now[0])
    return time.process_time() - start, commits


def replay_in_child(path: Path) -> tuple[float, float, dict[str, object]]:
    code = (
        "import asyncio, json, sys, time\n"
        "from monitor.recording.summary import summarise_replay\n"
        "from monitor.transport.replay import ReplayTransport\n"
        "async def main():\n"
        "    async with ReplayTransport(sys.argv[1], speed=None) as replay:\n"
        "        return await summarise_replay(replay)\n"
        "start = time.perf_counter()\n"
        "summary = asyncio.run(main())\n"
        "print(time.perf_counter() - start)\n"
        "print(json.dumps(summary.as_dict()))\n"
        # VmHWM: the peak of this process alone (ru_maxrss keeps the parent's across exec).
        "import re, resource\n"
        "try:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024)\n"
        "except OSError:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    )
    took, summary, peak_mb = out.stdout.splitlines()
    return float(took), float(peak_mb), json.loads(summary)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=1.0, help="the 200 Hz session to record")
    parser.add_argument("--replay-hours", type=float, default=8.0, help="the 100 Hz replay")
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        notes = packets(args.hours, 200)
        samples = len(notes) * PER_PACKET
        path = Path(tmp) / "disk.tiltmon"
        cpu_s, commits = record(path, notes, 200)
        size = path.stat().st_size
        per_sample = size / samples
        print(
            f"disk, 200 Hz:     {size / 1e6:.1f} MB for {args.hours:g} h ({samples} samples),"
            f" {per_sample:.2f} bytes/sample; 8 h: {per_sample * 200 * 3600 * 8 / 1e6:.0f} MB"
            f" (raw payloads alone: {sum(len(n.payload) for n in notes) / samples:.2f} B/sample)"
        )
        per_note_us = 1e6 * cpu_s / len(notes)
        share = per_note_us * 1e-6 * 200 / PER_PACKET * 100
        print(
            f"recorder CPU:     {per_note_us:.1f} µs per notification, commits included;"
            f" at 200 Hz {share:.3f}% of one core"
        )
        print(
            f"commits:          {len(commits)}, each blocks the loop for median"
            f" {1e3 * float(np.median(commits)):.2f} ms, 99.9th percentile"
            f" {1e3 * float(np.percentile(commits, 99.9)):.2f} ms, max {1e3 * max(commits):.1f} ms"
        )
        del notes
        replay_path = Path(tmp) / "replay.tiltmon"
        notes = packets(args.replay_hours, 100)
        record(replay_path, notes, 100)
        count = len(notes) * PER_PACKET
        del notes
        took, peak_mb, summary = replay_in_child(replay_path)
        assert summary["samples"] == count and summary["lost"] == 0, summary
        print(
            f"replay, 100 Hz:   {args.replay_hours:g} h ({count} samples,"
            f" {replay_path.stat().st_size / 1e6:.0f} MB) through the assembler in {took:.1f} s"
            f" ({count / took / 1e6:.2f} M samples/s), peak memory {peak_mb:.0f} MB"
        )


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))  # warm the event loop machinery out of the timings
    main()
