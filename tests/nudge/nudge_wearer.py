"""A scripted wearer: ActivitySnapshot sequences once a second, with the posture machine's rules.

Bouts start at the first sitting second and end only after `break_s` upright (the bout start then
becomes None); `last_break_end` is set when the wearer sits again after a real break; a non-neutral
zone becomes `sustained_zone` once held `sustained_s`. Standing reads as neutral.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.nudge import Dismiss, NudgeEvent, NudgePolicy, NudgeShown, NudgeState, Snooze

# 2023-11-14 09:00 UTC: daytime, outside the default quiet hours with fixed_offset(0).
T0 = dt.datetime(2023, 11, 14, 9, 0, tzinfo=dt.UTC).timestamp()
MIN = 60.0


class Wearer:
    def __init__(self, t0: float = T0, break_s: float = 60.0, sustained_s: float = 600.0) -> None:
        self.t = t0
        self.break_s = break_s
        self.sustained_s = sustained_s
        self.bout_start: float | None = None
        self.last_break_end: float | None = None
        self.in_break = False
        self.upright_since: float | None = None
        self.zone = TiltZone.NEUTRAL
        self.zone_since = t0

    def sit(self, seconds: float, zone: TiltZone = TiltZone.NEUTRAL) -> list[ActivitySnapshot]:
        return [self._tick(Posture.SITTING, zone) for _ in range(round(seconds))]

    def stand(self, seconds: float) -> list[ActivitySnapshot]:
        return [self._tick(Posture.STANDING, TiltZone.NEUTRAL) for _ in range(round(seconds))]

    def _tick(self, posture: Posture, zone: TiltZone) -> ActivitySnapshot:
        self.t += 1.0
        t = self.t
        if posture is Posture.SITTING:
            if self.bout_start is None:
                self.bout_start = t
            self.upright_since = None
            if self.in_break:
                self.last_break_end = t
                self.in_break = False
        else:
            if self.upright_since is None:
                self.upright_since = t
            if t - self.upright_since >= self.break_s:
                self.bout_start = None
                self.in_break = True
        if zone is not self.zone:
            self.zone, self.zone_since = zone, t
        held = t - self.zone_since >= self.sustained_s
        return ActivitySnapshot(
            t=t,
            posture=posture,
            zone=self.zone,
            sagittal_deg=0.0,
            frontal_deg=0.0,
            sitting_bout_start=self.bout_start,
            last_break_end=self.last_break_end,
            zone_since=self.zone_since,
            sustained_zone=self.zone if held and self.zone is not TiltZone.NEUTRAL else None,
        )


def run(
    policy: NudgePolicy,
    items: Iterable[ActivitySnapshot | Snooze | Dismiss],
    state: NudgeState | None = None,
) -> tuple[NudgeState, list[NudgeEvent]]:
    state = policy.initial_state() if state is None else state
    events: list[NudgeEvent] = []
    for item in items:
        state, new = policy.feed(state, item)
        events.extend(new)
    return state, events


def shown(events: Sequence[NudgeEvent]) -> list[NudgeShown]:
    return [e for e in events if isinstance(e, NudgeShown)]
