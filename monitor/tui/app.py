"""The dashboard app: a worker runs the pipeline; a 10 Hz timer redraws from its state.

The worker (a Textual worker: a task on the app's own event loop) consumes ``stream_for`` on
the source's transport and writes every step into :class:`DashboardState`. Nothing in the
worker touches a widget. A 0.1 s interval timer reads the state and updates the widgets whose
text changed, so the screen refreshes at a steady ~10 Hz whatever the sample rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Footer
from textual.worker import Worker, WorkerCancelled

from calibration import CalibrationResult, save_profile
from monitor.commands.calibrate import CalibrationRun, profile_from
from monitor.commands.stream import record_mounting, record_step
from monitor.errors import MonitorError
from monitor.live import stream_for
from monitor.nudge import NudgeConfig, NudgeEvent, NudgeOutcome, NudgePolicy, NudgeShown
from monitor.pipeline import PipelineStep
from monitor.stream import StreamEvent
from monitor.transport.items import LinkEvent, LinkEventKind
from monitor.tui.notify import DesktopNotifier
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.help import HelpScreen
from monitor.tui.screens.nudge import NudgeScreen
from monitor.tui.screens.settings import SettingsScreen
from monitor.tui.source import Source
from monitor.tui.state import DashboardState
from monitor.tui.widgets.link_bar import LinkBar
from monitor.tui.widgets.panel import LivePanel
from monitor.tui.widgets.posture_panel import PosturePanel
from monitor.tui.widgets.sitting_clock import SittingClock
from monitor.tui.widgets.tilt_gauges import TiltGauges
from monitor.tui.widgets.timeline import Timeline
from monitor.tui.widgets.totals_panel import TotalsPanel

log = logging.getLogger(__name__)

REFRESH_S = 0.1  # the steady redraw rate: 10 Hz
SEEK_STEPS = {"left": -60.0, "right": 60.0, "left_square_bracket": -600.0,
              "right_square_bracket": 600.0}  # fmt: skip


class DashboardApp(App[None]):
    TITLE = "tiltmon"
    CSS = """
    Screen { layout: vertical; }
    #panels {
        grid-size: 2 2;
        grid-columns: 1fr 1fr;
        grid-rows: 10 1fr;
        height: 1fr;
    }
    #right { height: 100%; }
    #posture { height: 4; }
    #clock { height: 1fr; }
    #bottom { column-span: 2; height: 100%; }
    #totals { width: 40; height: 100%; }
    #timeline { width: 1fr; height: 100%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "calibrate", "Calibrate"),
        Binding("e", "coach", "Coach"),
        Binding("o", "settings", "Settings"),
        Binding("s", "snooze", "Snooze"),
        Binding("d", "dismiss_nudge", "Dismiss", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("space", "pause", "Pause"),
        Binding("left", "seek(-60)", "−1 min", show=False),
        Binding("right", "seek(60)", "+1 min", show=False),
        Binding("left_square_bracket", "seek(-600)", "−10 min", show=False),
        Binding("right_square_bracket", "seek(600)", "+10 min", show=False),
        Binding("minus", "speed(0.5)", "Slower", show=False),
        Binding("plus", "speed(2)", "Faster", show=False),
    ]
    REPLAY_ACTIONS = frozenset({"pause", "seek", "speed"})

    def __init__(
        self,
        source: Source,
        *,
        notifier: DesktopNotifier | None = None,
        bell: bool = True,
        blink: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.state = DashboardState(source.live_factory())
        self.notifier = notifier or DesktopNotifier(enabled=False)
        self.use_bell = bell
        self.blink = blink  # tests turn the input cursor's blinking off (deterministic pictures)
        self._worker: Worker[None] | None = None
        self._seek_to: float | None = None
        self._restart = asyncio.Event()
        self._panels: list[LivePanel] = []

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield LinkBar(self.source.label, self.source.replay, id="link")
        with Grid(id="panels"):
            yield TiltGauges(id="tilt")
            with Vertical(id="right"):
                yield PosturePanel(id="posture")
                yield SittingClock(id="clock")
            with Horizontal(id="bottom"):
                yield TotalsPanel(id="totals")
                yield Timeline(id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self._panels = list(self.query(LivePanel))
        self.set_interval(REFRESH_S, self.refresh_view)
        self._worker = self.run_worker(self._run_source(), name="pipeline", exit_on_error=False)
        self.refresh_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.REPLAY_ACTIONS:
            return self.source.replay is not None  # hidden unless replaying
        if isinstance(self.screen, CalibrationScreen) and action in ("calibrate", "settings"):
            return False  # the wizard's own keys only, while it runs
        if action == "calibrate":
            return True if self.source.can_calibrate else None  # shown greyed in a replay
        if action == "dismiss_nudge":
            return self.state.nudge_pending or None
        return True

    # --- the 10 Hz refresh ----------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Redraw from the state: everything the worker wrote since the last tick, at once."""
        state = self.state
        for nudge in state.new_nudges:
            self._show_nudge(nudge)
        state.new_nudges.clear()
        if isinstance(self.screen, NudgeScreen) and not state.nudge_pending:
            self.screen.dismiss()  # answered elsewhere, or a real break cleared it
            self.notify("Nice: you took a break.", timeout=4)
        for panel in self._panels:
            panel.show(state)
        for screen in self.screen_stack:
            if isinstance(screen, CalibrationScreen):
                screen.refresh_view()

    def _show_nudge(self, nudge: NudgeShown) -> None:
        if isinstance(self.screen, NudgeScreen):
            self.screen.show_nudge(nudge)  # a firmer one replaces it
        else:
            self.push_screen(NudgeScreen(nudge))
        if self.use_bell:
            self.bell()
        self.notifier.send("tiltmon", f"{nudge.reason}\n{nudge.suggestion.move}")

    # --- the worker -----------------------------------------------------------------------------

    async def _run_source(self) -> None:
        """Stream until quit; in a replay, a seek starts a fresh pipeline from the new point."""
        transport = self.source.transport
        run: asyncio.Task[Any] | None = None
        try:
            async with transport:
                while True:
                    self._restart.clear()
                    run = asyncio.create_task(self._stream())
                    restart = asyncio.create_task(self._restart.wait())
                    await asyncio.wait({run, restart}, return_when=asyncio.FIRST_COMPLETED)
                    if run.done():
                        run.result()  # raise its error, if any
                        self.state.ended = True
                        await restart  # a replay stays open: a seek may start it again
                    else:
                        restart.cancel()
                    run.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await run
                    run = None
                    if self.source.replay is not None and self._seek_to is not None:
                        self.source.replay.seek(self._seek_to)
                        self._seek_to = None
                    # A fresh pipeline: the recording re-sends the link context after a seek.
                    self.state = DashboardState(self.source.live_factory())
        except asyncio.CancelledError:
            raise
        except MonitorError as exc:
            self.state.error = str(exc)
        except Exception as exc:  # keep the screen up to say what happened
            log.exception("the stream stopped")
            self.state.error = f"the stream stopped: {type(exc).__name__}: {exc}"
        finally:
            if run is not None:
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run

    async def _stream(self) -> None:
        state = self.state
        await stream_for(
            self.source.transport,
            math.inf,
            live=state.live,
            on_event=lambda event: self._on_event(state, event),
            on_step=lambda step: self._on_step(state, step),
        )

    def _on_step(self, state: DashboardState, step: PipelineStep) -> None:
        state.on_step(step)
        if self.source.recorder is not None:
            record_step(self.source.recorder, step)

    def _on_event(self, state: DashboardState, event: StreamEvent | LinkEvent) -> None:
        state.on_event(event)
        if (
            isinstance(event, LinkEvent)
            and event.kind is LinkEventKind.DEVICE_INFO
            and event.device_info is not None
            and self.source.remember is not None
        ):
            self.source.remember(event.device_info.name, event.device_info.address)

    # --- the wearer's answers -------------------------------------------------------------------

    def _record_answers(self, events: tuple[NudgeEvent, ...]) -> None:
        self.state.note_user_events(events)
        if self.source.recorder is not None:
            for event in events:
                t = event.t_resolved if isinstance(event, NudgeOutcome) else event.t
                data = dataclasses.asdict(event)
                self.source.recorder.record_event(t, type(event).__name__, data)

    def action_snooze(self) -> None:
        state = self.state
        if state.snapshot is None:
            return
        self._record_answers(state.live.pipeline.snooze(state.data_time()))
        if isinstance(self.screen, NudgeScreen):
            self.screen.dismiss()
        self.notify(f"Snoozed: no nudges for {state.nudge_config.snooze_min:g} minutes.", timeout=4)
        self.refresh_view()

    def action_dismiss_nudge(self) -> None:
        state = self.state
        self._record_answers(state.live.pipeline.dismiss(state.data_time()))
        if isinstance(self.screen, NudgeScreen):
            self.screen.dismiss()
        self.refresh_view()

    def apply_nudge_config(self, config: NudgeConfig) -> None:
        """New settings take effect at once; the bout clock and the nudge state carry on."""
        pipeline = self.state.live.pipeline
        old = pipeline.nudge_policy
        same_exercises = config.exercises_file == old.config.exercises_file
        pipeline.nudge_policy = NudgePolicy(
            config, local_time=old.local_time, catalogue=old.catalogue if same_exercises else None
        )
        self.refresh_view()

    def finish_calibration(self, result: CalibrationResult, t: float) -> Path | None:
        """Save the profile under the sensor's serial and switch the pipeline to it."""
        profile = profile_from(CalibrationRun(result=result, device=self.state.device))
        path: Path | None
        try:
            path = save_profile(profile)
        except OSError as exc:
            self.notify(f"Could not save the calibration: {exc}", severity="error")
            path = None
        change = self.state.live.pipeline.set_mounting(result.q_PS, t)
        recorder = self.source.recorder
        if recorder is not None:
            recorder.record_calibration(t, profile.to_json(), name=profile.device_id)
            record_mounting(recorder, change)
        return path

    # --- screens --------------------------------------------------------------------------------

    def action_calibrate(self) -> None:
        if not self.source.can_calibrate:
            self.notify("Calibration needs a live sensor, not a replay.", timeout=4)
            return
        if not any(isinstance(s, CalibrationScreen) for s in self.screen_stack):
            self.push_screen(CalibrationScreen())

    def action_coach(self) -> None:
        from monitor.tui.screens.coach import CoachMenuScreen, CoachScreen

        if not any(isinstance(s, CoachMenuScreen | CoachScreen) for s in self.screen_stack):
            self.push_screen(CoachMenuScreen(self.state.live.pipeline.nudge_policy.exercises))

    def action_settings(self) -> None:
        if not any(isinstance(s, SettingsScreen) for s in self.screen_stack):
            self.push_screen(SettingsScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the stream and close the recording before leaving."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(WorkerCancelled):
                await self._worker.wait()
        self.exit()

    # --- replay controls ------------------------------------------------------------------------

    def action_pause(self) -> None:
        replay = self.source.replay
        if replay is None:
            return
        if replay.paused:
            replay.resume()
        else:
            replay.pause()
        self.refresh_view()

    def action_seek(self, delta_s: float) -> None:
        replay = self.source.replay
        if replay is None:
            return
        base = self._seek_to if self._seek_to is not None else replay.position_s
        self._seek_to = min(max(base + delta_s, 0.0), replay.duration_s)
        self._restart.set()

    def action_speed(self, factor: float) -> None:
        replay = self.source.replay
        if replay is None:
            return
        current = replay.speed or 1000.0
        replay.speed = min(max(current * factor, 0.25), 1000.0)
        self.refresh_view()
