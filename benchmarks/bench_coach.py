"""The coach (issue 14) on simulated wearers: repetitions counted, ranges, sides.

    python benchmarks/bench_coach.py [--seeds N] [--first S] [--rate HZ]

For every seed a different simulated person (range, tempo, holds, form, one side weaker, sets
sometimes stopped early) wears the sensor clipped at a random angle, with the default IMU noise
and biases, and does every built-in routine and the range test. The wire bytes go through the
live pipeline (no saved calibration: the mounting is found from the opening walk, as for a new
wearer) and the coach's state machines, exactly as ``tiltmon coach ... --sim`` runs them, minus
the radio (``tests/coach/test_coach_cli.py`` runs that path). Printed against the ground truth
of firmware_sim.exercises:

- sets (one exercise, one side) counted exactly, and the worst miss (done when: >= 98 %, <= 1);
- sets whose sides were swapped, and repetitions put on the wrong side (done when: 0);
- the range of each repetition and of the range test against the truth (done when: within 2°).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from firmware_sim.exercises import ExerciseTruth, exercise_truth  # noqa: E402
from firmware_sim.packets import packetize  # noqa: E402
from firmware_sim.simulation import simulate  # noqa: E402
from monitor.coach.range_test import RangeTest  # noqa: E402
from monitor.coach.repetitions import Repetition  # noqa: E402
from monitor.coach.routine import RoutineRun  # noqa: E402
from monitor.coach.session import CoachFeed  # noqa: E402
from monitor.coach.simulated import RANGE_SCENARIO, routine_scenario  # noqa: E402
from monitor.exercises import Counted, load_catalogue  # noqa: E402
from monitor.live import LiveStream  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.sensors import StreamFormat  # noqa: E402
from monitor.transport.items import (  # noqa: E402
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

T0 = 1_750_000_000.0
DEVICE = DeviceInfo("tiltmon-BE7C", "C0:FF:EE:00:BE:7C", serial="TM-BENCH")


def items_for(scenario: str, seed: int, rate: int) -> list[TransportItem]:
    rec = simulate(scenario, seed=seed, rate_hz=rate)
    out: list[TransportItem] = [
        LinkEvent(T0, LinkEventKind.CONNECTED, DEVICE.address),
        LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=DEVICE),
        LinkEvent(T0, LinkEventKind.CONFIGURED, config=StreamFormat(rate, 8, 500, True, 19, True)),
    ]
    out += [Notification(T0 + t + 0.012, payload) for t, payload in packetize(rec)]
    return out


def run(feed: CoachFeed, items: list[TransportItem]) -> None:
    live = LiveStream(pipeline=Pipeline())
    for item in items:
        step = live.feed(item)
        snap = live.pipeline.latest_snapshot
        feed.on_step(step, live.pipeline.calibrated, snap.posture if snap else None)
        if feed.finished:
            return
    last = items[-1]
    end = last.received_at if isinstance(last, Notification) else T0
    if isinstance(feed.machine, RoutineRun):
        feed.machine.stop(end)  # the data ended first: what was done so far
    else:
        feed.machine.stop(end, "the recording ended")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--rate", type=int, default=50)
    args = ap.parse_args()
    catalogue = load_catalogue()
    seeds = range(args.first, args.first + args.seeds)
    started = time.process_time()

    sets = exact = 0
    worst = 0
    misses: list[str] = []
    swapped = wrong_side = 0
    rep_errors: list[float] = []
    per_movement: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for routine in catalogue.routines.values():
        scenario = routine_scenario(routine)
        for seed in seeds:
            truth = exercise_truth(scenario, seed)
            feed = CoachFeed(RoutineRun(routine))
            run(feed, items_for(scenario, seed, args.rate))
            result = feed.machine.result() if isinstance(feed.machine, RoutineRun) else None
            assert result is not None
            truth_sets = [t for t in truth.sets if t.movement != "hold"]
            by_step: dict[str, dict[str, int]] = defaultdict(dict)
            for t in truth_sets:
                by_step[t.movement][t.side] = t.done
            results = list(result.steps) + [None] * (len(routine.steps) - len(result.steps))
            for step, asked in zip(results, routine.steps, strict=True):
                sensor = asked.exercise.sensor
                if not isinstance(sensor, Counted):
                    continue
                movement = sensor.movement
                true_sides = by_step[movement]
                got = {s.side: s.done for s in step.sides} if step is not None else {}
                for side, true_n in true_sides.items():
                    n = got.get(side, 0)
                    sets += 1
                    per_movement[movement][0] += 1
                    if n == true_n:
                        exact += 1
                        per_movement[movement][1] += 1
                    else:
                        misses.append(
                            f"{routine.name} seed {seed} {movement} {side or '-'}: {n} of {true_n}"
                        )
                    worst = max(worst, abs(n - true_n))
                extra = {s: n for s, n in got.items() if s not in true_sides and n}
                wrong_side += sum(extra.values())
                sides = [s for s in ("left", "right") if s in true_sides]
                if len(sides) == 2:
                    lt, rt = true_sides["left"], true_sides["right"]
                    if lt != rt and got.get("left") == rt and got.get("right") == lt:
                        swapped += 1
            # range of every repetition matched to the truth by time
            reps = [e for e in feed.events if isinstance(e, Repetition)]
            for tr in truth.reps:
                mid = T0 + 0.5 * (tr.t_start + tr.t_end)
                near = [
                    r for r in reps if r.t_start - 1.0 <= mid <= r.t_end + 1.0 and r.side == tr.side
                ]
                if near:
                    best = min(near, key=lambda r: abs(0.5 * (r.t_start + r.t_end) - mid))
                    rep_errors.append(best.range_deg - tr.range_deg)

    range_err: dict[str, list[float]] = defaultdict(list)
    range_failed = 0
    for seed in seeds:
        truth = exercise_truth(RANGE_SCENARIO, seed)
        test = RangeTest()
        feed = CoachFeed(test)
        run(feed, items_for(RANGE_SCENARIO, seed, args.rate))
        if test.result is None:
            range_failed += 1
            continue
        res = test.result

        def mean(
            movement: str,
            side: str | None = None,
            direction: int | None = None,
            truth: ExerciseTruth = truth,
        ) -> float:
            vals = [
                r.range_deg
                for r in truth.reps
                if r.movement == movement
                and (side is None or r.side == side)
                and (direction is None or r.direction == direction)
            ]
            return float(np.mean(vals))

        fwd, back = mean("range_sagittal", direction=1), mean("range_sagittal", direction=-1)
        right, left = mean("range_frontal", "right"), mean("range_frontal", "left")
        range_err["sagittal range"].append(res.sagittal_range_deg - (fwd + back))
        range_err["frontal range"].append(res.frontal_range_deg - (right + left))
        range_err["right hitch"].append(res.right_hitch_deg - right)
        range_err["left hitch"].append(res.left_hitch_deg - left)
        range_err["neutral fraction (%-points)"].append(
            100 * (res.neutral_fraction - back / (fwd + back))
        )
    cpu = time.process_time() - started

    print(
        "python benchmarks/bench_coach.py"
        f" --seeds {args.seeds} --first {args.first} --rate {args.rate}"
    )
    print(
        f"{len(catalogue.routines)} routines x {args.seeds} simulated wearers"
        " (random mounting, IMU noise, person)"
    )
    print(
        f"sets counted exactly: {exact}/{sets} = {100 * exact / max(sets, 1):.1f} %"
        "  (done when >= 98 %)"
    )
    print(f"worst set: off by {worst}  (done when <= 1)")
    for movement, (n, ok) in sorted(per_movement.items()):
        print(f"  {movement:22s} {ok}/{n} exact")
    for line in misses[:12]:
        print(f"  miss: {line}")
    print(
        f"sides swapped: {swapped} sets; repetitions on a side not worked: {wrong_side}"
        "  (done when 0)"
    )
    err = np.abs(np.array(rep_errors))
    print(
        f"repetition range vs truth ({err.size} reps): median {np.median(err):.2f}°,"
        f" p95 {np.percentile(err, 95):.2f}°, max {err.max():.2f}°,"
        f" within 2°: {100 * np.mean(err <= 2.0):.1f} %"
    )
    print(f"range test ({args.seeds - range_failed}/{args.seeds} finished):")
    for name, vals in range_err.items():
        a = np.abs(np.array(vals))
        bar = "" if "fraction" in name else "  (done when max <= 2°)"
        print(f"  {name:28s} mean |err| {a.mean():.2f}, max {a.max():.2f}{bar}")
    print(f"CPU {cpu:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
