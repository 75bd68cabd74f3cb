"""Feeding the coach from the live pipeline: the same glue for ``tiltmon coach`` and the dashboard.

The coach measures on the pipeline's mounting-corrected tilt, so it waits until the mounting is
known (a saved calibration, or found from a short walk); until then it says so. Time is the
samples' host time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.activity import Posture
from monitor.coach.axes import Position
from monitor.coach.range_test import RangeTest
from monitor.coach.repetitions import Repetition
from monitor.coach.routine import RoutineRun, StepResult
from monitor.pipeline import PipelineStep

_STARTING = {
    Posture.SITTING: Position.SEATED,
    Posture.STANDING: Position.STANDING,
    Posture.WALKING: Position.STANDING,
}
NEEDS_MOUNTING = (
    "First the sensor needs to know which way is forward: walk in a straight line for about"
    " fifteen seconds, then stand still."
)


@dataclass(slots=True)
class CoachFeed:
    machine: RangeTest | RoutineRun
    started: bool = False  # the mounting was known and samples went in
    events: list[Repetition | StepResult] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.machine.finished

    def prompt(self) -> str:
        if not self.started:
            return NEEDS_MOUNTING
        return self.machine.prompt if isinstance(self.machine, RangeTest) else self.machine.cue()

    def on_step(
        self, step: PipelineStep, calibrated: bool, posture: Posture | None = None
    ) -> list[Repetition | StepResult]:
        """Hand the step's tilt to the machine; returns repetitions and finished steps.

        ``posture``: the posture classifier's latest word; used once, when the routine starts,
        to tell standing from sitting (exercise tilts can fool it later).
        """
        if step.tilt is None or step.batch is None or not len(step.tilt) or not calibrated:
            return []
        if self.machine.finished:
            return []
        if not self.started and isinstance(self.machine, RoutineRun):
            self.machine.set_starting(_STARTING.get(posture) if posture is not None else None)
        self.started = True
        t = step.batch.host_time
        if isinstance(self.machine, RangeTest):
            self.machine.feed(t, step.tilt.sagittal_deg, step.tilt.frontal_deg)
            return []
        new = self.machine.feed(t, step.tilt.sagittal_deg, step.tilt.frontal_deg)
        self.events += new
        return new
