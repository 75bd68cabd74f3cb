"""Accuracy and speed of the orientation estimators (monitor.fusion).

    python benchmarks/bench_fusion.py [DATA_DIR] [--quick] [--estimators vqf,vqf-lc,...]

DATA_DIR holds broad/*.npz (default: ../shared/data next to the repository). The data are read
in place, never copied. Without them the accuracy part is skipped with a message and the speed
part runs on synthetic motion.

Prints, as Markdown tables:
- inclination RMSE (degrees) per BROAD trial and the mean, for every estimator, live and offline
  (metric: angle between true and estimated up in the sensor frame, RMSE over the `movement`
  samples, NaN reference rows skipped);
- a leave-one-trial-out estimate for the two tuned settings (tau_acc, latency_s) of the defaults;
- speed: µs per sample for one estimate() call over all samples, µs per sample when streaming in
  batches of 19, and samples per second; with the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from monitor.fusion import (  # noqa: E402
    ESTIMATORS,
    OfflineVQFEstimator,
    VQFEstimator,
    VQFParams,
    estimate,
    make_estimator,
    quat,
)
from monitor.fusion.metrics import inclination_rmse_deg  # noqa: E402

SLOW = {"madgwick", "mahony", "ekf"}  # pure-Python ahrs adapters
STREAM_BATCH = 19
TAUS = [2.0, 2.5, 3.0, 4.0, 5.0]
LATENCIES_MS = [0.0, 1.0, 1.5, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5]

Trial = dict[str, np.ndarray]


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("numpy", "vqf", "ahrs"))
    return (
        f"{platform.node()} · {cpu} · {os.cpu_count()} logical cores · {platform.system()} "
        f"{platform.release()} · Python {platform.python_version()} · {versions} · "
        f"{dt.datetime.now().isoformat(timespec='minutes')}"
    )


def load_broad(data_dir: Path) -> dict[str, Trial]:
    trials = {}
    for path in sorted((data_dir / "broad").glob("*.npz")):
        with np.load(path) as z:
            trials[path.stem] = {k: z[k] for k in ("acc", "gyr", "quat", "movement", "rate_hz")}
    return trials


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def accuracy(trials: dict[str, Trial], names: list[str]) -> None:
    short = [k.split("_")[0] for k in trials]
    rows = []
    for name in names:
        est = make_estimator(name, 100.0)
        offline = not est.causal
        t0 = time.perf_counter()
        errs = []
        for t in trials.values():
            gyr = t["gyr"] if est.needs_gyro else None
            q = estimate(t["acc"], gyr, float(t["rate_hz"]), offline=offline, estimator=name)
            errs.append(inclination_rmse_deg(t["quat"], q, t["movement"]))
        mode = "offline" if offline else "live"
        rows.append([name, mode, *(f"{e:.3f}" for e in errs), f"**{np.mean(errs):.3f}**"])
        print(f"  {name}: {np.mean(errs):.3f}° ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print("\n## Inclination RMSE on BROAD (degrees, movement samples)\n")
    print("Trials: " + ", ".join(trials) + "\n")
    print(table(["estimator", "mode", *short, "mean"], rows))


def leave_one_out(trials: dict[str, Trial]) -> None:
    """Choose (tau_acc, latency) on 7 trials, score the 8th: how well the choice generalises."""
    names = list(trials)
    for offline in (False, True):
        grid = np.zeros((len(TAUS), len(LATENCIES_MS), len(names)))
        for i, tau in enumerate(TAUS):
            for k, t in enumerate(trials.values()):
                rate = float(t["rate_hz"])
                acc = np.ascontiguousarray(t["acc"], dtype=np.float64)
                gyr = np.ascontiguousarray(t["gyr"], dtype=np.float64)
                params = VQFParams(tau_acc=tau)
                est = OfflineVQFEstimator(rate, params) if offline else VQFEstimator(rate, params)
                q0 = est.update_batch(acc, gyr)
                # The latency prediction is an output stage, so apply it to one run per tau.
                g_pred = np.concatenate([gyr[1:], gyr[-1:]]) if offline else gyr
                for j, lat in enumerate(LATENCIES_MS):
                    q = quat.propagate(q0, g_pred, lat * 1e-3) if lat else q0
                    grid[i, j, k] = inclination_rmse_deg(t["quat"], q, t["movement"])
        mode = "offline VQF" if offline else "live VQF"
        mean = grid.mean(axis=2)
        print(f"\n## {mode}: mean RMSE over tau_acc (rows, s) × latency_s (columns, ms)\n")
        rows = [[f"{tau:g}", *(f"{x:.3f}" for x in mean[i])] for i, tau in enumerate(TAUS)]
        print(table(["tau \\ lat", *(f"{x:g}" for x in LATENCIES_MS)], rows))
        best_lat = [
            LATENCIES_MS[int(np.argmin(grid[TAUS.index(3.0), :, k]))] for k in range(len(names))
        ]
        print(f"\nBest latency per trial at tau 3 s (ms): {best_lat}")
        held, picks = [], []
        for k in range(len(names)):
            rest = np.delete(grid, k, axis=2).mean(axis=2)
            i, j = np.unravel_index(int(np.argmin(rest)), rest.shape)
            held.append(grid[i, j, k])
            picks.append(f"({TAUS[i]:g} s, {LATENCIES_MS[j]:g} ms)")
        print(
            f"\nLeave-one-trial-out, {mode}: held-out RMSE per trial "
            f"{' '.join(f'{e:.3f}' for e in held)}; **mean {np.mean(held):.3f}°**; "
            f"chosen settings {', '.join(picks)}"
        )


def time_batch(name: str, acc: np.ndarray, gyr: np.ndarray | None, rate: float, reps: int) -> float:
    """Best wall time of one estimate() call over all rows."""
    offline = not make_estimator(name, rate).causal
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        estimate(acc, gyr, rate, offline=offline, estimator=name)
        best = min(best, time.perf_counter() - t0)
    return best


def time_stream(
    name: str, acc: np.ndarray, gyr: np.ndarray | None, rate: float, reps: int
) -> float:
    """Best wall time to stream all rows in BLE-sized batches through one estimator."""
    est = make_estimator(name, rate)
    best = float("inf")
    for _ in range(reps):
        est.reset()
        t0 = time.perf_counter()
        for i in range(0, len(acc), STREAM_BATCH):
            est.update(
                acc[i : i + STREAM_BATCH], None if gyr is None else gyr[i : i + STREAM_BATCH]
            )
        best = min(best, time.perf_counter() - t0)
    return best


def speed(acc: np.ndarray, gyr: np.ndarray, rate: float, names: list[str]) -> None:
    rows = []
    for name in names:
        est = make_estimator(name, rate)
        slow = name in SLOW
        n = 3000 if slow else len(acc)
        a, g = acc[:n], (gyr[:n] if est.needs_gyro else None)
        batch = time_batch(name, a, g, rate, 1 if slow else 3)
        stream = "—"
        if est.causal:
            m = 1000 if slow else min(n, 100_000)
            t = time_stream(name, a[:m], None if g is None else g[:m], rate, 1 if slow else 3)
            stream = f"{t / m * 1e6:.2f}"
        rows.append([name, f"{batch / n * 1e6:.3f}", f"{n / batch / 1e6:.2f} M", stream, f"{n:,}"])
    print(f"\n## Speed ({rate:g} Hz data; best of 3; streaming in batches of {STREAM_BATCH})\n")
    header = ["estimator", "batch µs/sample", "batch samples/s", "stream µs/sample", "samples"]
    print(table(header, rows))


def synthetic(n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n) / rate
    gyr = np.column_stack([np.sin(0.7 * t), np.cos(0.5 * t), 0.5 * np.sin(0.3 * t)])
    q = np.empty((n, 4))
    cur = quat.IDENTITY
    steps = quat.from_rotvec(gyr / rate)
    for i in range(n):  # plain loop: this is only the fallback input for the speed table
        cur = quat.multiply(cur, steps[i])
        q[i] = cur
    acc = 9.81 * quat.earth_up_in_sensor(q)
    return acc, gyr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--quick", action="store_true", help="skip the slow pure-Python ahrs adapters")
    ap.add_argument("--estimators", help="comma-separated names (default: all)")
    ap.add_argument("--no-loo", action="store_true", help="skip the leave-one-trial-out grid")
    args = ap.parse_args()

    names = args.estimators.split(",") if args.estimators else list(ESTIMATORS)
    if args.quick:
        names = [n for n in names if n not in SLOW]
    names.sort(key=lambda n: (not make_estimator(n, 100.0).causal, list(ESTIMATORS).index(n)))

    print("# bench_fusion\n")
    print(f"Machine: {machine()}")
    trials = load_broad(args.data) if args.data.is_dir() else {}
    if trials:
        accuracy(trials, names)
        if not args.no_loo:
            leave_one_out(trials)
        acc = np.ascontiguousarray(
            np.concatenate([t["acc"] for t in trials.values()]), dtype=np.float64
        )
        gyr = np.ascontiguousarray(
            np.concatenate([t["gyr"] for t in trials.values()]), dtype=np.float64
        )
        rate = float(next(iter(trials.values()))["rate_hz"])
    else:
        print(
            f"\nBROAD data not found in {args.data / 'broad'}: accuracy skipped "
            "(pass the folder holding broad/*.npz). Speed on synthetic motion instead."
        )
        rate = 285.714
        acc, gyr = synthetic(200_000, rate)
    speed(acc, gyr, rate, names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
