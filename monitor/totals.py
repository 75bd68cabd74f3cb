"""The day's figures, accumulated from the activity stream: what reports and the UI show.

Pure: fed the same snapshots and nudge events, live or from a replay, it gives the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.nudge import NudgeEvent, NudgeOutcome, NudgeShown

MAX_STEP_S = 5.0  # a longer silence between snapshots (a gap) counts as nothing


# Midnights closer than this are one (a clock change moves the local midnight by an hour).
_SAME_DAY_S = 12 * 3600.0


def day_start_by(local_time: Callable[[float], dt.time]) -> Callable[[float], float]:
    """t -> the midnight that began its day, by the wearer's clock ``local_time`` (the nudge
    policy's: the computer's time zone, or a fixed one in tests and replays)."""

    def day_start(t: float) -> float:
        local = local_time(t)
        return t - (local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6)

    return day_start


@dataclass(slots=True)
class ActivityTotals:
    seconds_by_posture: defaultdict[Posture, float] = field(
        default_factory=lambda: defaultdict(float)
    )
    # Time per tilt zone while sitting or standing.
    seconds_by_zone: defaultdict[TiltZone, float] = field(
        default_factory=lambda: defaultdict(float)
    )
    bouts: list[tuple[float, float]] = field(default_factory=list)  # closed: (start, end)
    open_bout: tuple[float, float] | None = None
    # Bouts the end of a recording cut off: not ended by a break, so they count as no break.
    cut_bouts: list[tuple[float, float]] = field(default_factory=list)
    # With ``hour_of`` (t -> start of its local hour), sitting seconds per hour for a chart.
    hour_of: Callable[[float], float] | None = None
    sitting_by_hour: defaultdict[float, float] = field(default_factory=lambda: defaultdict(float))
    nudges_shown: int = 0
    nudges_followed: int = 0
    nudges_resolved: int = 0
    # With ``day_start`` (t -> the start of its local day), these are one day's totals: the
    # first snapshot of a new day starts them afresh from its midnight (a service running past
    # midnight shows the new day, as a dashboard started then would).
    day_start: Callable[[float], float] | None = None
    day: float | None = None  # the start of the day counted, once anything was
    _last_t: float | None = None

    def add_snapshot(self, snap: ActivitySnapshot) -> None:
        since = self._last_t
        if self._new_day(snap.t) and since is not None and self.day is not None:
            since = max(since, self.day)  # the step counts from midnight on
        if since is not None:
            step = snap.t - since
            if 0 < step <= MAX_STEP_S:
                self.seconds_by_posture[snap.posture] += step
                if snap.posture is Posture.SITTING and self.hour_of is not None:
                    self.sitting_by_hour[self.hour_of(snap.t)] += step
                if snap.posture in (Posture.SITTING, Posture.STANDING):
                    self.seconds_by_zone[snap.zone] += step
        self._last_t = snap.t
        start = snap.sitting_bout_start
        if self.open_bout is not None and start != self.open_bout[0]:
            self.bouts.append(self.open_bout)  # a real break ended it
            self.open_bout = None
        # A bout runs from its start to the last moment sat in it; short stand-ups inside it
        # (shorter than a real break) neither end nor lengthen it.
        if start is not None and (self.open_bout is None or snap.posture is Posture.SITTING):
            self.open_bout = (start, snap.t)

    def _new_day(self, t: float) -> bool:
        """Whether ``t`` begins a new day, which then starts afresh: nothing of the day before
        is counted; a bout still running goes on into the new day, whole, as it was sat."""
        if self.day_start is None:
            return False
        day = self.day_start(t)
        if self.day is None:
            self.day = day
            return False
        if day <= self.day + _SAME_DAY_S:
            return False
        self.seconds_by_posture.clear()
        self.seconds_by_zone.clear()
        self.sitting_by_hour.clear()
        self.bouts = []
        self.cut_bouts = []
        self.nudges_shown = self.nudges_followed = self.nudges_resolved = 0
        self.day = day
        return True

    def add_nudge_event(self, event: NudgeEvent) -> None:
        at = event.t_resolved if isinstance(event, NudgeOutcome) else event.t
        self._new_day(at)
        if isinstance(event, NudgeOutcome) and self.day is not None and event.t_nudge < self.day:
            return  # the nudge was the day before's
        if isinstance(event, NudgeShown):
            self.nudges_shown += 1
        elif isinstance(event, NudgeOutcome):
            self.nudges_resolved += 1
            self.nudges_followed += event.followed

    def end_stream(self) -> None:
        """A recording ended: close its open bout without calling it a break.

        The next snapshot (another session of the same day) then starts afresh.
        """
        if self.open_bout is not None:
            self.cut_bouts.append(self.open_bout)
            self.open_bout = None
        self._last_t = None

    def absorb(self, earlier: ActivityTotals) -> None:
        """Add the figures of earlier, separate recordings (today rebuilt after a restart).

        Sums and bout lists only: the order does not matter, and the running bout is untouched.
        """
        for posture, seconds in earlier.seconds_by_posture.items():
            self.seconds_by_posture[posture] += seconds
        for zone, seconds in earlier.seconds_by_zone.items():
            self.seconds_by_zone[zone] += seconds
        for hour, seconds in earlier.sitting_by_hour.items():
            self.sitting_by_hour[hour] += seconds
        self.bouts = sorted(self.bouts + earlier.bouts)
        cut = earlier.cut_bouts + ([earlier.open_bout] if earlier.open_bout is not None else [])
        self.cut_bouts = sorted(self.cut_bouts + cut)
        self.nudges_shown += earlier.nudges_shown
        self.nudges_followed += earlier.nudges_followed
        self.nudges_resolved += earlier.nudges_resolved

    @property
    def all_bouts(self) -> list[tuple[float, float]]:
        bouts = self.bouts + self.cut_bouts
        if self.open_bout is not None:
            bouts.append(self.open_bout)
        return sorted(bouts)

    @property
    def sitting_s(self) -> float:
        return self.seconds_by_posture[Posture.SITTING]

    @property
    def breaks(self) -> int:
        """Real breaks: sitting bouts that ended with the wearer upright for long enough."""
        return len(self.bouts)

    def summary(self) -> dict[str, object]:
        lengths = [end - start for start, end in self.all_bouts]
        return {
            "sitting_min": round(self.sitting_s / 60, 1),
            "standing_min": round(self.seconds_by_posture[Posture.STANDING] / 60, 1),
            "walking_min": round(self.seconds_by_posture[Posture.WALKING] / 60, 1),
            "lying_min": round(self.seconds_by_posture[Posture.LYING] / 60, 1),
            "bouts": len(lengths),
            "bouts_over_30_min": sum(s > 30 * 60 for s in lengths),
            "bouts_over_60_min": sum(s > 60 * 60 for s in lengths),
            "longest_bout_min": round(max(lengths, default=0.0) / 60, 1),
            "breaks": self.breaks,
            "zone_min": {z.value: round(self.seconds_by_zone[z] / 60, 1) for z in TiltZone},
            "nudges": self.nudges_shown,
            "nudges_followed_by_break": self.nudges_followed,
        }
