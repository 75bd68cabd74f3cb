"""The coach's results as recorded events, and read back from recordings for the reports.

Kinds (app events in the session file, JSON data): ``CoachRangeTest`` (a finished range test:
the fields of :class:`~monitor.coach.range_test.RangeResult`), ``CoachStep`` (one routine step
as it ends: exercise, measure, status, repetitions and range per side, or seconds) and
``CoachRoutine`` (the routine as it ends, done or stopped, with every step).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from monitor.coach.range_test import RangeResult
from monitor.coach.routine import RoutineResult, StepResult

RANGE_TEST = "CoachRangeTest"
STEP = "CoachStep"
ROUTINE = "CoachRoutine"


def range_event(result: RangeResult) -> tuple[float, str, dict[str, Any]]:
    return result.t_end, RANGE_TEST, result.as_dict()


def step_event(routine: str, step: StepResult) -> tuple[float, str, dict[str, Any]]:
    data = asdict(step)
    data["status"] = step.status.value
    data["routine"] = routine
    data["repetitions"] = step.repetitions
    return step.t_end, STEP, data


def routine_event(result: RoutineResult) -> tuple[float, str, dict[str, Any]]:
    data = result.as_dict()
    data["steps"] = [step_event(result.routine, s)[2] for s in result.steps]
    return result.t_end, ROUTINE, data
