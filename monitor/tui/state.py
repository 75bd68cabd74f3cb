"""What the dashboard shows, kept up to date by the worker at data rate.

Plain data, no textual: the worker writes here on every pipeline step (cheap), and the screen's
10 Hz refresh reads it. So however fast samples come, widgets redraw at a steady rate, and a
test can check the numbers without a terminal.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.exercises import Place, kind_for_zone
from monitor.live import LiveStream, step_events
from monitor.nudge import (
    NudgeConfig,
    NudgeEvent,
    NudgeLevel,
    NudgePolicy,
    NudgeShown,
    Suggestion,
)
from monitor.pipeline import PipelineStep
from monitor.stream import SampleBatch, StreamEvent, StreamGap
from monitor.totals import day_start_by
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

HISTORY_S = 3600.0  # the timeline shows the last hour


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    t: float
    posture: Posture
    zone: TiltZone
    sagittal_deg: float
    frontal_deg: float


class DashboardState:
    """The latest values and the last hour, for one run of the pipeline (a fresh one per seek)."""

    def __init__(self, live: LiveStream) -> None:
        self.live = live
        if live.totals.hour_of is None:  # sitting per hour, for a tall "Today" panel
            live.totals.hour_of = self.hour_start
        if live.totals.day_start is None:  # "Today" starts again at midnight
            live.totals.day_start = day_start_by(lambda t: self.policy.local_time(t))
        self.sagittal_deg = math.nan
        self.frontal_deg = math.nan
        # Notification.received_at of the packet behind the angles: for the latency figure.
        self.tilt_received_at: float | None = None
        self.tilt_seq = 0  # bumps with every new angle, so a widget knows it has news
        self.data_t: float | None = None  # the stream's "now": host time of the latest item
        self.timeline: deque[TimelinePoint] = deque()
        self.last_nudge: NudgeShown | None = None
        self.new_nudges: list[NudgeShown] = []  # shown since the UI last looked
        self.answers: list[str] = []  # the service applied an answer: what to tell the wearer
        self.rebuilt_from = 0  # today's earlier recordings counted in the totals
        self.catching_up = False  # an attached dashboard going through the day so far
        self.device: DeviceInfo | None = None
        self.gaps = 0
        self.ended = False  # the transport ran out (a replay's end)
        self.error: str | None = None  # the worker stopped on this error
        # While the calibration wizard is open, the worker hands it every batch.
        self.batch_sink: Callable[[SampleBatch], None] | None = None
        # While the coach is open, the worker hands it every pipeline step (it needs the tilt).
        self.step_sink: Callable[[PipelineStep], None] | None = None

    # --- fed by the worker ---------------------------------------------------------------------

    def on_step(self, step: PipelineStep) -> None:
        for link_or_stream in step_events(step):
            self._on_event(link_or_stream)
        item = step.item
        self.data_t = item.received_at if isinstance(item, Notification) else item.at
        if step.tilt is not None and len(step.tilt.sagittal_deg):
            self.sagittal_deg = float(step.tilt.sagittal_deg[-1])
            self.frontal_deg = float(step.tilt.frontal_deg[-1])
            if isinstance(item, Notification):
                self.tilt_received_at = item.received_at
            self.tilt_seq += 1
        for snap in step.snapshots:
            self._add_point(snap)
        for event in step.nudges:
            if isinstance(event, NudgeShown):
                self.last_nudge = event
                if not self.catching_up:  # past nudges are history, not news
                    self.new_nudges.append(event)
        if step.batch is not None and self.batch_sink is not None:
            self.batch_sink(step.batch)
        if self.step_sink is not None:
            self.step_sink(step)

    def _on_event(self, event: StreamEvent | LinkEvent) -> None:
        if isinstance(event, StreamGap):
            self.gaps += 1
        elif (
            isinstance(event, LinkEvent)
            and event.kind is LinkEventKind.DEVICE_INFO
            and event.device_info is not None
        ):
            self.device = event.device_info

    def caught_up(self) -> None:
        """The history is through: the nudge still pending, if any, is news now."""
        self.catching_up = False
        if self.nudge_pending and self.last_nudge is not None:
            self.new_nudges.append(self.last_nudge)

    def note_user_events(self, events: tuple[NudgeEvent, ...]) -> None:
        """Snooze and dismiss answers count in the day's totals like the pipeline's own events."""
        for event in events:
            self.live.totals.add_nudge_event(event)

    def _add_point(self, snap: ActivitySnapshot) -> None:
        self.timeline.append(
            TimelinePoint(snap.t, snap.posture, snap.zone, snap.sagittal_deg, snap.frontal_deg)
        )
        while self.timeline and self.timeline[0].t < snap.t - HISTORY_S:
            self.timeline.popleft()

    # --- read by the widgets -------------------------------------------------------------------

    def hour_start(self, t: float) -> float:
        """The start of the wearer's local hour ``t`` falls in (the nudge policy's clock)."""
        local = self.policy.local_time(t)
        return t - (local.minute * 60 + local.second + local.microsecond / 1e6)

    @property
    def snapshot(self) -> ActivitySnapshot | None:
        return self.live.pipeline.latest_snapshot

    @property
    def policy(self) -> NudgePolicy:
        return self.live.pipeline.nudge_policy

    @property
    def nudge_config(self) -> NudgeConfig:
        return self.policy.config

    @property
    def nudge_pending(self) -> bool:
        """A nudge is on screen, unanswered (a real break also clears it)."""
        return self.live.pipeline.nudge_state.pending is not None

    def data_time(self) -> float:
        """The time to stamp the wearer's answers with: the stream's own clock, not the wall's."""
        snap = self.snapshot
        times = [t for t in (self.data_t, snap.t if snap else None) if t is not None]
        return max(times) if times else 0.0


@dataclass(frozen=True, slots=True)
class NextNudge:
    level: str  # "gentle" or "firm"
    at_min: float  # bout minutes at which it is due
    from_min: float  # where this stretch of the bar starts (the previous threshold)
    bout_min: float
    note: str = ""  # snoozed, quiet hours: why it may come later
    snooze_left_min: float = 0.0  # a snooze holds back a nudge that is due

    @property
    def fraction(self) -> float:
        span = self.at_min - self.from_min
        return 1.0 if span <= 0 else min(max((self.bout_min - self.from_min) / span, 0.0), 1.0)

    @property
    def left_min(self) -> float:
        """Minutes until it can show: its threshold, or the snooze's end if that is later."""
        return max(self.at_min - self.bout_min, self.snooze_left_min, 0.0)


def next_nudge(state: DashboardState) -> NextNudge | None:
    """The next sitting nudge of this bout (None when not sitting in a bout)."""
    snap = state.snapshot
    if snap is None or snap.sitting_bout_start is None:
        return None
    cfg = state.nudge_config
    nudges = state.live.pipeline.nudge_state
    # bout_stage counts the thresholds already handled: gentle, firm, then every repeat.
    stage = nudges.bout_stage if nudges.bout_start == snap.sitting_bout_start else 0
    if stage == 0:
        level, at, start = "gentle", cfg.gentle_min, 0.0
    elif stage == 1:
        level, at, start = "firm", cfg.firm_min, cfg.gentle_min
    else:
        level = "firm"
        at = cfg.firm_min + (stage - 1) * cfg.repeat_min
        start = at - cfg.repeat_min
    note = ""
    snooze_left_min = 0.0
    if nudges.snoozed_until is not None and nudges.snoozed_until > snap.t:
        snooze_left_min = (nudges.snoozed_until - snap.t) / 60.0
        note = f"snoozed for {math.ceil(snooze_left_min):.0f} more min"
    else:
        local = state.policy.local_time(snap.t)
        quiet = next((q for q in cfg.quiet_hours if q.contains(local)), None)
        if quiet is not None:
            note = f"quiet hours until {quiet.end:%H:%M}"
    return NextNudge(level, at, start, snap.sitting_bout_s / 60.0, note, snooze_left_min)


_SAMPLE_ORDER = (NudgeLevel.GENTLE, NudgeLevel.FIRM, NudgeLevel.TILT)


def sample_nudge(state: DashboardState, after: NudgeLevel | None = None) -> NudgeShown:
    """A nudge as the wearer's settings and exercises would show it, for the sample key: the
    level after ``after`` (gentle, firm, tilt, round again). The policy's state is not touched."""
    level = _SAMPLE_ORDER[(_SAMPLE_ORDER.index(after) + 1) % 3 if after is not None else 0]
    cfg = state.nudge_config
    if level is NudgeLevel.TILT:
        zone, minutes = TiltZone.POSTERIOR, cfg.sustained_tilt_min
        reason = f"After {minutes:g} minutes slumped back (posterior tilt), for example."
    else:
        zone = TiltZone.NEUTRAL
        minutes = cfg.gentle_min if level is NudgeLevel.GENTLE else cfg.firm_min
        reason = f"After {minutes:g} minutes of sitting, for example."
    exercises = state.policy.exercises
    kind = kind_for_zone(zone)
    suggestion = Suggestion(kind, exercises.stance.move, exercises.pick(kind, 0, place=Place.DESK))
    return NudgeShown(state.data_time(), level, reason, minutes, zone, suggestion)
