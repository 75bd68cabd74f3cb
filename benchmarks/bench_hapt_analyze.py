"""Posture on UCI HAPT through the product path: each experiment as a CSV through `tiltmon analyze`.

    python benchmarks/bench_hapt_analyze.py [DATA_DIR] [--users 1-15] [--keep DIR]

For every experiment in DATA_DIR/hapt/*.npz (default ../shared/data next to the repository) the
benchmark writes the raw samples as a CSV (t, ax, ay, az in g, gx, gy, gz in rad/s: the file's own
units, stated with --acc-unit), runs the installed ``tiltmon analyze`` command on it in a
subprocess, and scores the per-second output against the labels per sample (labelled sitting,
standing, lying and walking; transitions and unlabelled samples are not scored, as in the HAPT
metric). Nothing in the product is tuned per user: each user is scored on code that has never seen
its labels, so the per-user figures are leave-one-user-out figures. Prints the pooled accuracy,
sitting F1, per-class recall, the confusion matrix, and every user's accuracy with the worst user.

The data are read in place and the CSVs go to a temporary folder (never into the repository).
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
LABELS = {1: "walking", 2: "walking", 3: "walking", 4: "sitting", 5: "standing", 6: "lying"}
CLASSES = ("sitting", "standing", "lying", "walking")


def write_csv(npz: Path, out: Path) -> tuple[np.ndarray, np.ndarray]:
    """The experiment as analyze's input CSV; returns (sample times, labels)."""
    with np.load(npz) as z:
        acc = z["acc_g"].astype(np.float64)
        gyr = z["gyr"].astype(np.float64)
        label = z["label"].astype(np.int64)
        rate = float(z["rate_hz"])
    t = np.arange(len(acc)) / rate
    data = np.column_stack([t, acc, gyr])
    np.savetxt(out, data, delimiter=",", fmt="%.6f", header="t,ax,ay,az,gx,gy,gz", comments="")
    return t, label


def run_analyze(csv_in: Path, csv_out: Path) -> None:
    exe = shutil.which("tiltmon")
    cmd = [exe] if exe else [sys.executable, "-m", "monitor.cli"]
    cmd += ["analyze", str(csv_in), "--out", str(csv_out), "--acc-unit", "g"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def per_sample_posture(csv_out: Path, t: np.ndarray) -> np.ndarray:
    """The posture of the output row (a 1 s frame ending at its t) holding each sample time."""
    ends, postures = [], []
    with csv_out.open(newline="") as f:
        for row in csv.DictReader(f):
            ends.append(float(row["t"]))
            postures.append(row["posture"])
    ends_a = np.array(ends)
    idx = np.searchsorted(ends_a, t, side="right")
    out = np.full(len(t), "unknown", dtype=object)
    ok = idx < len(ends_a)
    out[ok] = np.array(postures, dtype=object)[idx[ok]]
    return out


def scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    acc = float(np.mean(truth == pred))
    tp = float(np.sum((truth == "sitting") & (pred == "sitting")))
    fp = float(np.sum((truth != "sitting") & (pred == "sitting")))
    fn = float(np.sum((truth == "sitting") & (pred != "sitting")))
    return acc, (2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def parse_users(spec: str) -> set[int]:
    users: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        users.update(range(int(lo), int(hi or lo) + 1))
    return users


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--users", default="1-99", help="users to run, e.g. 1-15 or 9,10")
    ap.add_argument("--keep", type=Path, help="keep the CSVs and outputs in this folder")
    args = ap.parse_args(argv)
    users = parse_users(args.users)
    files = [
        p
        for p in sorted((args.data_dir / "hapt").glob("*.npz"))
        if int(p.stem.split("user")[1]) in users
    ]
    if not files:
        print(f"HAPT skipped: no hapt/*.npz in {args.data_dir}")
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="tiltmon-hapt-"))
    work.mkdir(parents=True, exist_ok=True)
    truths: dict[int, list[np.ndarray]] = {}
    preds: dict[int, list[np.ndarray]] = {}
    exp_rows = []
    t0 = time.perf_counter()
    try:
        for npz in files:
            user = int(npz.stem.split("user")[1])
            csv_in, csv_out = work / f"{npz.stem}.csv", work / f"{npz.stem}.out.csv"
            t, label = write_csv(npz, csv_in)
            run_analyze(csv_in, csv_out)
            pred = per_sample_posture(csv_out, t)
            scored = np.isin(label, list(LABELS))
            truth = np.array([LABELS[int(v)] for v in label[scored]], dtype=object)
            truths.setdefault(user, []).append(truth)
            preds.setdefault(user, []).append(pred[scored])
            a, f1 = scores(truth, pred[scored])
            exp_rows.append([npz.stem, f"{a:.4f}", f"{f1:.3f}"])
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    truth = np.concatenate([np.concatenate(v) for v in truths.values()])
    pred = np.concatenate([np.concatenate(v) for v in preds.values()])
    acc, f1 = scores(truth, pred)
    print(f"## HAPT through `tiltmon analyze` ({len(files)} experiments, {len(truths)} users,")
    print(f"{truth.size} scored samples, {elapsed:.0f} s)\n")
    print(f"accuracy **{acc:.4f}**, sitting F1 **{f1:.3f}** (targets 0.98 / 0.96)\n")
    rows = []
    for c in CLASSES:
        m = truth == c
        if not m.any():
            continue
        row = [c, f"{np.mean(pred[m] == c):.4f}"]
        row += [str(int(np.sum(pred[m] == k))) for k in (*CLASSES, "unknown")]
        rows.append(row)
    print(table(["truth \\ predicted", "recall", *CLASSES, "unknown"], rows) + "\n")
    per_user = []
    for u in sorted(truths):
        a, f = scores(np.concatenate(truths[u]), np.concatenate(preds[u]))
        per_user.append((a, f, u))
    rows = [[str(u), f"{a:.4f}", f"{f:.3f}"] for a, f, u in per_user]
    print(table(["user", "accuracy", "sitting F1"], rows) + "\n")
    worst = min(per_user)
    mean = float(np.mean([a for a, _, _ in per_user]))
    print(f"per-user accuracy: mean **{mean:.4f}**, worst **{worst[0]:.4f}** (user {worst[2]})\n")
    print(table(["experiment", "accuracy", "sitting F1"], exp_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
