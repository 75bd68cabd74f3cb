"""Fault storm: hundreds of link drops, with dropped and corrupted packets, on a loaded machine.

    python benchmarks/bench_fault_storm.py [--disconnects 300] [--every 0.6] [--burners 2]

The simulated firmware drops the link every ``--every`` seconds of connection, drops and
corrupts 5 % of its packets each, while ``--burners`` busy processes load the CPU. The client
is the real BLE transport over the virtual radio, feeding the live pipeline. At the end the
firmware heals for a moment (so that a last packet reveals every loss), and the run checks:

* every sample of the sensor's timeline is either received or counted lost, none twice;
* no duplicates; every corrupted packet reported as malformed;
* memory (RSS) and open file descriptors do not grow with the number of reconnects.

It prints RSS and descriptors every tenth of the run and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from firmware_sim.peripheral import Faults
from monitor.live import LiveStream
from monitor.transport.ble import ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind
from monitor.transport.sim import SimulatedSensorTransport

PER_PACKET_MAX = 64  # samples per packet at most (docs/protocol.md): the slack at the edges


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class StormResult:
    disconnects: int
    seconds: float
    samples: int
    lost: int
    duplicates: int
    malformed: int
    timeline: int  # samples the sensor's clock spans from the first received to the last
    corrupted_packets: int
    dropped_samples: int
    marks: list[tuple[int, int, int]] = field(default_factory=list)  # (disconnects, RSS, fds)

    def problems(self) -> list[str]:
        found = []
        if self.duplicates:
            found.append(f"{self.duplicates} duplicated samples")
        if abs(self.samples + self.lost - self.timeline) > PER_PACKET_MAX:
            found.append(
                f"{self.samples} received + {self.lost} lost != {self.timeline} in the timeline"
            )
        if self.lost < self.dropped_samples:
            found.append(
                f"{self.lost} lost counted, but the firmware dropped {self.dropped_samples}"
            )
        if self.malformed != self.corrupted_packets:
            found.append(
                f"{self.malformed} malformed seen, {self.corrupted_packets} corrupted sent"
            )
        if len(self.marks) >= 4:
            # After warm-up (the first quarter), memory and descriptors stay flat.
            _, rss_then, fds_then = self.marks[len(self.marks) // 4]
            _, rss_end, fds_end = self.marks[-1]
            if rss_end - rss_then > 8_000:
                found.append(f"RSS grew {rss_end - rss_then} kB after warm-up")
            if fds_end > fds_then + 2:
                found.append(f"file descriptors grew from {fds_then} to {fds_end}")
        return found


async def storm(disconnects: int, every_s: float, *, rate: int = 50) -> StormResult:
    faults = Faults(drop_fraction=0.05, corrupt_fraction=0.05, disconnect_every_s=every_s)
    policy = ReconnectPolicy(
        first_delay_s=0.02, max_delay_s=0.1, scan_timeout_s=5.0, watchdog_s=1.0
    )
    transport = SimulatedSensorTransport(
        "desk_short", seed=7, faults=faults, settings=StreamSettings(rate_hz=rate), policy=policy
    )
    live = LiveStream()
    seen = 0
    marks: list[tuple[int, int, int]] = []
    every_mark = max(1, disconnects // 10)
    started = time.monotonic()
    healed_at: float | None = None
    async with transport:
        assert transport.peripheral is not None
        peripheral = transport.peripheral
        async for item in transport:
            live.feed(item)
            if isinstance(item, LinkEvent) and item.kind is LinkEventKind.DISCONNECTED:
                seen += 1
                if seen % every_mark == 0:
                    marks.append((seen, rss_kb(), open_fds()))
                if seen >= disconnects and healed_at is None:
                    peripheral.faults = Faults()  # heal: the next packets reveal every loss
                    healed_at = time.monotonic()
            if healed_at is not None and time.monotonic() - healed_at > 2.0:
                break
    summary = live.summary()
    counters = peripheral.counters
    return StormResult(
        disconnects=seen,
        seconds=round(time.monotonic() - started, 1),
        samples=summary.samples,
        lost=summary.lost,
        duplicates=summary.duplicates,
        malformed=summary.malformed,
        timeline=round(summary.sensor_seconds * rate) + 1,
        corrupted_packets=counters.packets_corrupted,
        dropped_samples=counters.samples_dropped,
        marks=marks,
    )


def burners(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--disconnects", type=int, default=300)
    parser.add_argument("--every", type=float, default=0.6, help="s connected before each drop")
    parser.add_argument("--burners", type=int, default=2, help="busy processes meanwhile")
    args = parser.parse_args()
    load = burners(args.burners, args.disconnects * (args.every + 0.6) + 60)
    try:
        result = asyncio.run(storm(args.disconnects, args.every))
    finally:
        for process in load:
            process.kill()
            process.wait()
    print(f"{result.disconnects} disconnects in {result.seconds} s, {args.burners} CPU burners")
    print(
        f"samples {result.samples}, lost {result.lost} (firmware dropped"
        f" {result.dropped_samples}), timeline {result.timeline}, duplicates {result.duplicates},"
        f" malformed {result.malformed} of {result.corrupted_packets} corrupted"
    )
    print(f"{'disconnects':>11s}  {'RSS kB':>8s}  {'fds':>4s}")
    for n, rss, fds in result.marks:
        print(f"{n:11d}  {rss:8d}  {fds:4d}")
    problems = result.problems()
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
