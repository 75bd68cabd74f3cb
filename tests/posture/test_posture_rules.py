"""Hand-made inputs: hysteresis of sitting bouts, tilt zones, sustained tilt, configuration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from posture_synth import concat, day, move, sequence, still

from monitor.activity import Posture, TiltZone, TransitionKind
from monitor.posture import (
    PelvisSamples,
    PostureClassifier,
    PostureConfig,
    PostureConfigError,
    classify,
    tilt_zone,
)


def postures(res_snapshots: tuple, t: float) -> Posture:
    return next(s.posture for s in res_snapshots if s.t > t)


def test_sit_down_and_stand_up_recognised() -> None:
    res = classify(day(("stand", 20, 0.0), ("sit", 60, -3.0), ("stand", 20, 0.0)))
    kinds = [tr.kind for tr in res.transitions]
    assert kinds == [TransitionKind.STAND_TO_SIT, TransitionKind.SIT_TO_STAND]
    assert postures(res.snapshots, 10) is Posture.STANDING
    assert postures(res.snapshots, 50) is Posture.SITTING  # only 3° of tilt: the transition says
    assert postures(res.snapshots, 100) is Posture.STANDING


def test_short_stand_up_keeps_the_bout() -> None:
    steps = [("stand", 20, 0.0), ("sit", 300, -8.0), ("stand", 40, 0.0), ("sit", 300, -8.0)]
    res = classify(day(*steps, ("stand", 90, 0.0)))
    # one bout from the first sit-down to the final stand-up, despite the 40 s stand-up
    assert len(res.bouts) == 1
    bout = res.bouts[0]
    assert bout.start == pytest.approx(23, abs=2)
    assert bout.end == pytest.approx(20 + 2.5 + 300 + 2.5 + 40 + 2.5 + 300 + 2.5, abs=3)
    mid = next(s for s in res.snapshots if s.t > 340)  # during the short stand-up
    assert mid.posture is Posture.STANDING and mid.sitting_bout_start == bout.start
    # the bout closes once the wearer has been upright for a minute, not before
    last = [s for s in res.snapshots if s.t > bout.end]
    before = [s for s in last if s.t - bout.end < 59]
    after = [s for s in last if s.t - bout.end > 61]
    assert all(s.sitting_bout_start == bout.start for s in before)
    assert all(s.sitting_bout_start is None for s in after)
    assert after[-1].last_break_end is None  # the break has not ended yet (still upright)


def test_long_break_splits_bouts() -> None:
    steps = [("stand", 20, 0.0), ("sit", 120, -8.0), ("stand", 70, 0.0), ("sit", 120, -8.0)]
    res = classify(day(*steps))
    assert len(res.bouts) == 2
    second = next(s for s in res.snapshots if s.t > 300)
    assert second.sitting_bout_start == pytest.approx(res.bouts[1].start)
    assert second.last_break_end == pytest.approx(res.bouts[1].start, abs=1)


def test_break_length_is_configurable() -> None:
    steps = [("stand", 20, 0.0), ("sit", 120, -8.0), ("stand", 40, 0.0), ("sit", 120, -8.0)]
    assert len(classify(day(*steps)).bouts) == 1
    assert len(classify(day(*steps), PostureConfig(break_s=30.0)).bouts) == 2


def test_lying_from_tilt() -> None:
    res = classify(sequence((20, 0.0, 0.0), (30, -85.0, 0.0), (30, 0.0, 85.0), (20, 0.0, 0.0)))
    assert postures(res.snapshots, 35) is Posture.LYING
    assert postures(res.snapshots, 65) is Posture.LYING
    # upright again with no rise of the pelvis: people sit up out of lying before they stand
    assert postures(res.snapshots, 95) is Posture.SITTING
    kinds = [tr.kind for tr in res.transitions]
    assert kinds == [TransitionKind.TO_LYING, TransitionKind.FROM_LYING]


def test_getting_up_from_lying_sits_then_stands() -> None:
    samples = concat(
        still(20, 0.0),
        still(30, -85.0, t0=20),
        move(3.0, -85.0, -10.0, 0.0, t0=50, peak_deg=0.0),  # sit up on the bed's edge
        still(10, -10.0, t0=53),
        move(2.5, -10.0, 0.0, 0.42, t0=63),  # and stand up
        still(20, 0.0, t0=65.5),
    )
    res = classify(samples)
    assert postures(res.snapshots, 35) is Posture.LYING
    assert postures(res.snapshots, 58) is Posture.SITTING
    assert postures(res.snapshots, 75) is Posture.STANDING
    kinds = [tr.kind for tr in res.transitions]
    assert kinds == [
        TransitionKind.TO_LYING,
        TransitionKind.FROM_LYING,
        TransitionKind.SIT_TO_STAND,
    ]


@pytest.mark.parametrize(
    ("sag", "fro", "zone"),
    [
        (0.0, 0.0, TiltZone.NEUTRAL),
        (8.5, 0.0, TiltZone.ANTERIOR),
        (-8.5, 0.0, TiltZone.POSTERIOR),
        (0.0, 5.5, TiltZone.LATERAL_RIGHT),
        (0.0, -5.5, TiltZone.LATERAL_LEFT),
        (-9.0, 6.0, TiltZone.LATERAL_RIGHT),  # 6/5 beyond its threshold beats 9/8
        (7.5, 4.5, TiltZone.NEUTRAL),
    ],
)
def test_zone_thresholds(sag: float, fro: float, zone: TiltZone) -> None:
    assert tilt_zone(sag, fro, TiltZone.NEUTRAL) is zone


def test_zone_hysteresis() -> None:
    cfg = PostureConfig(posterior_deg=8.0, zone_hysteresis_deg=2.0)
    assert tilt_zone(-7.0, 0.0, TiltZone.NEUTRAL, cfg) is TiltZone.NEUTRAL
    assert tilt_zone(-7.0, 0.0, TiltZone.POSTERIOR, cfg) is TiltZone.POSTERIOR  # kept
    assert tilt_zone(-5.9, 0.0, TiltZone.POSTERIOR, cfg) is TiltZone.NEUTRAL  # left
    assert tilt_zone(math.nan, 0.0, TiltZone.ANTERIOR, cfg) is TiltZone.ANTERIOR


def test_sustained_tilt_timing_standing() -> None:
    cfg = PostureConfig(sustained_s=120.0)
    res = classify(sequence((10, 0.0, 0.0), (150, 0.0, -7.0), (20, 0.0, 0.0)), cfg)
    lean = [s for s in res.snapshots if 10 < s.t <= 160]
    assert all(s.zone is TiltZone.LATERAL_LEFT and s.zone_since == 10.0 for s in lean)
    sustained = [s.t for s in lean if s.sustained_zone is TiltZone.LATERAL_LEFT]
    assert sustained[0] == pytest.approx(130.0)  # 120 s after it began
    assert all(s.sustained_zone is None for s in lean if s.t < 130.0)
    end = [s for s in res.snapshots if s.t > 162]
    assert all(s.zone is TiltZone.NEUTRAL and s.sustained_zone is None for s in end)


def test_sitting_zone_is_relative_to_the_sitting_baseline() -> None:
    # the wearer sits at -10° (their upright sitting); a slump to -22° is posterior
    cfg = PostureConfig(sitting_baseline_deg=-10.0, adapt_sitting_baseline=False)
    res = classify(day(("stand", 20, 0.0), ("sit", 60, -10.0), ("sit", 60, -22.0)), cfg)
    upright = [s for s in res.snapshots if 30 < s.t < 80]
    slumped = [s for s in res.snapshots if s.t > 85]
    assert all(s.posture is Posture.SITTING for s in upright + slumped)
    assert all(s.zone is TiltZone.NEUTRAL for s in upright)
    assert all(s.zone is TiltZone.POSTERIOR for s in slumped)


def test_sitting_baseline_adapts() -> None:
    steps = [("stand", 20, 0.0)]
    for _ in range(6):
        steps += [("sit", 60, -16.0), ("stand", 70, 0.0)]
    res = classify(day(*steps))
    sits = [s for s in res.snapshots if s.posture is Posture.SITTING and s.sagittal_deg < -15]
    first, last_sit = sits[0], sits[-1]
    assert first.zone is TiltZone.POSTERIOR  # the default baseline is -8°
    # upright sitting at -16° is the wearer's habit: after a few bouts it is no longer posterior
    assert last_sit.zone is TiltZone.NEUTRAL


def test_unknown_when_samples_are_nan() -> None:
    ps = sequence((10, 0.0, 0.0), (5, 0.0, 0.0), (10, 0.0, 0.0))
    sag = ps.sagittal_deg.copy()
    sag[250:375] = np.nan
    res = classify(PelvisSamples(ps.t, ps.acc_P, ps.gyr_P, sag, ps.frontal_deg))
    assert [s.posture for s in res.snapshots][10:15] == [Posture.UNKNOWN] * 5
    assert res.snapshots[-1].posture is Posture.STANDING


def test_streaming_rejects_time_going_back() -> None:
    clf = PostureClassifier()
    clf.update(still(2.0))
    with pytest.raises(PostureConfigError, match="increasing"):
        clf.update(still(2.0))


def test_samples_shapes_checked() -> None:
    with pytest.raises(PostureConfigError, match="acc_P"):
        PelvisSamples(np.zeros(3), np.zeros((3, 2)), np.zeros((3, 3)), np.zeros(3), np.zeros(3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frame_s": 0.0}, "frame_s"),
        ({"break_s": -1.0}, "break_s"),
        ({"lying_exit_deg": 70.0}, "lying_exit_deg"),
        ({"walk_band_hz": (3.0, 1.0)}, "walk_band_hz"),
        ({"walk_band_frac": 1.5}, "walk_band_frac"),
        ({"zone_hysteresis_deg": 6.0}, "zone_hysteresis_deg"),
        ({"sustained_s": math.nan}, "sustained_s"),
        ({"sitting_baseline_deg": -40.0}, "sitting_baseline_deg"),
        ({"walk_window_s": 0.5}, "walk_window_s"),
    ],
)
def test_config_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(PostureConfigError, match=match):
        PostureConfig(**kwargs)  # type: ignore[arg-type]
    assert issubclass(PostureConfigError, ValueError)
