"""The simulator's name for a routine or the range test: what ``--sim`` plays (firmware_sim reads
the same names; docs/coach.md lists the movements)."""

from __future__ import annotations

from monitor.exercises import Counted, Routine

RANGE_SCENARIO = "coach_range"


def routine_scenario(routine: Routine) -> str:
    """``coach:MOVEMENT:N,...``: the simulated wearer doing ``routine``'s steps as asked."""
    items = []
    for step in routine.steps:
        sensor = step.exercise.sensor
        if isinstance(sensor, Counted):
            if "" in step.reps:
                items.append(f"{sensor.movement}:{step.reps['']}")
            else:
                items.append(
                    f"{sensor.movement}:{step.reps.get('left', 0)}/{step.reps.get('right', 0)}"
                )
        else:
            assert step.seconds is not None
            items.append(f"hold:{step.seconds:g}x{2 if step.both_sides else 1}")
    return "coach:" + ",".join(items)
