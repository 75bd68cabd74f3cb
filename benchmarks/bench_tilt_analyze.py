"""Tilt through `tiltmon analyze` on simulated office days, the clip at the side of the pelvis.

    python benchmarks/bench_tilt_analyze.py [--days 6] [--hours 2] [--rate 50]

Each day (seed) draws a random clip orientation and puts the clip on the left or right hip,
0.10–0.17 m from the pelvis's centre (plus up to ±3 cm fore-aft and vertically), so the
accelerometer feels the pelvis's rotation as well as its tilt. The recording opens with the
calibration protocol (a still stand, then a walk), as a day with tiltmon does. Its raw samples
go to a CSV, through the installed `tiltmon analyze` command (a subprocess: the path users run),
and the per-second angles it writes are scored against the simulator's truth averaged over the
same seconds:

- tilt RMSE, sagittal and frontal, over every second `analyze` reported (and sitting only);
- neutral: the angle between the neutral `analyze` used and the measured gravity of the
  opening still stand (the calibration stand, which defines zero tilt);
- forward axis: the angle about the vertical between the true and the recovered pelvis forward
  axis (from the alignment `analyze` runs, `calibration.align_recording`, on the same samples).

Prints one row per day, then the mean and the worst day for each figure.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from calibration import align_recording  # noqa: E402
from calibration.rotation import quat_to_matrix  # noqa: E402
from firmware_sim import simulate  # noqa: E402
from firmware_sim.motion import Activity  # noqa: E402

OPENING_STAND_S = 5.0  # the office day opens with a 5 s still stand


def side_clip(seed: int) -> np.ndarray:
    rng = np.random.default_rng(10_000 + seed)
    side = 1.0 if rng.random() < 0.5 else -1.0
    return np.array(
        [rng.uniform(-0.03, 0.03), side * rng.uniform(0.10, 0.17), rng.uniform(-0.03, 0.03)]
    )


def per_second(t: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``x`` over each second [k, k+1) of sensor time."""
    k = np.clip(t.astype(np.int64), 0, n - 1)
    return np.bincount(k, x, n) / np.maximum(np.bincount(k, minlength=n), 1)


def run_day(seed: int, hours: float, rate: float, work: Path) -> dict[str, float]:
    lever = side_clip(seed)
    rec = simulate(
        "office_day", seed=seed, rate_hz=rate, duration_s=hours * 3600, lever_arm_m=lever
    )
    csv_in, csv_out = work / f"day{seed}.csv", work / f"day{seed}.out.csv"
    np.savetxt(
        csv_in,
        np.column_stack([rec.t, rec.acc, rec.gyr]),
        delimiter=",",
        fmt="%.6f",
        header="t,ax,ay,az,gx,gy,gz",
        comments="",
    )
    exe = shutil.which("tiltmon")
    cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
    subprocess.run(
        [*cmd, "analyze", str(csv_in), "--out", str(csv_out)], check=True, capture_output=True
    )
    rows = list(csv.DictReader(csv_out.open(newline="")))
    n = int(rec.t[-1]) + 1
    true_sag = per_second(rec.t, rec.sagittal_deg, n)
    true_fro = per_second(rec.t, rec.frontal_deg, n)
    sitting = per_second(rec.t, (rec.activity == Activity.SITTING).astype(float), n) > 0.99
    err_s, err_f, sit = [], [], []
    for row in rows:
        if not row["sagittal_deg"]:
            continue
        k = round(float(row["t"])) - 1  # the row covers [t - 1, t)
        if not 0 <= k < n:
            continue
        es = float(row["sagittal_deg"]) - true_sag[k]
        ef = float(row["frontal_deg"]) - true_fro[k]
        err_s.append(es)
        err_f.append(ef)
        sit.append(sitting[k])
    es_a, ef_a, sit_a = np.array(err_s), np.array(err_f), np.array(sit)
    seg = align_recording(rec.acc, rec.gyr, rec.rate_hz)[0]
    # forward about the vertical (the heading of the pelvis frame): both levelled with the
    # recovered up, so the neutral's own tilt is not counted twice
    up = quat_to_matrix(seg.q_PS)[2]
    forward_true, forward_est = quat_to_matrix(rec.mounting)[0], quat_to_matrix(seg.q_PS)[0]
    forward_true = forward_true - (forward_true @ up) * up
    forward_true /= np.linalg.norm(forward_true)
    lo, hi = int(0.5 * rate), int((OPENING_STAND_S - 0.5) * rate)
    stand_up = rec.acc[lo:hi].mean(axis=0)
    stand_up /= np.linalg.norm(stand_up)
    return {
        "seed": seed,
        "side": "left" if lever[1] > 0 else "right",
        "lever_cm": 100 * float(np.linalg.norm(lever)),
        "sag": float(np.sqrt(np.mean(es_a**2))),
        "fro": float(np.sqrt(np.mean(ef_a**2))),
        "sag_sit": float(np.sqrt(np.mean(es_a[sit_a] ** 2))),
        "fro_sit": float(np.sqrt(np.mean(ef_a[sit_a] ** 2))),
        "neutral": float(np.degrees(np.arccos(np.clip(stand_up @ up, -1, 1)))),
        "forward": float(np.degrees(np.arccos(np.clip(forward_true @ forward_est, -1, 1)))),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--days", type=int, default=6)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tiltmon-tilt-"))
    t0 = time.perf_counter()
    days = []
    try:
        for seed in range(args.days):
            days.append(run_day(seed, args.hours, args.rate, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    keys = ("sag", "fro", "sag_sit", "fro_sit", "neutral", "forward")
    head = ["day", "clip", "sagittal RMSE", "frontal RMSE", "sitting: sag", "sitting: fro"]
    head += ["neutral error", "forward axis error"]
    print(f"## Tilt through `tiltmon analyze`: {args.days} office days of {args.hours:g} h at")
    print(f"{args.rate:g} Hz, clip at the side of the pelvis, random mountings")
    print(f"({time.perf_counter() - t0:.0f} s)\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for d in days:
        cells = [str(d["seed"]), f"{d['side']} {d['lever_cm']:.0f} cm"]
        cells += [f"{d[k]:.2f}°" for k in keys]
        print("| " + " | ".join(cells) + " |")
    for label, fn in (("mean", np.mean), ("worst", np.max)):
        cells = [label, ""] + [f"**{fn([d[k] for d in days]):.2f}°**" for k in keys]
        print("| " + " | ".join(cells) + " |")
    print(
        "\nTargets: tilt RMSE ≤ 0.8° in both planes, neutral within 0.5°, forward axis within 1°."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
