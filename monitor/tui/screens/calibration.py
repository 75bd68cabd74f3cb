"""The calibration wizard: stand still, then walk (or tilt), driven by the live samples.

While this screen is open the worker hands it every SampleBatch (``DashboardState.batch_sink``);
it feeds them to :class:`~calibration.CalibrationProcedure` on the spot and keeps the latest
prompt and progress, which the 10 Hz refresh draws. On success the profile is saved under the
sensor's serial (as ``tiltmon calibrate`` does) and the running pipeline switches to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from calibration import (
    CalibrationProcedure,
    CalibrationResult,
    Failed,
    Finished,
    Phase,
    ProcedureConfig,
    Progress,
    Prompt,
)
from monitor.stream import SampleBatch

if TYPE_CHECKING:
    from monitor.tui.app import DashboardApp

STEPS = {
    "walk": ((Phase.STAND_STILL, "Stand still"), (Phase.WALK, "Walk ~10 s")),
    "tilt": ((Phase.STAND_STILL, "Stand still"), (Phase.TILT, "Tilt 3 times")),
}


class CalibrationScreen(Screen[None]):
    DEFAULT_CSS = """
    CalibrationScreen { align: center top; }
    CalibrationScreen > Vertical {
        width: 80;
        max-width: 100%;
        height: auto;
        padding: 1 2;
    }
    CalibrationScreen #cal-title { text-style: bold; color: $text-primary; }
    CalibrationScreen #cal-steps { margin-top: 1; color: $text-muted; }
    CalibrationScreen #cal-prompt {
        margin-top: 1;
        padding: 1 2;
        border: round $primary;
        text-style: bold;
        height: auto;
        min-height: 5;
    }
    CalibrationScreen .cal-bar-label { margin-top: 1; color: $text-muted; }
    CalibrationScreen ProgressBar Bar { width: 1fr; }
    CalibrationScreen ProgressBar { width: 100%; }
    CalibrationScreen #cal-status { margin-top: 1; height: auto; }
    CalibrationScreen #cal-status.-error { color: $text-error; text-style: bold; }
    CalibrationScreen #cal-status.-done { color: $text-success; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Start again"),
        Binding("t", "toggle_method", "Walk / tilt"),
        Binding("escape", "close", "Close"),
        Binding("enter", "close_if_done", "Done", show=False),
    ]

    def __init__(self, method: str = "walk") -> None:
        super().__init__()
        self.method = method
        self.procedure: CalibrationProcedure | None = None
        self.phase: Phase | None = None
        self.prompt = "Waiting for the sensor…"
        self.phase_fraction = 0.0
        self.overall = 0.0
        self.error: str | None = None
        self.saved_to: Path | None = None
        self.result: CalibrationResult | None = None

    @property
    def dashboard(self) -> DashboardApp:
        from monitor.tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Calibration: how the sensor sits on you", id="cal-title")
            yield Static(id="cal-steps")
            yield Static(id="cal-prompt")
            yield Static("This step", classes="cal-bar-label")
            yield ProgressBar(total=100, show_eta=False, id="cal-phase")
            yield Static("Overall", classes="cal-bar-label")
            yield ProgressBar(total=100, show_eta=False, id="cal-overall")
            yield Static(id="cal-status")
        yield Footer()

    def on_mount(self) -> None:
        self.dashboard.state.batch_sink = self.feed
        self._direct_the_wearer()
        self.refresh_view()

    def _direct_the_wearer(self) -> None:
        """A simulated wearer does what the prompts will ask: stand still, then walk straight
        (the ``calibration`` scenario). A real wearer reads the screen instead."""
        act_out = self.dashboard.session.act_out
        if act_out is not None and self.method == "walk":
            act_out("calibration")

    def on_unmount(self) -> None:
        if self.dashboard.state.batch_sink == self.feed:
            self.dashboard.state.batch_sink = None

    # --- driven by the worker, at data rate ------------------------------------------------------

    def feed(self, batch: SampleBatch) -> None:
        if self.result is not None or self.error is not None:
            return
        if batch.gyr is None:
            self.error = "This sensor sends no gyroscope data, and calibration needs it."
            return
        if self.procedure is None:
            rate = self.dashboard.state.live.link.rate_hz or 100
            self.procedure = CalibrationProcedure(rate, ProcedureConfig(method=self.method))
        try:
            events = self.procedure.feed(batch.sensor_time, batch.acc, batch.gyr)
        except ValueError as exc:  # a bug or odd data must not stop the monitor behind
            self.error = f"Calibration stopped: {exc}"
            return
        for event in events:
            if isinstance(event, Prompt):
                if event.phase is Phase.GET_READY and self.phase is Phase.STAND_STILL:
                    self.phase_fraction = self.overall = 0.0  # moved: standing still restarts
                self.phase = event.phase
                if event.phase is not Phase.FAILED:
                    self.prompt = event.text
            elif isinstance(event, Progress):
                self.phase_fraction, self.overall = event.fraction, event.overall
            elif isinstance(event, Failed):
                self.error = _sentence(event.text)
            elif isinstance(event, Finished):
                self.result = event.result
                self.overall = self.phase_fraction = 1.0
                self.saved_to = self.dashboard.finish_calibration(
                    event.result, float(batch.host_time[-1])
                )

    # --- drawn at the refresh rate ----------------------------------------------------------

    def refresh_view(self) -> None:
        steps = []
        # Getting ready is part of standing still: step 1 is current from the first prompt,
        # and a move during it restarts step 1 (the overall bar falls back with it).
        order = [Phase.STAND_STILL, STEPS[self.method][1][0], Phase.DONE]
        current = Phase.STAND_STILL if self.phase is Phase.GET_READY else self.phase
        at = order.index(current) if current is not None and current in order else -1
        for i, (step, label) in enumerate(STEPS[self.method], start=1):
            index = order.index(step)
            mark = "✓" if at > index else ("●" if at == index else "○")
            steps.append(f"{mark} {i}. {label}")
        self.query_one("#cal-steps", Static).update("    ".join(steps))
        prompt = self.prompt
        if self.result is not None:
            prompt = "Done. Standing like this now reads 0° on both gauges."
        self.query_one("#cal-prompt", Static).update(prompt)
        self.query_one("#cal-phase", ProgressBar).update(progress=100 * self.phase_fraction)
        self.query_one("#cal-overall", ProgressBar).update(progress=100 * self.overall)
        status = self.query_one("#cal-status", Static)
        if self.error is not None:
            status.update(f"{self.error}\nPress r to try again, t to switch to pelvic tilts.")
        elif self.result is not None:
            where = f" Saved to {self.saved_to}." if self.saved_to else ""
            status.update(f"Calibration saved.{where} Press enter or escape to go back.")
        else:
            method = "walking" if self.method == "walk" else "slow pelvic tilts"
            status.update(f"Using {method}; press t to switch.")
        status.set_class(self.error is not None, "-error")
        status.set_class(self.result is not None, "-done")

    # --- keys ---------------------------------------------------------------------------------

    def action_retry(self) -> None:
        self.procedure = None
        self.phase = None
        self.prompt = "Waiting for the sensor…"
        self.phase_fraction = self.overall = 0.0
        self.error = None
        self.result = None
        self.saved_to = None
        self._direct_the_wearer()
        self.refresh_view()

    def action_toggle_method(self) -> None:
        if self.result is not None:
            return
        self.method = "tilt" if self.method == "walk" else "walk"
        self.action_retry()

    def action_close(self) -> None:
        self.dismiss()

    def action_close_if_done(self) -> None:
        if self.result is not None:
            self.dismiss()


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else "Calibration failed."
