"""CPU time and peak memory of `tiltmon analyze` on a long recording, against a reference.

    python benchmarks/bench_analyze.py [--hours 8] [--rate 100]

Writes a simulated office day as a CSV, then runs the installed `tiltmon analyze` on it in a
subprocess and reads the child's CPU time and peak resident memory from the operating system
(``resource.getrusage(RUSAGE_CHILDREN)``). The reference, in this process and on the same file:
parsing the CSV with pandas' C reader plus offline VQF over the samples, the two costs no
analysis can avoid. Prints both, their ratio (target ≤ 2), and the peak memory (target
≤ 400 MB for 8 h). Also shows what reading the same file costs with ``np.loadtxt``, the reader
tiltmon used before.
"""

from __future__ import annotations

import argparse
import resource
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
from monitor.fusion import estimate  # noqa: E402

T0 = 1_795_000_000.0


def cpu(fn: object) -> float:
    start = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - start


def _vqf_cpu(data: np.ndarray, rate: float) -> float:
    return cpu(lambda: estimate(data[:, 1:4], data[:, 4:7], rate, offline=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=100.0)
    args = ap.parse_args(argv)
    import pandas as pd

    work = Path(tempfile.mkdtemp(prefix="tiltmon-analyze-"))
    try:
        src = work / "day.csv"
        rec = simulate("office_day", seed=3, rate_hz=args.rate, duration_s=args.hours * 3600)
        np.savetxt(
            src,
            np.column_stack([T0 + rec.t, rec.acc, rec.gyr]),
            delimiter=",",
            fmt=["%.3f"] + ["%.5f"] * 6,
            header="t,ax,ay,az,gx,gy,gz",
            comments="",
        )
        n = len(rec)
        del rec
        size_mb = src.stat().st_size / 1e6

        def read_pandas() -> np.ndarray:
            return pd.read_csv(src, dtype=np.float64, engine="c").to_numpy()

        pandas_s = cpu(read_pandas)
        loadtxt_s = cpu(lambda: np.loadtxt(src, delimiter=",", skiprows=1, ndmin=2))
        vqf_s = _vqf_cpu(read_pandas(), args.rate)

        exe = shutil.which("tiltmon")
        cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([*cmd, "analyze", str(src), "--out", str(work / "out.csv")], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        analyze_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak_mb = after.ru_maxrss / 1024  # KiB on Linux

        reference = pandas_s + vqf_s
        print(f"## `tiltmon analyze`, {args.hours:g} h at {args.rate:g} Hz ({n} samples,")
        print(f"{size_mb:.0f} MB of CSV)\n")
        print("| what | CPU time |")
        print("|---|---|")
        print(f"| read the CSV with pandas (C reader) | {pandas_s:.2f} s |")
        print(f"| read the CSV with np.loadtxt (the reader before) | {loadtxt_s:.2f} s |")
        print(f"| offline VQF over the samples | {vqf_s:.2f} s |")
        print(f"| **reference: pandas read + offline VQF** | **{reference:.2f} s** |")
        print(f"| **`tiltmon analyze`, the whole command** | **{analyze_s:.2f} s** |")
        print(f"\nratio {analyze_s / reference:.2f} (target ≤ 2); peak memory of the command")
        print(f"{peak_mb:.0f} MB (target ≤ 400 MB for 8 h); {analyze_s / args.hours:.2f} s of CPU")
        print("per recorded hour")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
