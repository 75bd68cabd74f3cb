"""CPU time and peak memory of `tiltmon analyze` on a long recording, against a reference.

    python benchmarks/bench_analyze.py [--hours 8] [--rate 100] [--compare | --no-compare]

Writes a simulated office day as a CSV, then runs the installed `tiltmon analyze` on it in a
subprocess and reads the command's CPU time and peak resident memory from the operating system
(``resource.getrusage(RUSAGE_CHILDREN)`` in a small launcher process, see ``measured``). The
reference, in this process and on the same file: parsing the CSV with pandas' C reader plus
offline VQF over the samples, the two costs no analysis can avoid. Prints both, their ratio
(target ≤ 2), and the peak memory (target ≤ 400 MB for 8 h, ≤ 500 MB for 24 h). Also shows
what reading the same file costs with ``np.loadtxt``, the reader tiltmon used before.

The command analyses a block at a time (``monitor.fusion.blocks``). With ``--compare`` (the
default up to 8 h) the same file is also analysed in this process in one block, as tiltmon did
before, and the two outputs are compared second by second: posture agreement (target ≥ 99.9 %)
and the mean tilt difference (target < 0.05°).
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
from monitor.analysis_file import ReadOptions, analyse_csv, write_analysis  # noqa: E402
from monitor.fusion import estimate  # noqa: E402

T0 = 1_795_000_000.0


def cpu(fn: object) -> float:
    start = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - start


def _vqf_cpu(data: np.ndarray, rate: float) -> float:
    return cpu(lambda: estimate(data[:, 1:4], data[:, 4:7], rate, offline=True))


# Linux keeps a process's peak memory across exec, and a child starts as a copy of its parent:
# started from this (large) process, the command's peak would include ours. A small launcher
# process starts it and reports what the command alone used.
_LAUNCHER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime, r.ru_maxrss)
"""


def measured(cmd: list[str]) -> tuple[float, float]:
    """CPU seconds and peak resident MB of ``cmd``, run on its own."""
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd], check=True, capture_output=True, text=True
    )
    sys.stderr.write(out.stderr)
    cpu_s, peak_kib = out.stdout.split()[-2:]
    return float(cpu_s), float(peak_kib) / 1024  # ru_maxrss is in KiB on Linux


def agreement(a: Path, b: Path) -> tuple[float, float]:
    """Share of seconds with the same posture; mean |difference| of sagittal and frontal tilt."""
    import pandas as pd

    x, y = pd.read_csv(a, low_memory=False), pd.read_csv(b, low_memory=False)
    both = x.merge(y, on="t", suffixes=("_a", "_b"))
    if len(both) != len(x) or len(x) != len(y):
        raise SystemExit(f"the outputs cover different seconds ({len(x)}, {len(y)} rows)")
    same = float((both["posture_a"] == both["posture_b"]).mean())
    diffs = [
        (both[f"{c}_a"] - both[f"{c}_b"]).abs().mean() for c in ("sagittal_deg", "frontal_deg")
    ]
    return same, float(np.mean(diffs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compare with a one-block analysis in this process (default: up to 8 h)",
    )
    args = ap.parse_args(argv)
    compare = args.compare if args.compare is not None else args.hours <= 8
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
        analyze_s, peak_mb = measured([*cmd, "analyze", str(src), "--out", str(work / "out.csv")])

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
        target_mb = 400 if args.hours <= 8 else 500
        print(f"\nratio {analyze_s / reference:.2f} (target ≤ 2); peak memory of the command")
        print(
            f"{peak_mb:.0f} MB (target ≤ {target_mb} MB for {'8' if target_mb == 400 else '24'} h);"
        )
        print(f"{analyze_s / args.hours:.2f} s of CPU per recorded hour")
        if compare:
            whole = analyse_csv(src, ReadOptions(), block_s=None)
            write_analysis(work / "whole.csv", whole.analysis, whole.offset, gaps=whole.gaps)
            same, tilt = agreement(work / "whole.csv", work / "out.csv")
            print(f"\nagainst one block (the analysis before): posture agrees {100 * same:.3f} %")
            print(f"of seconds (target ≥ 99.9 %), tilt differs by {tilt:.4f}° on average")
            print("(target < 0.05°)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
