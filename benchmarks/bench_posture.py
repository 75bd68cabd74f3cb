"""Posture and sitting detection (monitor.posture) on UCI HAPT and on simulated office days.

    python benchmarks/bench_posture.py [DATA_DIR] [--no-louo] [--no-sim] [--seeds 0,1,2]

DATA_DIR holds hapt/*.npz (default: ../shared/data next to the repository); the data are read in
place, never copied. Without them the HAPT part is skipped with a message.

HAPT (label-free: the labels are used only to score): per experiment, orientation by the live
fusion default (``estimate(acc, gyr, 50)``), an upright reference found from the data alone
(``monitor.mounting.upright_only``: mean earth-up while walking), then
``classify``. Scored per sample on labelled sitting, standing, lying and walking (1–3); the
transitions (7–12) and unlabelled samples are not scored. Prints 4-class accuracy, sitting F1,
per-class recall, the confusion matrix, per-experiment numbers and a leave-one-user-out figure
for the two settings that were tuned (``stand_match_deg``, ``height_change_m``).

Office day (firmware_sim, 25 Hz, true mounting as calibration would give it): sitting time per
day against the truth, per-second accuracy, and the sitting bouts (a break is ≥ 60 s upright)
against the truth's bouts.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from monitor.activity import Posture  # noqa: E402
from monitor.fusion import estimate  # noqa: E402
from monitor.mounting import upright_only  # noqa: E402
from monitor.posture import (  # noqa: E402
    PelvisSamples,
    PostureConfig,
    SittingBout,
    classify,
)

G = 9.80665
CLASSES = (Posture.SITTING, Posture.STANDING, Posture.LYING, Posture.WALKING)
HAPT_MAP = {1: Posture.WALKING, 2: Posture.WALKING, 3: Posture.WALKING, 4: Posture.SITTING}
HAPT_MAP |= {5: Posture.STANDING, 6: Posture.LYING}
# the two tuned settings and the small grid the leave-one-user-out check chooses from
GRID = {"stand_match_deg": (4.0, 5.0, 6.0), "height_change_m": (0.15, 0.2, 0.3)}


@dataclass(frozen=True)
class HaptRun:
    name: str
    user: int
    truth: np.ndarray  # (n_scored,) Posture values
    pred: np.ndarray


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


class HaptExperiment:
    """One HAPT recording, prepared once (fusion and alignment do not depend on the config)."""

    def __init__(self, path: Path) -> None:
        with np.load(path) as z:
            acc = z["acc_g"].astype(np.float64) * G  # the file is in g
            gyr = z["gyr"].astype(np.float64)
            self.label = z["label"].astype(np.int64)
            rate = float(z["rate_hz"])
        self.name = path.stem
        self.user = int(path.stem.split("user")[1])
        q_ES = estimate(acc, gyr, rate)
        q_PS = upright_only(acc, gyr, rate)
        self.t = np.arange(len(acc)) / rate
        self.samples = PelvisSamples.from_sensor(self.t, acc, gyr, q_ES, q_PS)
        self.scored = np.isin(self.label, list(HAPT_MAP))
        self.truth = np.array([HAPT_MAP[int(v)] for v in self.label[self.scored]], dtype=object)

    def run(self, config: PostureConfig | None = None) -> HaptRun:
        # upright_only finds up only: forward (and so the sign of a tilt) is unknown
        res = classify(self.samples, config, heading_known=False)
        pred = np.array(res.posture_at(self.t[self.scored]), dtype=object)
        return HaptRun(self.name, self.user, self.truth, pred)


def load_hapt(data_dir: Path) -> list[HaptExperiment]:
    return [HaptExperiment(p) for p in sorted((data_dir / "hapt").glob("*.npz"))]


def scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(4-class accuracy, sitting F1)."""
    acc = float(np.mean(truth == pred))
    tp = float(np.sum((truth == Posture.SITTING) & (pred == Posture.SITTING)))
    fp = float(np.sum((truth != Posture.SITTING) & (pred == Posture.SITTING)))
    fn = float(np.sum((truth == Posture.SITTING) & (pred != Posture.SITTING)))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    return acc, f1


def pooled(runs: list[HaptRun]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([r.truth for r in runs]), np.concatenate([r.pred for r in runs])


def louo(exps: list[HaptExperiment]) -> tuple[float, float, list[str]]:
    """Leave-one-user-out: pick the grid point best on the other users, score the held-out one."""
    configs = [
        PostureConfig(stand_match_deg=a, height_change_m=b)
        for a, b in itertools.product(*GRID.values())
    ]
    runs = {i: [e.run(c) for e in exps] for i, c in enumerate(configs)}
    users = sorted({e.user for e in exps})
    held: list[HaptRun] = []
    picks = []
    for u in users:

        def train_score(i: int, u: int = u) -> float:
            return scores(*pooled([r for r in runs[i] if r.user != u]))[0]

        best = max(runs, key=train_score)
        c = configs[best]
        picks.append(f"user {u}: {c.stand_match_deg:g}°/{c.height_change_m:g} m")
        held += [r for r in runs[best] if r.user == u]
    acc, f1 = scores(*pooled(held))
    spread = [scores(*pooled(runs[i]))[0] for i in runs]
    picks.append(f"grid accuracy on all users {min(spread):.4f}–{max(spread):.4f}")
    return acc, f1, picks


def report_hapt(data_dir: Path, do_louo: bool) -> None:
    if not sorted((data_dir / "hapt").glob("*.npz")):
        print(f"HAPT skipped: no hapt/*.npz in {data_dir} (pass DATA_DIR or set it up)")
        return
    t0 = time.perf_counter()
    exps = load_hapt(data_dir)
    runs = [e.run() for e in exps]
    dt = time.perf_counter() - t0
    truth, pred = pooled(runs)
    acc, f1 = scores(truth, pred)
    print(f"## HAPT ({len(exps)} experiments, {truth.size} scored samples, {dt:.1f} s)\n")
    print(f"4-class accuracy **{acc:.4f}**, sitting F1 **{f1:.3f}** (targets 0.98 / 0.96)\n")
    rows = []
    for c in CLASSES:
        m = truth == c
        row = [f"{c.value}", f"{np.mean(pred[m] == c):.4f}"]
        row += [str(int(np.sum(pred[m] == k))) for k in (*CLASSES, Posture.UNKNOWN)]
        rows.append(row)
    head = ["truth \\ predicted", "recall", *(c.value for c in CLASSES), "unknown"]
    print(table(head, rows) + "\n")
    rows = []
    for r in runs:
        a, f = scores(r.truth, r.pred)
        rows.append([r.name, f"{a:.4f}", f"{f:.3f}"])
    print(table(["experiment", "accuracy", "sitting F1"], rows) + "\n")
    if do_louo:
        la, lf, picks = louo(exps)
        print(f"Leave-one-user-out over {GRID}: accuracy **{la:.4f}**, sitting F1 **{lf:.3f}**")
        print("chosen per held-out user: " + "; ".join(picks) + "\n")


# --- simulated office days --------------------------------------------------------------------


def truth_bouts(t: np.ndarray, sitting: np.ndarray, upright: np.ndarray, break_s: float) -> list:
    """Sitting bouts from per-second truth with the same break rule as the classifier."""
    bouts: list[SittingBout] = []
    start = last = None
    up_since = None
    for ti, s, u in zip(t.tolist(), sitting.tolist(), upright.tolist(), strict=True):
        if s:
            start = ti if start is None else start
            last, up_since = ti + 1.0, None
        elif u:
            up_since = ti if up_since is None else up_since
            if start is not None and ti + 1.0 - up_since >= break_s:
                bouts.append(SittingBout(start, up_since))
                start = None
        else:
            up_since = None
    if start is not None and last is not None:
        bouts.append(SittingBout(start, last))
    return bouts


@dataclass(frozen=True)
class OfficeDay:
    seed: int
    sit_true_s: float
    sit_est_s: float
    accuracy: float
    bouts_true: list[SittingBout]
    bouts_est: list[SittingBout]

    @property
    def sit_error(self) -> float:
        return (self.sit_est_s - self.sit_true_s) / self.sit_true_s


def office_day(seed: int, rate_hz: float = 25.0) -> OfficeDay:
    from firmware_sim.motion import Activity
    from firmware_sim.simulation import simulate

    rec = simulate("office_day", seed=seed, rate_hz=rate_hz)
    q = estimate(rec.acc, rec.gyr, rate_hz)
    res = classify(PelvisSamples.from_sensor(rec.t, rec.acc, rec.gyr, q, rec.mounting))
    pred = np.array(res.posture_at(rec.t), dtype=object)
    act = rec.activity
    amap = {Activity.SITTING: Posture.SITTING, Activity.STANDING: Posture.STANDING}
    amap |= {Activity.WALKING: Posture.WALKING, Activity.LYING: Posture.LYING}
    scored = act != Activity.TRANSITION
    truth = np.array([amap[Activity(a)] for a in act[scored]], dtype=object)
    # sitting time: transitions count half (a sit-down is half sitting), as the truth cannot say
    sit_true = (np.sum(act == Activity.SITTING) + 0.5 * np.sum(~scored)) / rate_hz
    sit_est = float(np.sum(pred == Posture.SITTING)) / rate_hz
    # per-second truth for the bouts (majority of each second)
    n_s = int(rec.t[-1])
    sec = np.minimum((rec.t * 1.0).astype(int), n_s - 1)
    sit_frac = np.bincount(sec, act == Activity.SITTING, n_s) / np.maximum(np.bincount(sec), 1)
    up = np.isin(act, [Activity.STANDING, Activity.WALKING])
    up_frac = np.bincount(sec, up, n_s) / np.maximum(np.bincount(sec), 1)
    tb = truth_bouts(np.arange(n_s, dtype=float), sit_frac > 0.5, up_frac > 0.5, 60.0)
    return OfficeDay(
        seed,
        float(sit_true),
        sit_est,
        float(np.mean(pred[scored] == truth)),
        tb,
        list(res.bouts),
    )


def match_bouts(a: list[SittingBout], b: list[SittingBout], tol_s: float = 30.0) -> int:
    """Truth bouts with an estimated bout starting and ending within ``tol_s``."""
    return sum(
        any(abs(x.start - y.start) <= tol_s and abs(x.end - y.end) <= tol_s for y in b) for x in a
    )


def report_sim(seeds: list[int]) -> None:
    print("## Simulated office days (8 h, firmware_sim, 25 Hz)\n")
    rows = []
    for seed in seeds:
        d = office_day(seed)
        ok = match_bouts(d.bouts_true, d.bouts_est)
        rows.append(
            [
                str(seed),
                f"{d.sit_true_s / 60:.1f}",
                f"{d.sit_est_s / 60:.1f}",
                f"{100 * d.sit_error:+.2f} %",
                f"{d.accuracy:.4f}",
                f"{len(d.bouts_true)} / {len(d.bouts_est)} / {ok}",
            ]
        )
    head = ["seed", "sitting true (min)", "estimated (min)", "error", "accuracy"]
    head.append("bouts true / estimated / matched ±30 s")
    print(table(head, rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data_dir", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--no-louo", action="store_true", help="skip the leave-one-user-out check")
    ap.add_argument("--no-sim", action="store_true", help="skip the simulated office days")
    ap.add_argument("--seeds", default="0,1,2", help="office-day seeds (default 0,1,2)")
    args = ap.parse_args(argv)
    report_hapt(args.data_dir, not args.no_louo)
    if not args.no_sim:
        report_sim([int(s) for s in args.seeds.split(",") if s])
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["HaptExperiment", "load_hapt", "office_day", "pooled", "scores"]
