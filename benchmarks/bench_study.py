"""Many recordings through `tiltmon analyze --out-dir`: one process, --jobs N and a Dask cluster.

    python benchmarks/bench_study.py [--recordings 20] [--hours 1] [--rate 25] [--jobs 2]

Writes simulated office-day recordings (each its own seed, a random clip mounting) as CSVs to a
temporary folder, then runs the installed command on the folder three ways: one process,
``--jobs N``, and ``--dask`` against a ``LocalCluster`` of N single-threaded worker processes
on loopback. Prints the wall time of each, the speed-up over one process, and whether the three
``summary.csv`` files are identical (they must be). Times are wall-clock: the point is how much
sooner a cohort is done.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from firmware_sim import simulate  # noqa: E402

T0 = 1_795_000_000.0  # a weekday morning in 2026 (UTC)


def write_cohort(folder: Path, n: int, hours: float, rate: float) -> None:
    for seed in range(n):
        rec = simulate("office_day", seed=seed, rate_hz=rate, duration_s=hours * 3600)
        np.savetxt(
            folder / f"participant{seed:02d}.csv",
            np.column_stack([T0 + 86400 * seed + rec.t, rec.acc, rec.gyr]),
            delimiter=",",
            fmt=["%.3f"] + ["%.5f"] * 6,
            header="t,ax,ay,az,gx,gy,gz",
            comments="",
        )


def analyze(folder: Path, out: Path, *extra: str) -> float:
    exe = shutil.which("tiltmon")
    cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
    start = time.perf_counter()
    subprocess.run(
        [*cmd, "analyze", str(folder), "--out-dir", str(out), *extra],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--recordings", type=int, default=20)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=25.0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="tiltmon-study-"))
    try:
        cohort = work / "cohort"
        cohort.mkdir()
        t0 = time.perf_counter()
        write_cohort(cohort, args.recordings, args.hours, args.rate)
        print(f"## {args.recordings} recordings of {args.hours:g} h at {args.rate:g} Hz")
        print(f"(written in {time.perf_counter() - t0:.0f} s)\n")
        serial = analyze(cohort, work / "serial")
        jobs = analyze(cohort, work / "jobs", "--jobs", str(args.jobs))
        with LocalCluster(
            n_workers=args.jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:
            dask = analyze(cohort, work / "dask", "--dask", cluster.scheduler_address)
        rerun = analyze(cohort, work / "serial")
        same = (
            (work / "serial" / "summary.csv").read_bytes()
            == (work / "jobs" / "summary.csv").read_bytes()
            == (work / "dask" / "summary.csv").read_bytes()
        )
        print("| run | wall time | speed-up over one process |")
        print("|---|---|---|")
        print(f"| one process | {serial:.1f} s | 1.00× |")
        print(f"| --jobs {args.jobs} | {jobs:.1f} s | {serial / jobs:.2f}× |")
        print(f"| --dask, LocalCluster of {args.jobs} | {dask:.1f} s | {serial / dask:.2f}× |")
        print(f"| rerun, nothing changed | {rerun:.1f} s | {serial / rerun:.1f}× |")
        print(f"\nsummary.csv identical across the three: {'yes' if same else 'NO'}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
