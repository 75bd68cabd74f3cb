"""The day's totals across midnight: a running session starts the new day at 00:00."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.nudge import NudgeOutcome, fixed_offset
from monitor.totals import ActivityTotals, day_start_by

# 2026-11-30 00:00 at UTC+2, the wearer's clock in these tests.
MIDNIGHT = dt.datetime(2026, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()


def sitting(t: float, bout_start: float) -> ActivitySnapshot:
    return ActivitySnapshot(
        t, Posture.SITTING, TiltZone.NEUTRAL, 0.0, 0.0, bout_start, None, bout_start, None
    )


def totals_from(
    start: float, end: float, *, hour_of: Callable[[float], float] | None = None
) -> ActivityTotals:
    totals = ActivityTotals(day_start=day_start_by(fixed_offset(2.0)), hour_of=hour_of)
    t = start
    while t <= end:
        totals.add_snapshot(sitting(t, start))
        t += 1.0
    return totals


def test_the_new_day_counts_from_midnight_and_the_bout_goes_on_whole() -> None:
    totals = totals_from(MIDNIGHT - 300.5, MIDNIGHT + 119.5)
    assert totals.day == MIDNIGHT
    assert totals.sitting_s == 119.5  # from midnight to the last snapshot, 00:01:59.5
    assert totals.open_bout == (MIDNIGHT - 300.5, MIDNIGHT + 119.5)
    assert totals.summary()["longest_bout_min"] == round(420 / 60, 1)


def test_without_a_clock_the_totals_are_the_session_s() -> None:
    totals = ActivityTotals()
    for k in range(421):
        totals.add_snapshot(sitting(MIDNIGHT - 300.5 + k, MIDNIGHT - 300.5))
    assert totals.sitting_s == 420.0 and totals.day is None


def test_the_sitting_hours_and_the_nudges_of_the_day_before_are_left_behind() -> None:
    totals = totals_from(MIDNIGHT - 3600.0, MIDNIGHT - 1.0, hour_of=lambda t: t - t % 3600)
    totals.add_nudge_event(NudgeOutcome(MIDNIGHT - 600.0, True, MIDNIGHT - 300.0))
    assert totals.nudges_resolved == 1 and totals.sitting_by_hour
    totals.add_snapshot(sitting(MIDNIGHT + 0.5, MIDNIGHT - 3600.0))
    # Resolved after midnight, but the nudge was shown the day before: not this day's.
    totals.add_nudge_event(NudgeOutcome(MIDNIGHT - 60.0, True, MIDNIGHT + 30.0))
    assert totals.nudges_resolved == totals.nudges_followed == 0
    assert totals.breaks == 0 and totals.sitting_s == 0.5
    assert dict(totals.sitting_by_hour) == {MIDNIGHT: 0.5}


def test_a_clock_change_is_not_a_new_day() -> None:
    # The wearer's clock goes back an hour at 03:00 (the end of summer time): its midnight seems
    # to move an hour later, which is still the same day.
    def summer_then_winter(t: float) -> dt.time:
        hours = 3.0 if t < MIDNIGHT + 3 * 3600 else 2.0
        return fixed_offset(hours)(t)

    totals = ActivityTotals(day_start=day_start_by(summer_then_winter))
    for k in range(7200):
        totals.add_snapshot(sitting(MIDNIGHT + 2 * 3600 + k, MIDNIGHT))
    assert totals.sitting_s == 7199.0
