"""The nudge policy on scripted snapshot sequences (once a second, like the posture machine)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from nudge_wearer import MIN, T0, Wearer, run, shown

from monitor.activity import TiltZone
from monitor.exercises import ExerciseKind, ExercisesError, Place, load_catalogue
from monitor.nudge import (
    FOLLOW_WINDOW_S,
    Dismiss,
    NudgeConfig,
    NudgeDismissed,
    NudgeLevel,
    NudgeOutcome,
    NudgePolicy,
    NudgeShown,
    NudgeSnoozed,
    QuietHours,
    Snooze,
    fixed_offset,
)

CATALOGUE = load_catalogue()  # read once: the tests build many policies


def make_policy(**settings: object) -> NudgePolicy:
    # Tilt nudges off unless a test asks for them, so sitting nudges are tested alone.
    settings.setdefault("sustained_tilt_min", 24 * 60)
    config = NudgeConfig(**settings)  # type: ignore[arg-type]
    return NudgePolicy(config, local_time=fixed_offset(0), catalogue=CATALOGUE)


def outcomes(events: list) -> list[NudgeOutcome]:
    return [e for e in events if isinstance(e, NudgeOutcome)]


def test_gentle_at_45_then_firm_at_60_then_firm_repeats() -> None:
    w = Wearer()
    _, events = run(make_policy(), w.sit(76 * MIN))
    nudges = shown(events)
    assert [n.level for n in nudges] == [NudgeLevel.GENTLE, NudgeLevel.FIRM, NudgeLevel.FIRM]
    bout_start = T0 + 1
    for nudge, due_min in zip(nudges, (45, 60, 75), strict=True):
        assert 0 <= nudge.t - (bout_start + due_min * MIN) <= 1.0
        assert nudge.bout_min == pytest.approx(due_min, abs=0.02)
    assert nudges[0].replaces is None
    assert nudges[1].replaces == nudges[0].t  # the unanswered gentle one is superseded
    assert "45 minutes" in nudges[0].reason


def test_every_nudge_says_stand_up_and_gives_an_exercise() -> None:
    _, events = run(make_policy(), Wearer().sit(46 * MIN))
    (nudge,) = shown(events)
    assert nudge.suggestion.move == CATALOGUE.stance.move
    assert nudge.suggestion.exercise in CATALOGUE.exercises[nudge.suggestion.kind]
    assert nudge.suggestion.exercise.name in nudge.suggestion.text()


def test_nothing_when_breaks_come_in_time() -> None:
    w = Wearer()
    items = [*w.sit(40 * MIN), *w.stand(2 * MIN), *w.sit(44 * MIN), *w.stand(90), *w.sit(40 * MIN)]
    _, events = run(make_policy(), items)
    assert shown(events) == []


def test_a_short_stand_up_does_not_reset_the_bout() -> None:
    w = Wearer()
    items = [*w.sit(30 * MIN), *w.stand(50), *w.sit(20 * MIN)]
    assert items[-1].sitting_bout_start == T0 + 1
    _, events = run(make_policy(), items)
    (nudge,) = shown(events)
    assert 0 <= nudge.t - (T0 + 1 + 45 * MIN) <= 1.0


def test_no_nudge_while_up_it_waits_until_the_wearer_sits() -> None:
    w = Wearer()
    items = [*w.sit(44.5 * MIN), *w.stand(50)]  # up across the 45-minute mark, not a real break
    _, events = run(make_policy(), items)
    assert shown(events) == []
    sit_again = w.t + 1
    _, events = run(make_policy(), [*items, *w.sit(60)])
    (nudge,) = shown(events)
    assert nudge.t == sit_again


def test_snooze_delays_by_ten_minutes_and_a_firm_nudge_replaces_the_returned_one() -> None:
    policy = make_policy()
    w = Wearer()
    state, events = run(policy, w.sit(45 * MIN + 5))
    (gentle,) = shown(events)
    state, answer = policy.snooze(state, w.t)
    snoozed_at = w.t
    assert answer == (NudgeSnoozed(snoozed_at, snoozed_at + 10 * MIN, gentle.t),)
    state, events = run(policy, w.sit(15 * MIN), state)
    again, firm = shown(events)
    assert again.level is NudgeLevel.GENTLE
    assert 0 <= again.t - (snoozed_at + 10 * MIN) <= 1.0
    assert firm.level is NudgeLevel.FIRM and firm.replaces == again.t


def test_snooze_outlasts_the_cooldown() -> None:
    # The snoozed nudge comes back when asked for, even inside a longer cooldown.
    policy = make_policy(cooldown_min=30, snooze_min=5)
    w = Wearer()
    state, _ = run(policy, w.sit(45 * MIN + 1))
    state, _ = policy.snooze(state, w.t)
    snoozed_at = w.t
    _, events = run(policy, w.sit(6 * MIN), state)
    (again,) = shown(events)
    assert 0 <= again.t - (snoozed_at + 5 * MIN) <= 1.0


def test_dismiss_clears_until_the_next_threshold() -> None:
    policy = make_policy()
    w = Wearer()
    state, events = run(policy, w.sit(45 * MIN + 5))
    (gentle,) = shown(events)
    state, answer = policy.dismiss(state, w.t)
    assert answer == (NudgeDismissed(w.t, gentle.t),)
    state, events = run(policy, w.sit(14 * MIN), state)
    assert shown(events) == []
    state, events = run(policy, w.sit(2 * MIN), state)
    (firm,) = shown(events)
    assert firm.level is NudgeLevel.FIRM and firm.replaces is None
    assert 0 <= firm.t - (T0 + 1 + 60 * MIN) <= 1.0
    state, _ = policy.dismiss(state, w.t)
    _, events = run(policy, w.sit(16 * MIN), state)
    (repeat,) = shown(events)
    assert 0 <= repeat.t - (T0 + 1 + 75 * MIN) <= 1.0


def test_dismiss_with_nothing_pending_does_nothing() -> None:
    policy = make_policy()
    state = policy.initial_state()
    assert policy.dismiss(state, T0) == (state, ())


def test_quiet_hours_hold_nudges_across_midnight() -> None:
    policy = make_policy(quiet_hours=(QuietHours.parse("23:30", "00:30"),))
    start = dt.datetime(2023, 11, 14, 23, 0, tzinfo=dt.UTC).timestamp()
    w = Wearer(t0=start)
    _, events = run(policy, w.sit(95 * MIN))
    # gentle due 23:45 and firm due 00:00 are held; at 00:30 the firm one shows, once.
    (nudge,) = shown(events)
    assert nudge.level is NudgeLevel.FIRM
    assert nudge.t == dt.datetime(2023, 11, 15, 0, 30, tzinfo=dt.UTC).timestamp()


def test_quiet_hours_follow_the_local_time_function() -> None:
    quiet = (QuietHours.parse("22:00", "07:00"),)
    w = Wearer()  # 09:00 UTC: 21:00 at UTC+12 (nudge at 21:45: not quiet), 23:00 at UTC+14
    items = w.sit(46 * MIN)
    for offset, expected in ((0, 1), (12, 1), (14, 0)):
        config = NudgeConfig(quiet_hours=quiet, sustained_tilt_min=24 * 60)
        policy = NudgePolicy(config, local_time=fixed_offset(offset), catalogue=CATALOGUE)
        assert len(shown(run(policy, items)[1])) == expected, offset


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [
        ("22:00", "07:00", ["22:00", "23:59", "00:00", "06:59"], ["07:00", "12:00", "21:59"]),
        ("12:30", "13:30", ["12:30", "13:00", "13:29"], ["12:29", "13:30", "00:00"]),
    ],
)
def test_quiet_hours_ranges(start: str, end: str, inside: list[str], outside: list[str]) -> None:
    quiet = QuietHours.parse(start, end)

    def at(text: str) -> dt.time:
        return dt.time.fromisoformat(text)

    assert all(quiet.contains(at(x)) for x in inside)
    assert not any(quiet.contains(at(x)) for x in outside)


def test_cooldown_prevents_piling_up() -> None:
    policy = make_policy(gentle_min=20, firm_min=25, cooldown_min=15)
    w = Wearer()
    state, events = run(policy, w.sit(20 * MIN + 10))
    (gentle,) = shown(events)
    state, _ = policy.dismiss(state, w.t)  # nothing pending, so the firm one cannot replace it
    _, events = run(policy, w.sit(20 * MIN), state)
    (firm,) = shown(events)
    assert firm.level is NudgeLevel.FIRM
    assert 0 <= firm.t - (gentle.t + 15 * MIN) <= 1.0


def test_a_firm_nudge_replaces_a_pending_gentle_one_inside_the_cooldown() -> None:
    policy = make_policy(gentle_min=20, firm_min=25, cooldown_min=15)
    _, events = run(policy, Wearer().sit(26 * MIN))
    gentle, firm = shown(events)
    assert firm.replaces == gentle.t
    assert 0 <= firm.t - (T0 + 1 + 25 * MIN) <= 1.0


def test_sustained_tilt_nudge_suggests_the_matching_exercise_kind() -> None:
    policy = make_policy(sustained_tilt_min=20)
    w = Wearer()
    _, events = run(policy, [*w.sit(5 * MIN), *w.sit(21 * MIN, TiltZone.LATERAL_RIGHT)])
    (nudge,) = shown(events)
    assert nudge.level is NudgeLevel.TILT
    assert nudge.dominant_zone is TiltZone.LATERAL_RIGHT
    assert nudge.suggestion.kind is ExerciseKind.LATERAL_RIGHT
    assert 0 <= nudge.t - (T0 + 5 * MIN + 1 + 20 * MIN) <= 1.0
    assert "Right hip lower" in nudge.reason


def test_a_tilt_hold_gets_one_nudge_and_a_new_hold_another() -> None:
    policy = make_policy(sustained_tilt_min=10, gentle_min=120, firm_min=120)
    w = Wearer()
    items = [
        *w.sit(25 * MIN, TiltZone.POSTERIOR),  # one hold: one nudge at 10 min
        *w.sit(1 * MIN),
        *w.sit(11 * MIN, TiltZone.ANTERIOR),  # a new hold
    ]
    _, events = run(policy, items)
    kinds = [n.suggestion.kind for n in shown(events)]
    assert kinds == [ExerciseKind.POSTERIOR, ExerciseKind.ANTERIOR]


def test_tilt_needs_the_posture_machine_to_report_it_sustained() -> None:
    policy = make_policy(sustained_tilt_min=5)
    w = Wearer(sustained_s=15 * MIN)  # the posture machine's own time is longer
    _, events = run(policy, w.sit(16 * MIN, TiltZone.ANTERIOR))
    (nudge,) = shown(events)
    assert 0 <= nudge.t - (T0 + 1 + 15 * MIN) <= 1.0


@pytest.mark.parametrize(
    ("zones", "kind"),
    [
        ([(TiltZone.POSTERIOR, 30), (TiltZone.NEUTRAL, 16)], ExerciseKind.POSTERIOR),
        ([(TiltZone.NEUTRAL, 20), (TiltZone.ANTERIOR, 26)], ExerciseKind.ANTERIOR),
        ([(TiltZone.LATERAL_LEFT, 25), (TiltZone.ANTERIOR, 21)], ExerciseKind.LATERAL_LEFT),
        ([(TiltZone.ANTERIOR, 15), (TiltZone.NEUTRAL, 31)], ExerciseKind.AWARENESS),
    ],
)
def test_exercise_matches_the_zone_held_most_in_the_bout(
    zones: list[tuple[TiltZone, float]], kind: ExerciseKind
) -> None:
    w = Wearer()
    items = [snap for zone, minutes in zones for snap in w.sit(minutes * MIN, zone)]
    _, events = run(make_policy(), items)
    (nudge,) = shown(events)
    assert nudge.suggestion.kind is kind


def test_exercises_take_turns_per_kind_and_only_those_for_a_desk() -> None:
    policy = make_policy()
    w = Wearer()
    items = []
    anterior = [e for e in CATALOGUE.exercises[ExerciseKind.ANTERIOR] if e.place is Place.DESK]
    assert len(anterior) >= 2
    for _ in range(len(anterior) + 1):
        items += [*w.sit(46 * MIN, TiltZone.ANTERIOR), *w.stand(2 * MIN)]
    items += [*w.sit(46 * MIN, TiltZone.POSTERIOR)]
    _, events = run(policy, items)
    names = [n.suggestion.exercise.name for n in shown(events)]
    assert names[: len(anterior)] == [e.name for e in anterior]
    assert names[len(anterior)] == anterior[0].name  # round robin wraps
    posterior = [e for e in CATALOGUE.exercises[ExerciseKind.POSTERIOR] if e.place is Place.DESK]
    assert names[-1] == posterior[0].name
    # a nudge comes while the wearer sits: never a lying-down or kneeling exercise
    assert all(n.suggestion.exercise.place is Place.DESK for n in shown(events))


def test_a_kind_with_nothing_for_a_desk_falls_back_to_awareness_drills(tmp_path: Path) -> None:
    own = tmp_path / "exercises.toml"
    own.write_text(
        '[[lateral_left]]\nname = "Side-lying leg raise"\nplace = "floor"\n'
        'how = "Lie on your left side and lift the top leg."\n'
    )
    catalogue = load_catalogue(own)
    pick = catalogue.pick(ExerciseKind.LATERAL_LEFT, 0, place=Place.DESK)
    assert pick.kind is ExerciseKind.AWARENESS and pick.place is Place.DESK


def test_a_place_must_be_desk_or_floor(tmp_path: Path) -> None:
    own = tmp_path / "exercises.toml"
    own.write_text('[[awareness]]\nname = "X"\nhow = "Do x."\nplace = "bed"\n')
    with pytest.raises(ExercisesError, match="place"):
        load_catalogue(own)


def test_outcome_followed_when_a_real_break_starts_within_five_minutes() -> None:
    policy = make_policy()
    w = Wearer()
    sitting = w.sit(45 * MIN + 30)
    standing = w.stand(4 * MIN)
    _, events = run(policy, [*sitting, *standing, *w.sit(MIN)])
    (nudge,) = shown(events)
    (outcome,) = outcomes(events)
    assert outcome.t_nudge == nudge.t and outcome.followed
    # recognised when the break becomes real: one minute upright
    assert outcome.t_resolved == standing[0].t + 60


def test_outcome_followed_for_a_break_begun_just_inside_the_window() -> None:
    policy = make_policy()
    w = Wearer()
    state, events = run(policy, w.sit(45 * MIN + 1))
    (nudge,) = shown(events)
    _, events = run(policy, [*w.sit(FOLLOW_WINDOW_S - 30), *w.stand(2 * MIN)], state)
    (outcome,) = outcomes(events)
    assert outcome.followed
    assert outcome.t_resolved > nudge.t + FOLLOW_WINDOW_S


def test_outcome_not_followed_after_five_minutes_without_a_break() -> None:
    policy = make_policy()
    w = Wearer()
    _, events = run(policy, [*w.sit(45 * MIN + 1), *w.sit(3 * MIN), *w.stand(30), *w.sit(3 * MIN)])
    (nudge,) = shown(events)
    (outcome,) = outcomes(events)
    assert not outcome.followed
    assert outcome.t_nudge == nudge.t
    assert 0 <= outcome.t_resolved - (nudge.t + FOLLOW_WINDOW_S) <= 1.0


def test_snooze_and_dismiss_do_not_stop_the_outcome() -> None:
    policy = make_policy()
    w = Wearer()
    state, events = run(policy, w.sit(45 * MIN + 1))
    (nudge,) = shown(events)
    _, events = run(policy, [Dismiss(w.t), *w.stand(2 * MIN)], state)
    assert outcomes(events) == [NudgeOutcome(nudge.t, True, nudge.t + 61)]


def test_feed_replays_actions_like_the_methods() -> None:
    policy = make_policy()
    w = Wearer()
    first = w.sit(45 * MIN + 5)
    later = w.sit(12 * MIN)
    snooze_t = first[-1].t
    _, by_feed = run(policy, [*first, Snooze(snooze_t), *later])
    state, direct = run(policy, first)
    state, snoozed = policy.snooze(state, snooze_t)
    _, rest = run(policy, later, state)
    assert by_feed == [*direct, *snoozed, *rest]
    assert all(isinstance(e, NudgeShown | NudgeSnoozed | NudgeOutcome) for e in by_feed)


def test_the_policy_is_pure_core() -> None:
    code = "import sys, monitor.nudge; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = {name.split(".")[0] for name in out.stdout.split()}
    assert not loaded & {"asyncio", "bleak", "bumble", "textual", "numpy", "platformdirs"}
