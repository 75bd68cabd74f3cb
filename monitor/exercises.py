"""What a nudge suggests: the exercises catalogue, read from an editable TOML file.

The built-in file is package data (`monitor/data/exercises.toml`); a user file may replace any of
its tables or lists. Content lives in data, not code, so it can be edited without a release.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from monitor import tomlfile
from monitor.activity import TiltZone
from monitor.errors import ConfigError

BUILTIN_NAME = "monitor/data/exercises.toml"
MAX_HOW_CHARS = 400  # "one to three sentences": longer text no longer fits a nudge


class ExerciseKind(enum.StrEnum):
    ANTERIOR = "anterior"
    POSTERIOR = "posterior"
    LATERAL_LEFT = "lateral_left"  # left hip lower
    LATERAL_RIGHT = "lateral_right"  # right hip lower
    AWARENESS = "awareness"  # a bout spent mostly near neutral


_KIND_OF_ZONE: Mapping[TiltZone, ExerciseKind] = {
    TiltZone.NEUTRAL: ExerciseKind.AWARENESS,
    TiltZone.ANTERIOR: ExerciseKind.ANTERIOR,
    TiltZone.POSTERIOR: ExerciseKind.POSTERIOR,
    TiltZone.LATERAL_LEFT: ExerciseKind.LATERAL_LEFT,
    TiltZone.LATERAL_RIGHT: ExerciseKind.LATERAL_RIGHT,
}


def kind_for_zone(zone: TiltZone) -> ExerciseKind:
    return _KIND_OF_ZONE[zone]


class ExercisesError(ConfigError):
    """The exercises file (built-in or the wearer's) cannot be used."""


class Place(enum.StrEnum):
    DESK = "desk"  # can be done at a desk: seated, or standing beside it
    FLOOR = "floor"  # needs the floor: lying or kneeling


@dataclass(frozen=True, slots=True)
class Exercise:
    kind: ExerciseKind
    name: str
    how: str  # one to three sentences
    caution: str | None = None
    place: Place = Place.DESK


@dataclass(frozen=True, slots=True)
class Stance:
    """The general lines every nudge can show."""

    move: str  # stand up and move for a few minutes
    variety: str  # variety over a "perfect" posture
    not_treatment: str  # see a doctor or physiotherapist for persistent pain


@dataclass(frozen=True, slots=True)
class Catalogue:
    stance: Stance
    exercises: Mapping[ExerciseKind, tuple[Exercise, ...]]  # every kind, never empty

    def pick(self, kind: ExerciseKind, turn: int, *, place: Place | None = None) -> Exercise:
        """The exercise for this turn: the kind's entries take turns (round robin).

        With ``place``, only entries that can be done there: a kind with none there gives the
        awareness drills that can (they fit any tilt), and only failing those, any of the kind.
        """
        entries = self.exercises[kind]
        if place is not None:
            here = [e for e in entries if e.place is place]
            if not here:
                here = [e for e in self.exercises[ExerciseKind.AWARENESS] if e.place is place]
            entries = tuple(here) or entries
        return entries[turn % len(entries)]


_STANCE_KEYS = ("move", "variety", "not_treatment")
_ENTRY_REQUIRED = ("name", "how")
_ENTRY_OPTIONAL = ("caution", "place")


def load_catalogue(override: Path | str | None = None) -> Catalogue:
    """The built-in catalogue, with the tables and lists of `override` (if given) replacing its own.

    Raises ExercisesError naming the file and the entry for bad TOML, unknown or missing keys,
    wrong types and empty lists.
    """
    text = resources.files("monitor.data").joinpath("exercises.toml").read_text(encoding="utf-8")
    stance, exercises = _parse(text, BUILTIN_NAME)
    if override is not None:
        path = Path(override)
        try:
            override_text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExercisesError(f"cannot read: {exc.strerror}", path=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise ExercisesError("not UTF-8 text", path=str(path)) from exc
        # Validated on its own, so errors name the wearer's file; then it replaces what it holds.
        own_stance, own_exercises = _parse(override_text, str(path), partial=True)
        stance |= own_stance
        exercises |= own_exercises
    return Catalogue(stance=Stance(**stance), exercises=MappingProxyType(exercises))


def _parse(
    text: str, where: str, *, partial: bool = False
) -> tuple[dict[str, str], dict[ExerciseKind, tuple[Exercise, ...]]]:
    raw = tomlfile.parse(text, where, ExercisesError)
    known = {"stance", *ExerciseKind}
    for key in raw:
        if key not in known:
            raise ExercisesError(
                f"unknown table; expected one of {', '.join(sorted(known))}", path=where, key=key
            )
    if not partial:
        missing = sorted(known - raw.keys())
        if missing:
            raise ExercisesError("missing", path=where, key=", ".join(missing))
    stance = _check_stance(raw["stance"], where, partial=partial) if "stance" in raw else {}
    exercises = {k: _check_entries(k, raw[k], where) for k in ExerciseKind if k in raw}
    return stance, exercises


def _check_stance(value: object, where: str, *, partial: bool) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ExercisesError("must be a table: [stance]", path=where, key="stance")
    for key in value:
        if key not in _STANCE_KEYS:
            raise ExercisesError(
                f"unknown key; expected {', '.join(_STANCE_KEYS)}", path=where, key=f"stance.{key}"
            )
    if not partial:
        for key in _STANCE_KEYS:
            if key not in value:
                raise ExercisesError("missing", path=where, key=f"stance.{key}")
    return {key: _check_text(item, where, f"stance.{key}") for key, item in value.items()}


def _check_entries(kind: ExerciseKind, value: object, where: str) -> tuple[Exercise, ...]:
    if not isinstance(value, list):
        raise ExercisesError(f"must be a list of entries: [[{kind}]]", path=where, key=kind)
    if not value:
        raise ExercisesError("needs at least one entry", path=where, key=kind)
    entries = []
    for i, entry in enumerate(value, start=1):
        label = f"{kind} entry {i}"
        if not isinstance(entry, dict):
            raise ExercisesError(f"must be a table: [[{kind}]]", path=where, key=label)
        if isinstance(entry.get("name"), str) and entry["name"].strip():
            label = f"{kind} entry {i} ({entry['name'].strip()!r})"
        for key in entry:
            if key not in _ENTRY_REQUIRED + _ENTRY_OPTIONAL:
                raise ExercisesError(
                    "unknown key; expected name, how, caution, place",
                    path=where,
                    key=f"{label}: {key}",
                )
        for key in _ENTRY_REQUIRED:
            if key not in entry:
                raise ExercisesError("missing", path=where, key=f"{label}: {key}")
        name = _check_text(entry["name"], where, f"{label}: name")
        how = _check_text(entry["how"], where, f"{label}: how")
        if len(how) > MAX_HOW_CHARS:
            raise ExercisesError(
                f"longer than {MAX_HOW_CHARS} characters; keep it to one to three sentences",
                path=where,
                key=f"{label}: how",
            )
        caution = entry.get("caution")
        if caution is not None:
            caution = _check_text(caution, where, f"{label}: caution")
        place_text = _check_text(entry.get("place", Place.DESK.value), where, f"{label}: place")
        if place_text not in {p.value for p in Place}:
            raise ExercisesError(
                f"must be one of {', '.join(p.value for p in Place)}",
                path=where,
                key=f"{label}: place",
            )
        entries.append(
            Exercise(kind=kind, name=name, how=how, caution=caution, place=Place(place_text))
        )
    return tuple(entries)


def _check_text(value: object, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ExercisesError(f"must be a string, not {type(value).__name__}", path=where, key=key)
    if not value.strip():
        raise ExercisesError("must not be empty", path=where, key=key)
    return value.strip()
