"""Tilt accuracy end to end on simulated office days (docs/calibration.md).

For each day (seed): a guided calibration on the `calibration` scenario and automatic alignment
on the office day itself recover the mounting; then the office day's raw samples go through
fusion and tilt, scored against the simulator's truth over the whole day and its last hour.
Same seed = same chip (biases, scales, noise) and same random clip mounting in both scenarios.

    python benchmarks/bench_tilt.py                    # 20 days of 8 h (~10 min on 2 cores)
    python benchmarks/bench_tilt.py --days 3 --hours 1 # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from calibration import (
    AccelCalibration,
    CalibrationProcedure,
    CalibrationResult,
    GyroBiasTracker,
    align_recording,
    fit_accelerometer,
    quat_angle_deg,
)
from calibration.rotation import angle_deg, quat_to_matrix
from firmware_sim import ImuErrors, simulate
from firmware_sim.imu_model import ImuErrorModel
from monitor.tilt_pipeline import tilt_batch

SKIP_S = 5.0  # the neutral stand that defines zero; the filter also settles there


def guided(seed: int, accel: AccelCalibration | None = None) -> CalibrationResult:
    rec = simulate("calibration", seed=seed)
    acc = rec.acc if accel is None else accel.apply(rec.acc)
    proc = CalibrationProcedure(rec.rate_hz)
    start = int(rec.rate_hz)  # a live stream joins a second or so late
    for i in range(start, len(rec), 19):
        proc.feed(rec.t[i : i + 19], acc[i : i + 19], rec.gyr[i : i + 19])
        if proc.finished:
            break
    if proc.result is None:
        raise RuntimeError(f"seed {seed}: calibration failed: {proc.error}")
    return proc.result


def accel_calibration(seed: int, rate_hz: float = 100.0) -> AccelCalibration:
    """The optional six-face accelerometer calibration of this seed's chip."""
    imu = ImuErrorModel(ImuErrors(), seed)
    rng = np.random.default_rng(seed)
    faces = [np.eye(3)[i] * s for i in range(3) for s in (1, -1)]
    faces += [v / np.linalg.norm(v) for v in rng.normal(size=(4, 3))]
    means = []
    for k, up in enumerate(faces):
        n = int(3 * rate_hz)
        t = np.arange(n) / rate_hz
        _, acc, _ = imu.apply(k, t, rate_hz, np.zeros((n, 3)), np.tile(up * 9.80665, (n, 1)))
        means.append(acc.mean(axis=0))
    return fit_accelerometer(np.array(means))


def mounting_errors(q: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(whole rotation, up axis, heading about up) errors in degrees."""
    r, rt = quat_to_matrix(q), quat_to_matrix(truth)
    x = r[0] - (r[0] @ rt[2]) * rt[2]
    return quat_angle_deg(q, truth), angle_deg(r[2], rt[2]), angle_deg(x, rt[0])


def rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(err * err)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    started = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.days):
        rec = simulate("office_day", seed=seed, duration_s=args.hours * 3600.0)
        rate = rec.rate_hz
        skip = int(SKIP_S * rate)
        last = max(skip, len(rec) - int(3600 * rate))
        cal = guided(seed)
        for name, err in zip(
            ("rot", "up", "fwd"), mounting_errors(cal.q_PS, rec.mounting), strict=True
        ):
            add(f"mount guided {name}", err)
        accel = accel_calibration(seed, rate)
        cal_acc = guided(seed, accel)
        for name, err in zip(
            ("rot", "up", "fwd"), mounting_errors(cal_acc.q_PS, rec.mounting), strict=True
        ):
            add(f"mount guided+acc {name}", err)
        segments = align_recording(rec.acc, rec.gyr, rate)
        auto_q = segments[0].q_PS
        for name, err in zip(
            ("rot", "up", "fwd"), mounting_errors(auto_q, rec.mounting), strict=True
        ):
            add(f"mount auto {name}", err)
        add("auto segments (1 = no false slip)", len(segments))
        runs = {
            "live, guided": dict(mounting=cal.q_PS),
            "live, guided + bias tracker": dict(
                mounting=cal.q_PS, bias_tracker=GyroBiasTracker(rate, initial_bias=cal.gyro_bias)
            ),
            "live, guided + acc cal": dict(mounting=cal_acc.q_PS, accel=accel),
            "live, auto": dict(mounting=auto_q),
            "offline, guided": dict(mounting=cal.q_PS, offline=True),
            "live, true q_PS": dict(mounting=rec.mounting),
        }
        for label, kw in runs.items():
            tilt = tilt_batch(rec.acc, rec.gyr, rate, **kw)  # type: ignore[arg-type]
            es = tilt.sagittal_deg - rec.sagittal_deg
            ef = tilt.frontal_deg - rec.frontal_deg
            add(f"{label}: sag", rmse(es[skip:]))
            add(f"{label}: fro", rmse(ef[skip:]))
            add(f"{label}: sag last h", rmse(es[last:]))
            add(f"{label}: fro last h", rmse(ef[last:]))
        print(
            f"seed {seed}: guided mount {rows['mount guided rot'][-1]:.2f}°,"
            f" auto {rows['mount auto rot'][-1]:.2f}°, live sag/fro"
            f" {rows['live, guided: sag'][-1]:.2f}/{rows['live, guided: fro'][-1]:.2f}°"
            f" ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    print(
        f"\n{args.days} office days of {args.hours:g} h, seeds {args.first_seed}…"
        f"{args.first_seed + args.days - 1}, default ImuErrors, random mountings"
    )
    print(f"{'figure (degrees)':<42} {'mean':>7} {'median':>7} {'max':>7}")
    for key, values in rows.items():
        v = np.array(values)
        print(f"{key:<42} {v.mean():7.3f} {np.median(v):7.3f} {v.max():7.3f}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
