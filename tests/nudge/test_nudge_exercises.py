"""The exercises file: the built-in catalogue, the wearer's override, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.activity import TiltZone
from monitor.errors import ConfigError
from monitor.exercises import (
    MAX_HOW_CHARS,
    ExerciseKind,
    ExercisesError,
    kind_for_zone,
    load_catalogue,
)
from monitor.nudge import NudgeConfig, NudgePolicy


def test_builtin_catalogue_has_every_kind_and_the_stance() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.exercises) == set(ExerciseKind)
    for kind, entries in catalogue.exercises.items():
        assert entries, kind
        assert len({e.name for e in entries}) == len(entries), f"{kind}: repeated names"
        for entry in entries:
            assert entry.kind is kind
            assert entry.name and 0 < len(entry.how) <= MAX_HOW_CHARS
    stance = catalogue.stance
    assert "stand up" in stance.move.lower()
    assert "physiotherapist" in stance.not_treatment
    assert "posture" in stance.variety


def test_every_zone_maps_to_a_kind() -> None:
    assert kind_for_zone(TiltZone.NEUTRAL) is ExerciseKind.AWARENESS
    assert {kind_for_zone(z) for z in TiltZone} == set(ExerciseKind)


def test_pick_takes_turns() -> None:
    catalogue = load_catalogue()
    entries = catalogue.exercises[ExerciseKind.AWARENESS]
    picks = [catalogue.pick(ExerciseKind.AWARENESS, turn) for turn in range(2 * len(entries))]
    assert picks == [*entries, *entries]


def test_an_override_replaces_only_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[stance]\nmove = "Up you get."\n\n'
        '[[posterior]]\nname = "Wall slide"\nhow = "Slide down a wall and up again."\n'
        'caution = "Go slowly."\n',
        encoding="utf-8",
    )
    builtin = load_catalogue()
    mine = load_catalogue(path)
    assert mine.stance.move == "Up you get."
    assert mine.stance.not_treatment == builtin.stance.not_treatment
    (only,) = mine.exercises[ExerciseKind.POSTERIOR]
    assert (only.name, only.caution) == ("Wall slide", "Go slowly.")
    assert mine.exercises[ExerciseKind.ANTERIOR] == builtin.exercises[ExerciseKind.ANTERIOR]


def test_the_policy_loads_the_configured_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[awareness]]\nname = "Breathe"\nhow = "Breathe out slowly."\n')
    policy = NudgePolicy(NudgeConfig(exercises_file=path))
    assert policy.exercises.exercises[ExerciseKind.AWARENESS][0].name == "Breathe"


ENTRY = 'name = "Bridge"\nhow = "Lift the hips."\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[anterior]\nname = 1\n", ":1: not valid TOML"),
        ("anterior = []\n", "anterior: needs at least one entry"),
        ('[[anterior]]\nhow = "Lift."\n', "anterior entry 1: name: missing"),
        (f'[[anterior]]\n{ENTRY}\n[[anterior]]\nname = "Lunge"\n', "'Lunge'): how: missing"),
        (f'[[anterior]]\n{ENTRY}caution = ""\n', "'Bridge'): caution: must not be empty"),
        (f"[[anterior]]\n{ENTRY}reps = 10\n", "'Bridge'): reps: unknown key"),
        ('[[anterior]]\nname = "Bridge"\nhow = 3\n', "'Bridge'): how: must be a string"),
        (f"[[anterier]]\n{ENTRY}", "anterier: unknown table"),
        ('anterior = "Bridge"\n', "anterior: must be a list of entries"),
        ('[stance]\nmood = "calm"\n', "stance.mood: unknown key"),
        ('[stance]\nmove = "  "\n', "stance.move: must not be empty"),
        (f"[[anterior]]\n{ENTRY.replace('Lift the hips.', 'x' * 401)}", "one to three sentences"),
    ],
)
def test_errors_name_the_file_and_the_entry(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExercisesError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ExercisesError, match=r"nowhere\.toml: cannot read"):
        load_catalogue(path)
