"""The coach in the dashboard: a menu (the range test, the routines, the one the day's tilt
suggests) and the guided screen that runs one of them on the live tilt.

While the guided screen is open the worker hands it every pipeline step
(``DashboardState.step_sink``); it feeds the coach's state machine (monitor.coach) on the spot,
records each finished step and the result as events, and the 10 Hz refresh draws the cue, the
repetition counter, the last repetition's range, hold and tempo, and the count per side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from monitor.activity import TiltZone
from monitor.coach import events
from monitor.coach.range_test import RangePhase, RangeTest
from monitor.coach.repetitions import CounterState, Repetition
from monitor.coach.routine import RoutineRun, StepResult, StepStatus
from monitor.coach.session import CoachFeed
from monitor.exercises import Catalogue, Counted, ExerciseKind, Routine, kind_for_zone
from monitor.pipeline import PipelineStep

if TYPE_CHECKING:
    from monitor.tui.app import DashboardApp


def suggested_kind(app: DashboardApp) -> ExerciseKind:
    """The tilt pattern the wearer spent most time in today (outside neutral)."""
    zones = app.state.live.totals.seconds_by_zone
    tilted = {z: s for z, s in zones.items() if z is not TiltZone.NEUTRAL and s > 0}
    if not tilted:
        return ExerciseKind.AWARENESS
    return kind_for_zone(max(tilted, key=lambda z: tilted[z]))


class CoachMenuScreen(Screen[None]):
    DEFAULT_CSS = """
    CoachMenuScreen { align: center top; }
    CoachMenuScreen > Vertical { width: 84; max-width: 100%; height: auto; padding: 1 2; }
    CoachMenuScreen #coach-title { text-style: bold; color: $primary; }
    CoachMenuScreen #coach-list { margin-top: 1; height: auto; }
    CoachMenuScreen #coach-caution { margin-top: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "start('range')", "Range test"),
        *(Binding(str(i), f"start('{i}')", f"Routine {i}", show=False) for i in range(1, 10)),
        Binding("enter", "start('suggested')", "Suggested"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.routines = list(catalogue.routines.values())

    @property
    def dashboard(self) -> DashboardApp:
        from monitor.tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

    def suggested(self) -> Routine | None:
        return self.catalogue.routine_for(suggested_kind(self.dashboard)) or (
            self.routines[0] if self.routines else None
        )

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Coach: exercises measured by the sensor", id="coach-title")
            yield Static(id="coach-list")
            yield Static(self.catalogue.stance.not_treatment, id="coach-caution")
        yield Footer()

    def on_mount(self) -> None:
        suggested = self.suggested()
        lines = ["r  Pelvic range test: about a minute, standing. Your progress line.", ""]
        for i, routine in enumerate(self.routines[:9], start=1):
            mark = "  ← suggested by today's tilt (enter)" if routine is suggested else ""
            lines.append(f"{i}  {routine.title}{mark}")
            names = ", ".join(s.exercise.name for s in routine.steps)
            lines.append(f"   {names}")
        self.query_one("#coach-list", Static).update("\n".join(lines))

    def action_start(self, which: str) -> None:
        routine: Routine | None
        if which == "range":
            self.app.switch_screen(CoachScreen(None, self.catalogue.stance.not_treatment))
            return
        if which == "suggested":
            routine = self.suggested()
        else:
            index = int(which) - 1
            routine = self.routines[index] if index < len(self.routines) else None
        if routine is not None:
            self.app.switch_screen(CoachScreen(routine, self.catalogue.stance.not_treatment))

    def action_close(self) -> None:
        self.dismiss()


class CoachScreen(Screen[None]):
    DEFAULT_CSS = """
    CoachScreen { align: center top; }
    CoachScreen > Vertical { width: 96; max-width: 100%; height: auto; padding: 0 2; }
    CoachScreen #coach-title { text-style: bold; color: $primary; }
    CoachScreen #coach-steps { color: $text-muted; height: auto; }
    CoachScreen #coach-exercise { margin-top: 1; text-style: bold; }
    CoachScreen #coach-cue {
        padding: 0 1;
        border: round $primary;
        height: auto;
        min-height: 3;
    }
    CoachScreen #coach-count { margin-top: 1; text-style: bold; height: auto; }
    CoachScreen #coach-last { height: auto; }
    CoachScreen ProgressBar Bar { width: 1fr; }
    CoachScreen ProgressBar { width: 100%; }
    CoachScreen #coach-note { color: $text-muted; height: auto; }
    CoachScreen #coach-status { height: auto; }
    CoachScreen #coach-status.-done { color: $success; text-style: bold; }
    CoachScreen #coach-caution { margin-top: 1; color: $text-muted; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause/resume"),
        Binding("n", "skip", "Skip"),
        Binding("x", "stop", "Stop"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, routine: Routine | None, not_treatment: str = "") -> None:
        super().__init__()
        self.routine = routine
        self.not_treatment = not_treatment  # the nudges' caution, said here too
        machine: RangeTest | RoutineRun = RangeTest() if routine is None else RoutineRun(routine)
        self.feed_state = CoachFeed(machine)
        self.recorded = False
        self.last_step: StepResult | None = None

    @property
    def dashboard(self) -> DashboardApp:
        from monitor.tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

    @property
    def machine(self) -> RangeTest | RoutineRun:
        return self.feed_state.machine

    def compose(self) -> ComposeResult:
        title = "Pelvic range test" if self.routine is None else f"Routine: {self.routine.title}"
        with Vertical():
            yield Static(title, id="coach-title")
            yield Static(id="coach-steps")
            yield Static(id="coach-exercise")
            yield Static(id="coach-cue")
            yield Static(id="coach-count")
            yield ProgressBar(total=100, show_eta=False, show_percentage=False, id="coach-bar")
            yield Static(id="coach-last")
            yield Static(id="coach-note")
            yield Static(id="coach-status")
            yield Static(self.not_treatment, id="coach-caution")
        yield Footer()

    def on_mount(self) -> None:
        self.dashboard.state.step_sink = self.feed
        self.set_interval(0.1, self.refresh_view)
        self.refresh_view()

    def on_unmount(self) -> None:
        if self.dashboard.state.step_sink == self.feed:
            self.dashboard.state.step_sink = None
        self._record_end()

    # --- driven by the worker, at data rate ------------------------------------------------------

    def feed(self, step: PipelineStep) -> None:
        pipeline = self.dashboard.state.live.pipeline
        snap = pipeline.latest_snapshot
        try:
            new = self.feed_state.on_step(step, pipeline.calibrated, snap.posture if snap else None)
        except ValueError as exc:  # odd data must not stop the monitor behind
            self.dashboard.state.error = f"coach stopped: {exc}"
            return
        recorder = self.dashboard.session.recorder
        for event in new:
            if isinstance(event, StepResult):
                self.last_step = event
                if recorder is not None and self.routine is not None:
                    recorder.record_event(*events.step_event(self.routine.name, event))
        if self.machine.finished:
            self._record_end()

    def _record_end(self) -> None:
        """The result once, when it ends or the screen closes (a stopped routine too)."""
        if self.recorded or not self.feed_state.started:
            return
        recorder = self.dashboard.session.recorder
        machine = self.machine
        t = self.dashboard.state.data_time()
        if isinstance(machine, RangeTest):
            if machine.result is None:
                return
            self.recorded = True
            if recorder is not None:
                recorder.record_event(*events.range_event(machine.result))
            return
        stopped = not machine.finished
        result = machine.stop(t)
        self.recorded = True
        if recorder is not None:
            if stopped:
                recorder.record_event(*events.step_event(result.routine, result.steps[-1]))
            recorder.record_event(*events.routine_event(result))

    # --- keys: they act at the data's time ------------------------------------------------------

    def action_pause(self) -> None:
        run = self.machine
        if isinstance(run, RoutineRun) and not run.finished:
            t = self.dashboard.state.data_time()
            run.resume(t) if run.paused else run.pause(t)
            self.refresh_view()

    def action_skip(self) -> None:
        run = self.machine
        if isinstance(run, RoutineRun) and not run.finished and self.feed_state.started:
            result = run.skip(self.dashboard.state.data_time())
            recorder = self.dashboard.session.recorder
            if result is not None and recorder is not None:
                recorder.record_event(*events.step_event(run.routine.name, result))
            if run.finished:
                self._record_end()
            self.refresh_view()

    def action_stop(self) -> None:
        machine = self.machine
        if isinstance(machine, RangeTest):
            machine.stop(self.dashboard.state.data_time(), "Stopped.")
        else:
            self._record_end()
        self.refresh_view()

    def action_close(self) -> None:
        self.dismiss()

    # --- drawn at the refresh rate ----------------------------------------------------------

    def refresh_view(self) -> None:
        machine = self.machine
        cue = self.feed_state.prompt()
        if isinstance(machine, RangeTest):
            self._draw_range(machine, cue)
        else:
            self._draw_routine(machine, cue)

    def _draw_range(self, test: RangeTest, cue: str) -> None:
        order = [RangePhase.STAND, RangePhase.SAGITTAL, RangePhase.FRONTAL, RangePhase.DONE]
        labels = ["Stand still", "Tilt forward/back ×3", "Hitch each hip ×3"]
        at = order.index(test.phase) if test.phase in order else -1
        marks = [
            f"{'✓' if at > i else ('●' if at == i else '○')} {i + 1}. {label}"
            for i, label in enumerate(labels)
        ]
        self.query_one("#coach-steps", Static).update("    ".join(marks))
        self.query_one("#coach-exercise", Static).update("")
        self.query_one("#coach-cue", Static).update(cue)
        done, asked = test.progress
        count = ""
        if test.phase is RangePhase.SAGITTAL:
            count = f"forward {min(len(test.forward), 3)}/3   back {min(len(test.back), 3)}/3"
        elif test.phase is RangePhase.FRONTAL:
            count = f"right hip {min(len(test.right), 3)}/3   left hip {min(len(test.left), 3)}/3"
        self.query_one("#coach-count", Static).update(count)
        self.query_one("#coach-bar", ProgressBar).update(
            progress=100.0 * done / asked if asked else (100.0 if test.finished else 0.0)
        )
        last = ""
        strokes = test.forward + test.back + test.right + test.left
        if strokes and not test.finished:
            s = max(strokes, key=lambda k: k.t_end)
            last = f"last movement: {s.range_deg:.0f}° from neutral"
        self.query_one("#coach-last", Static).update(last)
        self.query_one("#coach-note", Static).update(
            "Measured from your relaxed stand: forward and back tilt, and how far each hip lifts."
        )
        status = self.query_one("#coach-status", Static)
        if test.result is not None:
            status.update(test.result.summary() + " Press escape to go back.")
        elif test.phase is RangePhase.FAILED:
            status.update("Press escape to go back and try again.")
        else:
            status.update("")
        status.set_class(test.result is not None, "-done")

    def _draw_routine(self, run: RoutineRun, cue: str) -> None:
        routine = run.routine
        marks = []
        for i, each in enumerate(routine.steps):
            if i < len(run.results):
                mark = "✓" if run.results[i].status is StepStatus.DONE else "–"
            else:
                mark = "●" if i == run.index and not run.finished else "○"
            marks.append(f"{mark} {each.exercise.name}")
        self.query_one("#coach-steps", Static).update("   ".join(marks))
        step = run.step
        exercise = self.query_one("#coach-exercise", Static)
        note = self.query_one("#coach-note", Static)
        count = self.query_one("#coach-count", Static)
        last = self.query_one("#coach-last", Static)
        bar = self.query_one("#coach-bar", ProgressBar)
        status = self.query_one("#coach-status", Static)
        self.query_one("#coach-cue", Static).update(cue)
        if step is None:
            result = run.result()
            exercise.update("Done" if result.completed else "Stopped")
            count.update(f"{result.repetitions} repetitions")
            lines = []
            for s in result.steps:
                what = (
                    ", ".join(
                        f"{side.side or 'reps'} {side.done}/{side.asked}"
                        + (f" ({side.mean_range_deg:.0f}°)" if side.mean_range_deg else "")
                        for side in s.sides
                    )
                    or f"{s.seconds_done:.0f} s"
                )
                lines.append(f"{s.exercise}: {what} — {s.status.value.replace('_', ' ')}")
            last.update("\n".join(lines))
            bar.update(progress=100.0)
            note.update("")
            status.update("Recorded. Press escape to go back.")
            status.set_class(True, "-done")
            return
        status.set_class(False, "-done")
        exercise.update(f"{run.index + 1}/{len(routine.steps)}  {step.exercise.name}")
        sensor = step.exercise.sensor
        caution = f"\n{step.exercise.caution}" if step.exercise.caution else ""
        note.update((f"What the sensor tells: {sensor.note}" if sensor else "") + caution)
        counter = run.counter
        if isinstance(sensor, Counted) and counter is not None:
            if "" in step.reps:
                count.update(f"Repetitions {counter.count_for('')} / {step.reps['']}")
            else:
                count.update(
                    "   ".join(
                        f"{side} {counter.count_for(side)}/{n}" for side, n in step.reps.items()
                    )
                )
            moving = counter.state is not CounterState.FINDING_REST
            reach = abs(counter.last_angle) / max(sensor.min_range_deg, 1e-6) if moving else 0.0
            bar.update(progress=min(100.0, 100.0 * reach))
            last.update(_last_rep(run.last_rep, run.tempo_s(), sensor.hold_s))
        elif run.timer is not None:
            timer = run.timer
            t = run.t_now or 0.0
            total = timer.seconds * timer.sides
            count.update(f"Hold {timer.elapsed(t):.0f} / {total:.0f} s")
            bar.update(progress=100.0 * timer.elapsed(t) / total if total else 0.0)
            last.update("")
        hints = "Paused: press p to carry on." if run.paused else ""
        status.update(hints)


def _last_rep(rep: Repetition | None, tempo: float | None, hold_asked: float) -> str:
    if rep is None:
        return "last repetition: –"
    side = f" ({rep.side})" if rep.side else ""
    hold = f"hold {rep.hold_s:.1f} s" + (f" of {hold_asked:g}" if hold_asked else "")
    pace = f", tempo {tempo:.1f} s a repetition" if tempo is not None else ""
    return f"last repetition{side}: range {rep.range_deg:.0f}°, {hold}{pace}"
