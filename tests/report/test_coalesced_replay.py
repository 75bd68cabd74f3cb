"""Coalesced replays (``Pipeline(coalesce_s=...)``) give exactly what feeding packets one by one
gives: the same timeline, transitions, nudges and mounting changes, gaps and alignment included."""

from __future__ import annotations

import numpy as np
import pytest
from report_helpers import session_items

from firmware_sim.simulation import simulate
from monitor.nudge import NudgeConfig, NudgePolicy, fixed_offset
from monitor.pipeline import Pipeline, PipelineStep

T0 = 1_750_000_000.0


def run(items: list, coalesce_s: float) -> list[PipelineStep]:
    policy = NudgePolicy(
        NudgeConfig(gentle_min=20, firm_min=25, quiet_hours=()), local_time=fixed_offset(0)
    )
    pipeline = Pipeline(nudges=policy, coalesce_s=coalesce_s)
    steps = [pipeline.feed(item) for item in items]
    last = pipeline.flush()
    return steps + ([last] if last is not None else [])


@pytest.mark.slow
def test_coalescing_changes_nothing_but_the_batch_sizes() -> None:
    rec = simulate("office_day", seed=4, rate_hz=25, duration_s=40 * 60)
    # No profile (provisional, then automatic alignment), and a gap of lost packets.
    items = session_items(rec, T0, drop=(900.0, 930.0))
    one = run(items, 0.0)
    many = run(items, 30.0)

    def flat(steps: list[PipelineStep], field: str) -> list[object]:
        return [x for s in steps for x in getattr(s, field)]

    assert sum(s.batch is not None for s in many) < sum(s.batch is not None for s in one) / 10
    for field in ("snapshots", "transitions", "nudges", "stream_events"):
        assert flat(many, field) == flat(one, field), field
    assert len(flat(one, "snapshots")) > 35 * 60

    def mountings(steps: list[PipelineStep]) -> list[tuple[float, str]]:
        return [(s.mounting.t, s.mounting.source.value) for s in steps if s.mounting is not None]

    assert mountings(many) == mountings(one)
    assert [source for _, source in mountings(one)] == ["provisional", "automatic"]
    for name in ("sagittal_deg", "frontal_deg"):
        a = np.concatenate([getattr(s.tilt, name) for s in one if s.tilt is not None])
        b = np.concatenate([getattr(s.tilt, name) for s in many if s.tilt is not None])
        np.testing.assert_array_equal(a, b)
    t_one = np.concatenate([s.batch.host_time for s in one if s.batch is not None])
    t_many = np.concatenate([s.batch.host_time for s in many if s.batch is not None])
    np.testing.assert_array_equal(t_one, t_many)
