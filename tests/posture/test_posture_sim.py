"""Posture classes, transitions, bouts and live = batch on firmware_sim scenarios."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from firmware_sim.motion import Activity
from firmware_sim.simulation import SimulatedRecording, simulate
from monitor.activity import Posture, TransitionKind
from monitor.fusion import estimate
from monitor.posture import PelvisSamples, PostureClassifier, PostureResult, classify

RATE = 25.0


@cache
def run(scenario: str, seed: int = 0) -> tuple[SimulatedRecording, PelvisSamples, PostureResult]:
    rec = simulate(scenario, seed=seed, rate_hz=RATE)
    q = estimate(rec.acc, rec.gyr, RATE)
    ps = PelvisSamples.from_sensor(rec.t, rec.acc, rec.gyr, q, rec.mounting)
    return rec, ps, classify(ps)


def agreement(rec: SimulatedRecording, res: PostureResult, activity: Activity) -> float:
    pred = np.array(res.posture_at(rec.t), dtype=object)
    m = rec.activity == activity
    return float(np.mean(pred[m] == Posture(activity.name.lower())))


@pytest.mark.parametrize("seed", [0, 1])
def test_sit_stand_transitions(seed: int) -> None:
    rec, _, res = run("sit_stand", seed)
    kinds = [tr.kind for tr in res.transitions]
    assert kinds == [TransitionKind.STAND_TO_SIT, TransitionKind.SIT_TO_STAND] * 6
    # each recognised transition lies within a few seconds of a true one
    true_mid = rec.t[np.flatnonzero(np.diff((rec.activity == Activity.TRANSITION).astype(int)))]
    for tr in res.transitions:
        assert np.min(np.abs(true_mid - tr.t)) < 4.0
    assert agreement(rec, res, Activity.SITTING) > 0.95
    assert agreement(rec, res, Activity.STANDING) > 0.95


def test_lying() -> None:
    rec, _, res = run("lying")
    assert agreement(rec, res, Activity.LYING) > 0.98
    kinds = [tr.kind for tr in res.transitions]
    assert TransitionKind.TO_LYING in kinds and TransitionKind.FROM_LYING in kinds
    assert kinds.index(TransitionKind.TO_LYING) < kinds.index(TransitionKind.FROM_LYING)


def test_walk() -> None:
    rec, _, res = run("walk")
    assert agreement(rec, res, Activity.WALKING) > 0.97
    assert agreement(rec, res, Activity.STANDING) > 0.95
    assert not any(s.posture is Posture.SITTING for s in res.snapshots)


def test_snapshots_every_second() -> None:
    rec, _, res = run("desk_short")
    ts = np.array([s.t for s in res.snapshots])
    assert np.allclose(np.diff(ts), 1.0)
    assert ts[0] == pytest.approx(1.0) and ts[-1] >= rec.t[-1]


@pytest.mark.parametrize("chunk", [1, 7, 19, 333])
def test_live_equals_batch(chunk: int) -> None:
    _, ps, batch = run("desk_short")
    clf = PostureClassifier()
    snaps, trans = [], []
    for lo in range(0, len(ps), chunk):
        out = clf.update(ps.slice(lo, lo + chunk))
        snaps += out.snapshots
        trans += out.transitions
    out = clf.flush()
    assert snaps + list(out.snapshots) == list(batch.snapshots)
    assert trans + list(out.transitions) == list(batch.transitions)
    assert clf.bouts == batch.bouts


def test_office_day() -> None:
    """Sitting time within 2 % of the truth; brief stand-ups do not split bouts."""
    rec = simulate("office_day", seed=0, rate_hz=10.0)
    q = estimate(rec.acc, rec.gyr, 10.0)
    res = classify(PelvisSamples.from_sensor(rec.t, rec.acc, rec.gyr, q, rec.mounting))
    pred = np.array(res.posture_at(rec.t), dtype=object)
    transition = rec.activity == Activity.TRANSITION
    sit_true = np.sum(rec.activity == Activity.SITTING) + 0.5 * np.sum(transition)
    sit_est = np.sum(pred == Posture.SITTING)
    assert abs(sit_est - sit_true) / sit_true < 0.02
    # truth bouts: sitting runs joined across upright gaps shorter than 60 s
    sit = rec.activity == Activity.SITTING
    edges = np.flatnonzero(np.diff(sit.astype(int)))
    starts, ends = rec.t[edges[::2] + 1], rec.t[edges[1::2] + 1]
    bouts: list[list[float]] = []
    for a, b in zip(starts, ends, strict=False):
        if bouts and a - bouts[-1][1] < 60.0:
            bouts[-1][1] = b
        else:
            bouts.append([a, b])
    assert len(res.bouts) == len(bouts)
    for (a, b), est in zip(bouts, res.bouts, strict=True):
        assert abs(est.start - a) < 10.0 and abs(est.end - b) < 10.0
