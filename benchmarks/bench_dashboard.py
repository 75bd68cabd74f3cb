"""Dashboard benchmark: CPU share and sample-to-screen delay, headless, simulated sensor at 100 Hz.

    python benchmarks/bench_dashboard.py [--seconds 30] [--rate 100] [--size 120x40]

The simulated sensor runs in its own process (`tiltmon sim`, over the virtual radio on loopback),
so the CPU figure is the dashboard process alone: the BLE client, the whole pipeline, the worker
and Textual drawing at 10 Hz (headless: everything but the terminal's own work). The delay runs
from a notification's arrival (``Notification.received_at``) to the moment the tilt gauges
render the angle it carried.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from monitor.session import Session
from monitor.transport.ble import BleTransport, StreamSettings
from monitor.tui.app import DashboardApp
from monitor.tui.widgets.tilt_gauges import TiltGauges


async def bench(seconds: float, rate: int, size: tuple[int, int]) -> dict[str, float]:
    sim = await asyncio.create_subprocess_exec(
        # version 1 (open link): the figures stay comparable with earlier runs
        *(sys.executable, "-m", "monitor.cli", "sim", "office_day", "--open-link"),
        stdout=subprocess.PIPE,
    )
    try:
        assert sim.stdout is not None
        line = (await sim.stdout.readline()).decode()
        match = re.search(r"tcp-client:127\.0\.0\.1:\d+", line)
        if match is None:
            raise RuntimeError(f"simulator did not start: {line!r}")
        transport = BleTransport(settings=StreamSettings(rate_hz=rate), radio=match.group(0))
        app = DashboardApp(Session(transport, label="bench"), bell=False)
        delays: list[float] = []
        async with app.run_test(size=size) as pilot:
            gauges = app.query_one(TiltGauges)
            async with asyncio.timeout(30):
                while not app.state.live.link.streaming:
                    await pilot.pause(0.05)
            await pilot.pause(1.0)  # past the start-up
            gauges.latency_probe = lambda received, now: delays.append(now - received)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            samples0 = app.state.live.assembler.stats.samples
            await asyncio.sleep(seconds)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            samples = app.state.live.assembler.stats.samples - samples0
            lost = app.state.live.assembler.stats.lost
            await app.action_quit()
        d = np.array(delays) * 1000
        return {
            "cpu_share_percent": 100 * cpu / wall,
            "wall_s": wall,
            "rate_hz": samples / wall,
            "lost": lost,
            "redraws": len(d),
            "p50_ms": float(np.percentile(d, 50)),
            "p95_ms": float(np.percentile(d, 95)),
            "max_ms": float(d.max()),
        }
    finally:
        sim.terminate()
        await sim.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    # Sessions and settings of the run stay out of the user's directories.
    scratch = tempfile.mkdtemp(prefix="tiltmon-bench-")
    os.environ.setdefault("TILTMON_DATA_DIR", scratch)
    os.environ.setdefault("TILTMON_CONFIG_DIR", scratch)
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    r = asyncio.run(bench(args.seconds, args.rate, (width, height)))
    print(
        f"dashboard at {args.rate} Hz, {args.size}: {r['cpu_share_percent']:.1f}% of one core"
        f" over {r['wall_s']:.0f} s (delivered {r['rate_hz']:.1f} Hz, lost {r['lost']})"
    )
    print(
        f"sample to screen: p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms,"
        f" max {r['max_ms']:.0f} ms over {r['redraws']} gauge redraws"
    )


if __name__ == "__main__":
    main()
