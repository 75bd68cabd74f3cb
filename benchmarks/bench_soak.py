"""Soak: memory and file descriptors over a long replay and a long live stream, through the CLI.

    python benchmarks/bench_soak.py [--hours 8] [--live-seconds 3600] [--every 10]

1. An 8-hour 100 Hz office day is simulated and written through the real recorder
   (``SessionRecorder``, as fast as possible; see bench_replay.py), then replayed with
   ``tiltmon replay FILE --headless --json``.
2. ``tiltmon stream --sim office_day --seconds LIVE --json`` streams live from the simulated
   sensor over the virtual radio in real time, recording as a wearer's session does (into a
   temporary data directory). ``--live-seconds`` shortens it (default: the full hour);
   ``--live-seconds 0`` skips it. With ``--separate-sim`` the sensor is ``tiltmon sim`` in its
   own process instead, reached with ``--radio tcp-client:...``, so the figures are the
   client's alone (with ``--sim`` the simulated sensor shares the measured process).

Each command runs as a child process; its resident memory (VmRSS) and open file descriptors
are read from /proc every ``--every`` seconds (the replay: ten times as often, it is short).
Printed: the samples over time, and per run the least-squares slope of RSS after warm-up (the
first quarter, at least a minute of a live run, is left out: imports, caches, the first fits),
with the range of file descriptors after warm-up. A leak shows as a slope that does not fall
with a longer run; the figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import record_office_day  # a sibling script


@dataclass
class Soak:
    name: str
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (s, RSS kB, fds)
    returncode: int | None = None
    summary: dict[str, object] = field(default_factory=dict)
    stderr: str = ""

    def after_warm_up(self, min_s: float) -> list[tuple[float, int, int]]:
        if not self.samples:
            return []
        start = max(self.samples[-1][0] / 4, min(min_s, self.samples[-1][0] / 2))
        return [s for s in self.samples if s[0] >= start]

    def slope_mb_per_h(self, min_s: float) -> float:
        """RSS growth after warm-up, MB per hour of the run (of wall time)."""
        points = self.after_warm_up(min_s)
        if len(points) < 3:
            return float("nan")
        t = [p[0] for p in points]
        rss = [p[1] / 1024 for p in points]
        mean_t, mean_r = sum(t) / len(t), sum(rss) / len(rss)
        sxx = sum((x - mean_t) ** 2 for x in t)
        sxy = sum((x - mean_t) * (y - mean_r) for x, y in zip(t, rss, strict=True))
        return sxy / sxx * 3600 if sxx > 0 else float("nan")


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def watch(name: str, command: list[str], env: dict[str, str], every_s: float) -> Soak:
    """Run ``command``, sampling the child's RSS and open descriptors until it exits."""
    soak = Soak(name)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        start = time.monotonic()
        while child.poll() is None:
            rss, fds = _rss_kb(child.pid), _fds(child.pid)
            if rss and fds is not None:  # no RSS yet: the child is still being exec'd
                soak.samples.append((time.monotonic() - start, rss, fds))
            time.sleep(every_s)
        soak.returncode = child.returncode
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        soak.stderr = err.read()
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            soak.summary = json.loads(lines[-1])
    return soak


def report(soak: Soak, min_s: float, *, data_h: float | None = None, rows: int = 16) -> None:
    """The samples, thinned to about ``rows``; the slope per hour of the run, or for a replay
    (``data_h`` hours of data in the run's time) per hour of data."""
    print(f"\n{soak.name}: exit {soak.returncode}, {len(soak.samples)} samples")
    if soak.returncode != 0:
        print(soak.stderr[-2000:])
    step = max(1, len(soak.samples) // rows)
    shown = soak.samples[::step]
    if soak.samples and shown[-1] is not soak.samples[-1]:
        shown.append(soak.samples[-1])
    print(f"  {'t (s)':>8s}  {'RSS MB':>7s}  {'fds':>4s}")
    for t, rss, fds in shown:
        print(f"  {t:8.1f}  {rss / 1024:7.1f}  {fds:4d}")
    warm = soak.after_warm_up(min_s)
    if warm:
        rss = [w[1] / 1024 for w in warm]
        fds = [w[2] for w in warm]
        slope = soak.slope_mb_per_h(min_s)
        unit = "MB/h"
        if data_h is not None:
            slope *= soak.samples[-1][0] / 3600 / data_h
            unit = "MB per hour of data"
        print(
            f"  after warm-up (from {warm[0][0]:.0f} s): RSS {min(rss):.1f}..{max(rss):.1f} MB,"
            f" slope {slope:+.2f} {unit}; fds {min(fds)}..{max(fds)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=8.0, help="recorded day to replay")
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=3600.0,
        help="live stream length (default the full hour; 0 skips it)",
    )
    parser.add_argument("--every", type=float, default=10.0, help="live sampling period, s")
    parser.add_argument(
        "--separate-sim",
        action="store_true",
        help="stream from `tiltmon sim` in its own process (the client's memory alone)",
    )
    parser.add_argument("--skip-replay", action="store_true", help="the live part only")
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TILTMON_DATA_DIR": str(Path(tmp) / "data")}
        if not args.skip_replay:
            soak_replay(Path(tmp) / "office.tiltmon", args.hours, env, args.every / 50)
        if args.live_seconds > 0:
            soak_live(args.live_seconds, env, args.every, separate_sim=args.separate_sim)
    return 0


def soak_replay(path: Path, hours: float, env: dict[str, str], every_s: float) -> None:
    start = time.perf_counter()
    count = record_office_day(path, hours, 100)
    print(
        f"session: {hours:g} h office day at 100 Hz, {count} samples,"
        f" {path.stat().st_size / 1e6:.0f} MB (simulated and recorded in"
        f" {time.perf_counter() - start:.0f} s)"
    )
    replay = watch(
        f"tiltmon replay ({hours:g} h) --headless --json",
        [sys.executable, "-m", "monitor.cli", "replay", str(path), "--headless", "--json"],
        env,
        every_s,
    )
    report(replay, min_s=0.0, data_h=hours)
    if replay.summary:
        print(f"  samples replayed: {replay.summary.get('samples')} of {count}")


def soak_live(seconds: float, env: dict[str, str], every_s: float, *, separate_sim: bool) -> None:
    cli = [sys.executable, "-m", "monitor.cli"]
    sensor = ["--sim", "office_day"]
    sim: subprocess.Popen[str] | None = None
    if separate_sim:
        sim = subprocess.Popen(
            [*cli, "sim", "office_day", "--open-link"],  # figures comparable with earlier runs
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert sim.stdout is not None
        spec = sim.stdout.readline().rsplit(" on ", 1)[1].strip()  # tcp-client:127.0.0.1:PORT
        sensor = ["--radio", spec]
    try:
        live = watch(
            f"tiltmon stream {' '.join(sensor)} --seconds {seconds:g} --json",
            [*cli, "stream", *sensor, "--seconds", f"{seconds:g}", "--json"],
            env,
            every_s,
        )
    finally:
        if sim is not None:
            sim.terminate()
            sim.communicate(timeout=30)
    report(live, min_s=60.0)
    if live.summary:
        keys = ("samples", "lost", "duplicates", "reconnects", "sensor_seconds")
        print("  " + ", ".join(f"{k} {live.summary.get(k)}" for k in keys))


if __name__ == "__main__":
    sys.exit(main())
