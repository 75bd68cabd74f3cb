"""The pelvic range test on the true motion of simulated wearers, and when it cannot finish."""

from __future__ import annotations

import numpy as np
import pytest
from coach_helpers import in_chunks, ramps, true_tilt

from monitor.coach.range_test import PHASE_TIMEOUT_S, RangePhase, RangeTest


@pytest.mark.parametrize("seed", [0, 5])
def test_ranges_neutral_and_sides_against_the_truth(seed: int) -> None:
    truth, t, sag, fro = true_tilt("coach_range", seed)
    test = RangeTest()
    in_chunks(lambda *a: test.feed(*a), t, sag, fro)
    assert test.phase is RangePhase.DONE and test.result is not None
    res = test.result

    def mean(movement: str, **match: object) -> float:
        return float(
            np.mean(
                [
                    r.range_deg
                    for r in truth.reps
                    if r.movement == movement and all(getattr(r, k) == v for k, v in match.items())
                ]
            )
        )

    fwd, back = mean("range_sagittal", direction=1), mean("range_sagittal", direction=-1)
    right, left = mean("range_frontal", side="right"), mean("range_frontal", side="left")
    assert res.sagittal_range_deg == pytest.approx(fwd + back, abs=0.5)
    assert res.anterior_deg == pytest.approx(fwd, abs=1.0)  # from the neutral, which sways
    assert res.neutral_fraction == pytest.approx(back / (fwd + back), abs=0.03)
    # hitches are small and measured from the neutral, which sways a few tenths of a degree
    assert res.right_hitch_deg == pytest.approx(right, abs=1.0)
    assert res.left_hitch_deg == pytest.approx(left, abs=1.0)
    assert res.asymmetry_deg == pytest.approx(res.right_hitch_deg - res.left_hitch_deg)
    assert res.strokes == 12
    assert "of the way to your forward limit" in res.summary()


def test_the_neutral_must_be_an_upright_stand() -> None:
    test = RangeTest()
    test.feed(*ramps((0.0, -60.0, 0.0), (5.0, -60.0, 0.0)))  # lying back in a chair, still
    assert test.phase is RangePhase.STAND
    test.feed(*ramps((5.0, 0.0, 0.0), (8.0, 0.0, 0.0)))
    assert test.phase is RangePhase.SAGITTAL and test.neutral == pytest.approx((0.0, 0.0))


def test_no_movement_fails_with_a_reason_after_the_timeout() -> None:
    test = RangeTest()
    test.feed(*ramps((0.0, 0.0, 0.0), (PHASE_TIMEOUT_S + 10.0, 0.0, 0.0)))
    assert test.phase is RangePhase.FAILED and test.result is None
    assert "No forward and back tilts seen" in test.prompt
