"""Nudge timing on simulated office days, against the simulator's ground truth.

    python benchmarks/bench_nudges.py [--days 3] [--rate 25]

For each day (seeded 8-hour office day, random mounting, default IMU errors): calibrate
automatically from the data, estimate tilt, classify posture, run the nudge policy, and compare
with what the truth says was due:

- due nudges: a gentle one 45 min and a firm one 60 min into every true sitting bout (a bout ends
  only with 1 min or more upright); each must fire within 60 s of being due;
- no nudge in a bout that ends in time, nor during the first 45 min of any bout (so short
  stand-ups inside a bout did not reset its clock);
- sitting time per day within 2 % of the truth;
- snooze (the wearer snoozes every gentle nudge) and quiet hours (12:00–13:00): nothing fires
  inside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from calibration import align_recording
from firmware_sim.motion import Activity
from firmware_sim.simulation import SimulatedRecording, simulate
from monitor.activity import Posture
from monitor.fusion import quat
from monitor.nudge import (
    NudgeConfig,
    NudgeLevel,
    NudgePolicy,
    NudgeShown,
    QuietHours,
    fixed_offset,
)
from monitor.posture import PelvisSamples, PostureResult, classify
from monitor.tilt_pipeline import tilt_batch

DAY_START = dt.datetime(2026, 11, 16, 8, 30, tzinfo=dt.UTC).timestamp()  # a Monday, 08:30
BREAK_S = 60.0


def true_bouts(rec: SimulatedRecording) -> list[tuple[float, float]]:
    """Sitting bouts of the truth: sitting runs joined across upright spells shorter than 1 min."""
    rate = rec.rate_hz
    sitting = np.asarray(rec.activity) == Activity.SITTING
    edges = np.flatnonzero(np.diff(np.concatenate([[0], sitting.astype(int), [0]])))
    runs = [(s / rate, e / rate) for s, e in zip(edges[::2], edges[1::2], strict=True)]
    bouts: list[list[float]] = []
    for start, end in runs:
        if bouts and start - bouts[-1][1] < BREAK_S:
            bouts[-1][1] = end
        else:
            bouts.append([start, end])
    return [(s, e) for s, e in bouts]


def analyse_day(
    rec: SimulatedRecording, policy: NudgePolicy, *, snooze: bool = False
) -> tuple[PostureResult, list[NudgeShown], list[tuple[float, float]]]:
    """Posture and nudges for a day; with ``snooze``, the wearer snoozes every gentle nudge."""
    segments = align_recording(rec.acc, rec.gyr, rec.rate_hz)
    tilt = tilt_batch(rec.acc, rec.gyr, rec.rate_hz, segments)
    q_PS = np.empty((len(rec.t), 4))
    for seg in segments:
        q_PS[seg.start :] = seg.q_PS
    samples = PelvisSamples(
        DAY_START + rec.t,
        quat.rotate(q_PS, rec.acc),
        quat.rotate(q_PS, rec.gyr),
        tilt.sagittal_deg,
        tilt.frontal_deg,
    )
    result = classify(samples)
    state = policy.initial_state()
    shown: list[NudgeShown] = []
    snoozes: list[tuple[float, float]] = []
    for snap in result.snapshots:
        state, events = policy.step(state, snap)
        for event in events:
            if isinstance(event, NudgeShown):
                shown.append(event)
                if snooze and event.level is NudgeLevel.GENTLE:
                    state, _ = policy.snooze(state, event.t + 5.0)
                    snoozes.append((event.t + 5.0, event.t + 5.0 + policy.config.snooze_min * 60))
    return result, shown, snoozes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--rate", type=int, default=25)
    args = parser.parse_args()
    local = fixed_offset(0)
    plain = NudgePolicy(NudgeConfig(quiet_hours=()), local_time=local)
    quiet = NudgePolicy(
        NudgeConfig(quiet_hours=(QuietHours.parse("12:00", "13:00"),)), local_time=local
    )
    failures = 0
    print("day  sitting true/est (min)  err %   due  on-time  late/missing  early  snooze  quiet")
    for seed in range(args.days):
        started = time.perf_counter()
        rec = simulate("office_day", seed=seed, rate_hz=args.rate)
        bouts = true_bouts(rec)
        result, shown, _ = analyse_day(rec, plain)
        true_sit = float(np.sum(np.asarray(rec.activity) == Activity.SITTING)) / rec.rate_hz
        est_sit = (
            sum(1.0 for s in result.snapshots if s.posture is Posture.SITTING) * result.frame_s
        )
        err = 100 * (est_sit - true_sit) / true_sit
        due = [
            (DAY_START + start + minutes * 60, level)
            for start, end in bouts
            for minutes, level in ((45, NudgeLevel.GENTLE), (60, NudgeLevel.FIRM))
            if end - start >= minutes * 60 + 60  # still sitting a minute after it is due
        ]
        on_time = sum(
            any(n.level is level and abs(n.t - t_due) <= 60 for n in shown) for t_due, level in due
        )
        # Nudges early in a bout would mean a short stand-up reset nothing but a real break did
        # not end it, or the clock ran from the wrong start.
        early = sum(
            1
            for n in shown
            if not any(DAY_START + s + 45 * 60 - 60 <= n.t <= DAY_START + e + 120 for s, e in bouts)
        )
        _, snoozed_shown, snoozes = analyse_day(rec, plain, snooze=True)
        in_snooze = sum(1 for n in snoozed_shown for a, b in snoozes if a < n.t < b - 1)
        _, quiet_shown, _ = analyse_day(rec, quiet)
        in_quiet = sum(1 for n in quiet_shown if dt.time(12) <= local(n.t) < dt.time(13))
        failures += (len(due) - on_time) + early + in_snooze + in_quiet + (abs(err) > 2)
        print(
            f"{seed:3d}  {true_sit / 60:7.1f} / {est_sit / 60:7.1f}      {err:+5.2f}  {len(due):4d}"
            f"  {on_time:7d}  {len(due) - on_time:12d}  {early:5d}  {in_snooze:6d}  {in_quiet:5d}"
            f"   ({time.perf_counter() - started:.0f} s)"
        )
    print("all checks hold" if failures == 0 else f"{failures} checks failed")


if __name__ == "__main__":
    main()
