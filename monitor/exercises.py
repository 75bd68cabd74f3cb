"""What a nudge suggests: the exercises catalogue, read from an editable TOML file.

The built-in file is package data (`monitor/data/exercises.toml`); a user file may replace any of
its tables or lists. Content lives in data, not code, so it can be edited without a release.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from monitor import tomlfile
from monitor.activity import TiltZone
from monitor.coach.axes import Axis, Position
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


class Sides(enum.StrEnum):
    """How the sensor tells which side a repetition worked."""

    NONE = "none"  # both sides work together
    MOVEMENT = "movement"  # frontal: the hip that drops is the free one, the other leg stands
    LYING = "lying"  # the side lain on: lying on the right, the left (top) leg works


@dataclass(frozen=True, slots=True)
class Counted:
    """The sensor counts repetitions: one is a turn of the pelvis about ``axis``, from the rest
    position by at least ``min_range_deg`` (and less than ``max_range_deg``, beyond which it is a
    change of position), in ``direction`` (+1, −1; 0: one each way makes a repetition)."""

    movement: str  # the movement's name, shared with the simulator (docs/coach.md)
    axis: Axis
    direction: int
    position: Position
    min_range_deg: float
    max_range_deg: float
    hold_s: float  # the hold the wearer is asked for at the top (measured, shown, not required)
    sides: Sides
    note: str  # what the sensor can and cannot tell, in plain words


@dataclass(frozen=True, slots=True)
class Timed:
    """The sensor cannot judge it (a stretch held still): the coach times it."""

    note: str


@dataclass(frozen=True, slots=True)
class Exercise:
    kind: ExerciseKind
    name: str
    how: str  # one to three sentences
    caution: str | None = None
    place: Place = Place.DESK
    sensor: Counted | Timed | None = None  # None: not part of any coached routine


SIDES = ("left", "right")


@dataclass(frozen=True, slots=True)
class RoutineStep:
    """``reps``: the repetitions asked for, by side ("left", "right") for a sided exercise, else
    under ""; empty for a timed one, which takes ``seconds`` (once a side when ``both_sides``)."""

    exercise: Exercise
    reps: Mapping[str, int]
    seconds: float | None
    both_sides: bool

    @property
    def sided(self) -> bool:
        sensor = self.exercise.sensor
        return self.both_sides or (isinstance(sensor, Counted) and sensor.sides is not Sides.NONE)


@dataclass(frozen=True, slots=True)
class Routine:
    name: str
    kind: ExerciseKind  # the tilt pattern it answers
    title: str
    steps: tuple[RoutineStep, ...]


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
    routines: Mapping[str, Routine] = field(default_factory=lambda: MappingProxyType({}))

    def routine_for(self, kind: ExerciseKind) -> Routine | None:
        """The first routine for a tilt pattern (the wearer's most frequent one)."""
        return next((r for r in self.routines.values() if r.kind is kind), None)

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
_ENTRY_OPTIONAL = ("caution", "place", "sensor")


def load_catalogue(override: Path | str | None = None) -> Catalogue:
    """The built-in catalogue, with the tables and lists of `override` (if given) replacing its own.

    Raises ExercisesError naming the file and the entry for bad TOML, unknown or missing keys,
    wrong types and empty lists.
    """
    text = resources.files("monitor.data").joinpath("exercises.toml").read_text(encoding="utf-8")
    stance, exercises, routines = _parse(text, BUILTIN_NAME)
    if override is not None:
        path = Path(override)
        try:
            override_text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ExercisesError(f"cannot read: {exc.strerror}", path=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise ExercisesError("not UTF-8 text", path=str(path)) from exc
        # Validated on its own, so errors name the wearer's file; then it replaces what it holds.
        own_stance, own_exercises, own_routines = _parse(override_text, str(path), partial=True)
        stance |= own_stance
        exercises |= own_exercises
        built = {}
        for name, raw in routines.items():
            if name in own_routines:
                continue
            try:
                built[name] = _build_routine(raw, exercises, BUILTIN_NAME)
            except ExercisesError:
                continue  # the wearer's file replaced the exercises this built-in one uses
        for name, raw in own_routines.items():
            built[name] = _build_routine(raw, exercises, str(path))
    else:
        built = {name: _build_routine(r, exercises, BUILTIN_NAME) for name, r in routines.items()}
    return Catalogue(
        stance=Stance(**stance),
        exercises=MappingProxyType(exercises),
        routines=MappingProxyType(built),
    )


def _parse(
    text: str, where: str, *, partial: bool = False
) -> tuple[dict[str, str], dict[ExerciseKind, tuple[Exercise, ...]], dict[str, _RawRoutine]]:
    raw = tomlfile.parse(text, where, ExercisesError)
    known = {"stance", "routine", *ExerciseKind}
    for key in raw:
        if key not in known:
            raise ExercisesError(
                f"unknown table; expected one of {', '.join(sorted(known))}", path=where, key=key
            )
    if not partial:
        missing = sorted(known - raw.keys() - {"routine"})
        if missing:
            raise ExercisesError("missing", path=where, key=", ".join(missing))
    stance = _check_stance(raw["stance"], where, partial=partial) if "stance" in raw else {}
    exercises = {k: _check_entries(k, raw[k], where) for k in ExerciseKind if k in raw}
    routines = _check_routines(raw["routine"], where) if "routine" in raw else {}
    return stance, exercises, routines


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
                    "unknown key; expected name, how, caution, place, sensor",
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
        sensor = _check_sensor(entry["sensor"], where, label) if "sensor" in entry else None
        entries.append(
            Exercise(
                kind=kind,
                name=name,
                how=how,
                caution=caution,
                place=Place(place_text),
                sensor=sensor,
            )
        )
    return tuple(entries)


# --- what the sensor measures, and the routines ---------------------------------------------

# direction words per axis -> sign of the rotation (0: both ways, one each way is a repetition)
_DIRECTIONS = {
    Axis.SAGITTAL: {"anterior": 1, "posterior": -1, "both": 0},
    Axis.FRONTAL: {"right_down": 1, "left_down": -1, "both": 0, "top_hip_up": 0},
}
_COUNT_KEYS = (
    "measure",
    "movement",
    "axis",
    "direction",
    "position",
    "min_range_deg",
    "max_range_deg",
    "hold_s",
    "sides",
    "note",
)


def _check_sensor(value: object, where: str, label: str) -> Counted | Timed:
    key = f"{label}: sensor"
    if not isinstance(value, dict):
        raise ExercisesError(
            "must be a table: sensor = { measure = ..., note = ... }", path=where, key=key
        )
    for k in value:
        if k not in _COUNT_KEYS:
            raise ExercisesError(
                f"unknown key; expected {', '.join(_COUNT_KEYS)}", path=where, key=f"{key}.{k}"
            )
    for k in ("measure", "note"):
        if k not in value:
            raise ExercisesError("missing", path=where, key=f"{key}.{k}")
    measure = _check_text(value["measure"], where, f"{key}.measure")
    note = _check_text(value["note"], where, f"{key}.note")
    if measure == "timed":
        extra = sorted(set(value) - {"measure", "note"})
        if extra:
            raise ExercisesError(
                "a timed exercise takes only measure and note", path=where, key=f"{key}.{extra[0]}"
            )
        return Timed(note=note)
    if measure != "count":
        raise ExercisesError("must be count or timed", path=where, key=f"{key}.measure")
    for k in ("movement", "axis", "direction", "position", "min_range_deg"):
        if k not in value:
            raise ExercisesError("missing", path=where, key=f"{key}.{k}")
    axis = _check_choice(value["axis"], [a.value for a in Axis], where, f"{key}.axis")
    directions = _DIRECTIONS[Axis(axis)]
    direction = _check_choice(value["direction"], list(directions), where, f"{key}.direction")
    position = _check_choice(
        value["position"], [p.value for p in Position], where, f"{key}.position"
    )
    sides = _check_choice(
        value.get("sides", "none"), [s.value for s in Sides], where, f"{key}.sides"
    )
    low = _check_number(value["min_range_deg"], where, f"{key}.min_range_deg", 1.0, 90.0)
    high = _check_number(
        value.get("max_range_deg", 45.0), where, f"{key}.max_range_deg", low, 180.0
    )
    hold = _check_number(value.get("hold_s", 0.0), where, f"{key}.hold_s", 0.0, 60.0)
    if (direction == "top_hip_up") != (sides == Sides.LYING.value):
        raise ExercisesError(
            'direction "top_hip_up" goes with sides = "lying", and only with it',
            path=where,
            key=f"{key}.direction",
        )
    if sides == Sides.MOVEMENT.value and (axis != Axis.FRONTAL.value or direction != "both"):
        raise ExercisesError(
            'sides = "movement" needs axis = "frontal" and direction = "both"',
            path=where,
            key=f"{key}.sides",
        )
    return Counted(
        movement=_check_text(value["movement"], where, f"{key}.movement"),
        axis=Axis(axis),
        direction=directions[direction],
        position=Position(position),
        min_range_deg=low,
        max_range_deg=high,
        hold_s=hold,
        sides=Sides(sides),
        note=note,
    )


@dataclass(frozen=True, slots=True)
class _RawRoutine:
    name: str
    kind: ExerciseKind
    title: str
    steps: tuple[tuple[str, object, float | None, bool, str], ...]  # + the step's label


_ROUTINE_KEYS = ("name", "kind", "title", "steps")
_STEP_KEYS = ("exercise", "reps", "seconds", "both_sides")


def _check_routines(value: object, where: str) -> dict[str, _RawRoutine]:
    if not isinstance(value, list) or not value:
        raise ExercisesError("must be a list of entries: [[routine]]", path=where, key="routine")
    out: dict[str, _RawRoutine] = {}
    for i, entry in enumerate(value, start=1):
        label = f"routine entry {i}"
        if not isinstance(entry, dict):
            raise ExercisesError("must be a table: [[routine]]", path=where, key=label)
        for k in entry:
            if k not in _ROUTINE_KEYS:
                raise ExercisesError(
                    f"unknown key; expected {', '.join(_ROUTINE_KEYS)}",
                    path=where,
                    key=f"{label}: {k}",
                )
        for k in _ROUTINE_KEYS:
            if k not in entry:
                raise ExercisesError("missing", path=where, key=f"{label}: {k}")
        name = _check_text(entry["name"], where, f"{label}: name")
        label = f"routine {name!r}"
        kind = _check_choice(
            entry["kind"], [k.value for k in ExerciseKind], where, f"{label}: kind"
        )
        title = _check_text(entry["title"], where, f"{label}: title")
        steps_raw = entry["steps"]
        if not isinstance(steps_raw, list) or not steps_raw:
            raise ExercisesError(
                "must be a non-empty list of steps", path=where, key=f"{label}: steps"
            )
        steps = []
        for j, step in enumerate(steps_raw, start=1):
            step_label = f"{label}: step {j}"
            if not isinstance(step, dict):
                raise ExercisesError(
                    "must be a table { exercise = ..., reps = ... }", path=where, key=step_label
                )
            for k in step:
                if k not in _STEP_KEYS:
                    raise ExercisesError(
                        f"unknown key; expected {', '.join(_STEP_KEYS)}",
                        path=where,
                        key=f"{step_label}: {k}",
                    )
            if "exercise" not in step:
                raise ExercisesError("missing", path=where, key=f"{step_label}: exercise")
            exercise = _check_text(step["exercise"], where, f"{step_label}: exercise")
            reps = step.get("reps")
            seconds = step.get("seconds")
            if (reps is None) == (seconds is None):
                raise ExercisesError(
                    "needs reps or seconds (one of them)", path=where, key=step_label
                )
            if isinstance(reps, dict):
                for side in reps:
                    if side not in SIDES:
                        raise ExercisesError(
                            "sides are left and right", path=where, key=f"{step_label}: reps.{side}"
                        )
                reps = {
                    side: int(
                        _check_number(n, where, f"{step_label}: reps.{side}", 0, 100, integer=True)
                    )
                    for side, n in reps.items()
                }
            elif reps is not None:
                reps = int(_check_number(reps, where, f"{step_label}: reps", 1, 100, integer=True))
            if seconds is not None:
                seconds = _check_number(seconds, where, f"{step_label}: seconds", 5, 600)
            both = step.get("both_sides", False)
            if not isinstance(both, bool):
                raise ExercisesError(
                    "must be true or false", path=where, key=f"{step_label}: both_sides"
                )
            steps.append((exercise, reps, seconds, both, step_label))
        if name in out:
            raise ExercisesError("a routine of this name comes twice", path=where, key=label)
        out[name] = _RawRoutine(name, ExerciseKind(kind), title, tuple(steps))
    return out


def _build_routine(
    raw: _RawRoutine, exercises: Mapping[ExerciseKind, tuple[Exercise, ...]], where: str
) -> Routine:
    by_name = {e.name: e for entries in exercises.values() for e in entries}
    steps = []
    for name, reps, seconds, both, label in raw.steps:
        exercise = by_name.get(name)
        if exercise is None:
            raise ExercisesError(
                "names no exercise in the catalogue", path=where, key=f"{label}: {name}"
            )
        sensor = exercise.sensor
        if sensor is None:
            raise ExercisesError(
                "the exercise has no sensor table", path=where, key=f"{label}: {name}"
            )
        if isinstance(sensor, Counted) and reps is None:
            raise ExercisesError("a counted exercise needs reps", path=where, key=label)
        if isinstance(sensor, Timed) and seconds is None:
            raise ExercisesError("a timed exercise needs seconds", path=where, key=label)
        if isinstance(sensor, Counted) and both:
            raise ExercisesError(
                "both_sides is for timed exercises; a counted one tells sides itself",
                path=where,
                key=label,
            )
        targets: dict[str, int] = {}
        if isinstance(sensor, Counted):
            sided = sensor.sides is not Sides.NONE
            if isinstance(reps, dict):
                if not sided:
                    raise ExercisesError(
                        "reps by side is for a sided exercise", path=where, key=label
                    )
                targets = {side: n for side, n in reps.items() if n > 0}
                if not targets:
                    raise ExercisesError("needs at least one repetition", path=where, key=label)
            elif isinstance(reps, int):
                targets = dict.fromkeys(SIDES, reps) if sided else {"": reps}
        steps.append(RoutineStep(exercise, MappingProxyType(targets), seconds, both))
    return Routine(raw.name, raw.kind, raw.title, tuple(steps))


def _check_choice(value: object, choices: list[str], where: str, key: str) -> str:
    text = _check_text(value, where, key)
    if text not in choices:
        raise ExercisesError(f"must be one of {', '.join(choices)}", path=where, key=key)
    return text


def _check_number(
    value: object, where: str, key: str, low: float, high: float, *, integer: bool = False
) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and not isinstance(value, int))
    ):
        kind = "a whole number" if integer else "a number"
        raise ExercisesError(f"must be {kind}, not {type(value).__name__}", path=where, key=key)
    if not low <= value <= high or not math.isfinite(value):
        raise ExercisesError(f"must be between {low:g} and {high:g}", path=where, key=key)
    return float(value)


def _check_text(value: object, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ExercisesError(f"must be a string, not {type(value).__name__}", path=where, key=key)
    if not value.strip():
        raise ExercisesError("must not be empty", path=where, key=key)
    return value.strip()
