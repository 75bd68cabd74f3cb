"""The nudge policy: when to invite the wearer to stand up and move, and what to suggest.

A pure state machine over the posture machine's ActivitySnapshots (issue 4). Time comes only from
the snapshots and the user actions, so live use, replay and tests run the same code:

    policy = NudgePolicy(NudgeConfig(), local_time=fixed_offset(1.0))
    state = policy.initial_state()
    for snapshot in snapshots:
        state, events = policy.step(state, snapshot)
    state, events = policy.snooze(state, t)   # or dismiss(state, t)

docs/nudges.md describes the rules and the events.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.errors import ConfigError
from monitor.exercises import (
    Catalogue,
    Exercise,
    ExerciseKind,
    Place,
    kind_for_zone,
    load_catalogue,
)

MIN_SITTING_MIN = 20.0  # research on sitting points to 20-30 minutes; nothing shorter
FOLLOW_WINDOW_S = 300.0  # a break starting this soon after a nudge counts as following it
MAX_ZONE_STEP_S = 5.0  # a longer silence between snapshots is a gap, not time spent in a zone

LocalTime = Callable[[float], dt.time]


def system_local_time(t: float) -> dt.time:
    """Wall-clock time of day in the computer's time zone for epoch seconds `t`."""
    return dt.datetime.fromtimestamp(t).time()


def fixed_offset(hours: float) -> LocalTime:
    """Time of day at a fixed UTC offset: deterministic, for tests and replays."""
    zone = dt.timezone(dt.timedelta(hours=hours))

    def local_time(t: float) -> dt.time:
        return dt.datetime.fromtimestamp(t, zone).time()

    return local_time


# --- configuration ---------------------------------------------------------------------------

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily range of local time without nudges; it may wrap midnight (22:00 to 07:00)."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ConfigError("start and end are the same time", key="quiet_hours")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(_parse_clock(start), _parse_clock(end))

    def contains(self, at: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # wraps midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def _parse_clock(text: str) -> dt.time:
    match = _CLOCK.fullmatch(text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigError(f"{text!r} is not a time of day like '22:00'", key="quiet_hours")
    return dt.time(int(match.group(1)), int(match.group(2)))


DEFAULT_QUIET_HOURS = (QuietHours(dt.time(22, 0), dt.time(7, 0)),)


@dataclass(frozen=True, slots=True)
class NudgeConfig:
    """The wearer's settings for nudges. Times are in minutes; invalid values raise ConfigError."""

    gentle_min: float = 45.0  # continuous sitting before a gentle nudge
    firm_min: float = 60.0  # ... before a firm one
    repeat_min: float = 15.0  # after the firm nudge, another firm one this often while sitting on
    snooze_min: float = 10.0
    cooldown_min: float = 10.0  # at least this long between nudges (a firm one may replace)
    sustained_tilt_min: float = 20.0  # a reported sustained tilt held this long gets a nudge
    quiet_hours: tuple[QuietHours, ...] = DEFAULT_QUIET_HOURS
    exercises_file: Path | None = None  # the wearer's exercises file, merged over the built-in
    strict: bool = False  # no snooze, no dismiss: only a real break clears a nudge

    def __post_init__(self) -> None:
        for name, low, high in (
            ("gentle_min", MIN_SITTING_MIN, 24 * 60),
            ("firm_min", MIN_SITTING_MIN, 24 * 60),
            ("repeat_min", 5.0, 24 * 60),
            ("snooze_min", 1.0, 24 * 60),
            ("cooldown_min", 0.0, 24 * 60),
            ("sustained_tilt_min", 1.0, 24 * 60),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"must be a number of minutes, not {value!r}", key=name)
            if not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(f"must be between {low:g} and {high:g} minutes", key=name)
        if self.firm_min < self.gentle_min:
            raise ConfigError(
                f"must be at least gentle_min ({self.gentle_min:g}), not {self.firm_min:g}",
                key="firm_min",
            )
        if not isinstance(self.strict, bool):
            raise ConfigError(f"must be true or false, not {self.strict!r}", key="strict")
        if not all(isinstance(q, QuietHours) for q in self.quiet_hours):
            raise ConfigError("must be QuietHours ranges", key="quiet_hours")


# --- events and inputs -----------------------------------------------------------------------


class NudgeLevel(enum.StrEnum):
    GENTLE = "gentle"  # sat gentle_min
    FIRM = "firm"  # sat firm_min (and every repeat_min after)
    TILT = "tilt"  # held a tilt sustained_tilt_min


# A nudge of a higher rank may replace a pending one of a lower rank despite the cooldown.
_RANK = {NudgeLevel.TILT: 0, NudgeLevel.GENTLE: 1, NudgeLevel.FIRM: 2}


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: ExerciseKind
    move: str  # stand up and move for a few minutes
    exercise: Exercise

    def text(self) -> str:
        lines = [self.move, f"{self.exercise.name}: {self.exercise.how}"]
        if self.exercise.caution:
            lines.append(self.exercise.caution)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class NudgeShown:
    t: float
    level: NudgeLevel
    reason: str  # for the wearer: why now
    bout_min: float  # continuous sitting so far
    dominant_zone: TiltZone  # the zone sat in most this bout (tilt nudges: the held zone)
    suggestion: Suggestion
    replaces: float | None = None  # t of the pending nudge this one replaces


@dataclass(frozen=True, slots=True)
class NudgeSnoozed:
    t: float
    until: float
    t_nudge: float | None  # the nudge snoozed, if one was pending


@dataclass(frozen=True, slots=True)
class NudgeDismissed:
    t: float
    t_nudge: float


@dataclass(frozen=True, slots=True)
class NudgeOutcome:
    """Whether a real break started within FOLLOW_WINDOW_S of the nudge at t_nudge."""

    t_nudge: float
    followed: bool
    t_resolved: float


NudgeEvent = NudgeShown | NudgeSnoozed | NudgeDismissed | NudgeOutcome


@dataclass(frozen=True, slots=True)
class Snooze:
    """The wearer pressed snooze at t."""

    t: float


@dataclass(frozen=True, slots=True)
class Dismiss:
    """The wearer dismissed the nudge on screen at t."""

    t: float


# --- state -----------------------------------------------------------------------------------

_ZONES = tuple(TiltZone)
_KINDS = tuple(ExerciseKind)
TiltHold = tuple[TiltZone, float]  # (zone, zone_since): one continuous hold of a tilt


@dataclass(frozen=True, slots=True)
class _Pending:
    """A nudge on screen, not yet answered; what to restore if it is snoozed."""

    t: float
    level: NudgeLevel
    stage_before: int
    tilt_before: TiltHold | None


@dataclass(frozen=True, slots=True)
class NudgeState:
    last_t: float | None = None
    last_sitting_zone: TiltZone | None = None  # the previous snapshot's zone, if sitting
    bout_start: float | None = None  # the bout these counters belong to
    zone_s: tuple[float, ...] = (0.0,) * len(_ZONES)  # seconds sat per zone (TiltZone order)
    bout_stage: int = 0  # sitting thresholds passed and handled (shown or dismissed) this bout
    tilt_handled: TiltHold | None = None  # the tilt hold already nudged about
    pending: _Pending | None = None
    last_shown: float | None = None
    snoozed_until: float | None = None
    upright_since: float | None = None  # start of the current upright run (a possible break)
    awaiting: tuple[float, ...] = ()  # nudges whose outcome is still open
    turns: tuple[int, ...] = (0,) * len(_KINDS)  # next exercise per kind (ExerciseKind order)

    def zone_seconds(self) -> dict[TiltZone, float]:
        return dict(zip(_ZONES, self.zone_s, strict=True))


# --- the policy ------------------------------------------------------------------------------

_ZONE_WORDS = {
    TiltZone.NEUTRAL: "A near-neutral pelvis",
    TiltZone.ANTERIOR: "Pelvis tipped forward (anterior tilt)",
    TiltZone.POSTERIOR: "Pelvis tucked under, slumped (posterior tilt)",
    TiltZone.LATERAL_LEFT: "Left hip lower than the right",
    TiltZone.LATERAL_RIGHT: "Right hip lower than the left",
}


@dataclass(frozen=True)
class NudgePolicy:
    config: NudgeConfig = field(default_factory=NudgeConfig)
    local_time: LocalTime = system_local_time
    catalogue: Catalogue | None = None  # None: the built-in file plus config.exercises_file

    def __post_init__(self) -> None:
        if self.catalogue is None:
            object.__setattr__(self, "catalogue", load_catalogue(self.config.exercises_file))

    @property
    def exercises(self) -> Catalogue:
        assert self.catalogue is not None  # set in __post_init__
        return self.catalogue

    def initial_state(self) -> NudgeState:
        return NudgeState()

    def feed(
        self, state: NudgeState, item: ActivitySnapshot | Snooze | Dismiss
    ) -> tuple[NudgeState, tuple[NudgeEvent, ...]]:
        """One input of any kind, for replaying a recorded stream of snapshots and actions."""
        if isinstance(item, Snooze):
            return self.snooze(state, item.t)
        if isinstance(item, Dismiss):
            return self.dismiss(state, item.t)
        return self.step(state, item)

    def snooze(
        self, state: NudgeState, t: float, minutes: float | None = None
    ) -> tuple[NudgeState, tuple[NudgeEvent, ...]]:
        """No nudges until t + ``minutes`` (default snooze_min); then the snoozed one (or a
        firmer one) comes back. A long snooze is how a pause for a meeting works."""
        if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
            raise ValueError(f"a snooze lasts a positive number of minutes, not {minutes!r}")
        until = t + (self.config.snooze_min if minutes is None else minutes) * 60.0
        pending = state.pending
        if pending is None:
            return replace(state, snoozed_until=until), (NudgeSnoozed(t, until, None),)
        # Un-handle the snoozed nudge so it is due again when the snooze ends.
        state = replace(
            state,
            pending=None,
            snoozed_until=until,
            bout_stage=pending.stage_before,
            tilt_handled=pending.tilt_before,
        )
        return state, (NudgeSnoozed(t, until, pending.t),)

    def dismiss(self, state: NudgeState, t: float) -> tuple[NudgeState, tuple[NudgeEvent, ...]]:
        """Clear the nudge on screen; nothing more until the next threshold or a new tilt hold."""
        if state.pending is None:
            return state, ()
        return replace(state, pending=None), (NudgeDismissed(t, state.pending.t),)

    def step(
        self, state: NudgeState, snap: ActivitySnapshot
    ) -> tuple[NudgeState, tuple[NudgeEvent, ...]]:
        """Take one snapshot: count zone time, notice a bout's end, resolve outcomes, nudge."""
        events: list[NudgeEvent] = []
        t = snap.t
        same_bout = snap.sitting_bout_start == state.bout_start

        zone_s = state.zone_s
        if (
            same_bout
            and snap.sitting_bout_start is not None
            and state.last_sitting_zone is not None
            and state.last_t is not None
        ):
            step_s = min(max(t - state.last_t, 0.0), MAX_ZONE_STEP_S)
            i = _ZONES.index(state.last_sitting_zone)
            zone_s = (*zone_s[:i], zone_s[i] + step_s, *zone_s[i + 1 :])

        was_upright_since = state.upright_since
        upright_since = None
        if snap.posture.upright:
            upright_since = t if state.upright_since is None else state.upright_since
        state = replace(
            state,
            last_t=t,
            last_sitting_zone=snap.zone if snap.posture is Posture.SITTING else None,
            zone_s=zone_s,
            upright_since=upright_since,
        )

        if not same_bout:
            if state.bout_start is not None:
                # The bout ended: the posture machine saw a real break (upright >= 1 min).
                # The break began with the upright run that made it (t if that went unseen).
                break_start = next(
                    (s for s in (upright_since, was_upright_since) if s is not None), t
                )
                events += [
                    NudgeOutcome(tn, break_start <= tn + FOLLOW_WINDOW_S, t)
                    for tn in state.awaiting
                ]
                state = replace(state, awaiting=(), pending=None)
            state = replace(
                state,
                bout_start=snap.sitting_bout_start,
                zone_s=(0.0,) * len(_ZONES),
                bout_stage=0,
            )

        # Unfollowed nudges resolve when the window has passed, unless a break that began in
        # time is still underway (it becomes real only after a minute upright).
        still_open = []
        for tn in state.awaiting:
            deadline = tn + FOLLOW_WINDOW_S
            if t < deadline or (upright_since is not None and upright_since <= deadline):
                still_open.append(tn)
            else:
                events.append(NudgeOutcome(tn, False, t))
        state = replace(state, awaiting=tuple(still_open))

        state, shown = self._maybe_nudge(state, snap)
        if shown is not None:
            events.append(shown)
        return state, tuple(events)

    # -- deciding and composing a nudge --

    def _due_stage(self, bout_s: float) -> int:
        """Sitting thresholds passed: 0 none, 1 gentle, 2 firm, 3+ firm repeats."""
        cfg = self.config
        if bout_s < cfg.gentle_min * 60.0:
            return 0
        if bout_s < cfg.firm_min * 60.0:
            return 1
        return 2 + int((bout_s - cfg.firm_min * 60.0) // (cfg.repeat_min * 60.0))

    def _wanted_hold(self, snap: ActivitySnapshot) -> TiltHold | None:
        zone = snap.sustained_zone
        if zone is None or zone is TiltZone.NEUTRAL:
            return None
        if snap.t - snap.zone_since < self.config.sustained_tilt_min * 60.0:
            return None
        return (zone, snap.zone_since)

    def _muted(self, state: NudgeState, t: float) -> bool:
        if state.snoozed_until is not None and t < state.snoozed_until:
            return True
        local = self.local_time(t)
        return any(quiet.contains(local) for quiet in self.config.quiet_hours)

    def _maybe_nudge(
        self, state: NudgeState, snap: ActivitySnapshot
    ) -> tuple[NudgeState, NudgeShown | None]:
        # Only a seated wearer is nudged: someone already up needs no invitation to stand.
        if snap.posture is not Posture.SITTING or snap.sitting_bout_start is None:
            return state, None
        t = snap.t
        due = self._due_stage(snap.sitting_bout_s)
        hold = self._wanted_hold(snap)
        tilt_wanted = hold is not None and hold != state.tilt_handled
        if due > state.bout_stage:
            level = NudgeLevel.GENTLE if due == 1 else NudgeLevel.FIRM
        elif tilt_wanted:
            level = NudgeLevel.TILT
        else:
            return state, None
        if self._muted(state, t):
            return state, None  # held, not dropped: it shows when the mute ends, if still due

        pending = state.pending
        replaces = pending is not None and _RANK[level] > _RANK[pending.level]
        cooled = (
            state.last_shown is None
            or t - state.last_shown >= self.config.cooldown_min * 60.0
            or state.snoozed_until is not None  # the wearer asked to be reminded now
        )
        if not (cooled or replaces):
            return state, None

        dominant = self._dominant_zone(state, snap)
        if level is NudgeLevel.TILT:
            assert hold is not None
            zone = hold[0]
            held_min = (t - hold[1]) / 60.0
            reason = f"{_ZONE_WORDS[zone]} for {held_min:.0f} minutes."
        else:
            zone = dominant
            minutes = snap.sitting_bout_s / 60.0
            reason = f"You have been sitting for {minutes:.0f} minutes."
            if level is NudgeLevel.FIRM:
                reason = f"You have been sitting for {minutes:.0f} minutes without a break."
        kind = kind_for_zone(zone)
        k = _KINDS.index(kind)
        suggestion = Suggestion(
            kind=kind,
            move=self.exercises.stance.move,
            # The wearer is sitting, at a desk or the like: nothing that needs the floor.
            exercise=self.exercises.pick(kind, state.turns[k], place=Place.DESK),
        )
        shown = NudgeShown(
            t=t,
            level=level,
            reason=reason,
            bout_min=snap.sitting_bout_s / 60.0,
            dominant_zone=zone,
            suggestion=suggestion,
            replaces=pending.t if replaces and pending is not None else None,
        )
        state = replace(
            state,
            pending=_Pending(t, level, state.bout_stage, state.tilt_handled),
            bout_stage=max(due, state.bout_stage),
            # A sitting nudge covers a tilt hold due at the same time: nudges never pile up.
            tilt_handled=hold if tilt_wanted else state.tilt_handled,
            last_shown=t,
            snoozed_until=None,
            awaiting=(*state.awaiting, t),
            turns=(*state.turns[:k], state.turns[k] + 1, *state.turns[k + 1 :]),
        )
        return state, shown

    @staticmethod
    def _dominant_zone(state: NudgeState, snap: ActivitySnapshot) -> TiltZone:
        """The zone sat in longest this bout; ties go to the earlier zone (neutral first)."""
        if not any(state.zone_s):
            return snap.zone
        return max(_ZONES, key=lambda z: state.zone_s[_ZONES.index(z)])


def parse_quiet_hours(values: Sequence[str]) -> tuple[QuietHours, ...]:
    """["22:00", "07:00", "12:30", "13:30"] (start, end pairs) as QuietHours ranges."""
    if len(values) % 2:
        raise ConfigError(
            'needs pairs of times, start then end, like ["22:00", "07:00"]', key="quiet_hours"
        )
    return tuple(QuietHours.parse(values[i], values[i + 1]) for i in range(0, len(values), 2))
