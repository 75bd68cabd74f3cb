"""The dashboard app: a worker runs the pipeline; a 10 Hz timer redraws from its state.

The worker (a Textual worker: a task on the app's own event loop) runs the session
(:mod:`monitor.session`) with :class:`DashboardState` among its step listeners. Nothing in the
worker touches a widget. A 0.1 s interval timer reads the state and updates the widgets whose
text changed, so the screen refreshes at a steady ~10 Hz whatever the sample rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.theme import Theme
from textual.widgets import Footer
from textual.worker import Worker, WorkerCancelled

from calibration import CalibrationResult, profile_path
from monitor.config import load_config, save_config
from monitor.errors import MonitorError, NotPairedError
from monitor.notify import DesktopNotifier, nudge_text
from monitor.nudge import NudgeConfig, NudgeEvent, NudgeShown
from monitor.pipeline import profile_id
from monitor.service import apply_answer, calibration_command, use_nudge_config
from monitor.session import Session, earlier_totals
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.guide import GuideScreen
from monitor.tui.screens.help import HelpScreen
from monitor.tui.screens.history import HistoryScreen
from monitor.tui.screens.nudge import NudgeScreen
from monitor.tui.screens.pairing import PairingScreen
from monitor.tui.screens.pause import PauseScreen
from monitor.tui.screens.settings import SettingsScreen
from monitor.tui.state import DashboardState, sample_nudge
from monitor.tui.widgets.link_bar import LinkBar
from monitor.tui.widgets.panel import LivePanel
from monitor.tui.widgets.posture_panel import PosturePanel
from monitor.tui.widgets.sitting_clock import SittingClock
from monitor.tui.widgets.tilt_gauges import TiltGauges
from monitor.tui.widgets.timeline import Timeline
from monitor.tui.widgets.totals_panel import TotalsPanel

log = logging.getLogger(__name__)

REFRESH_S = 0.1  # the steady redraw rate: 10 Hz
GUIDE_WAIT_S = 5.0  # the first-run guide waits this long at most for the link to settle
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
    FooterKey .footer-key--key { color: $text-primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "calibrate", "Calibrate"),
        Binding("e", "coach", "Coach"),
        Binding("o", "settings", "Settings"),
        Binding("s", "snooze", "Snooze"),
        Binding("p", "pause_menu", "Pause", show=False),  # on the nudge: "Snooze for…"
        Binding("h", "history", "History"),
        Binding("g", "guide", "Guide", show=False),
        Binding("d", "dismiss_nudge", "Dismiss", show=False),
        Binding("n", "sample_nudge", "Sample nudge", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("q", "detach", "Detach"),  # attached to the service: it carries on
        Binding("ctrl+c", "detach", "Detach", show=False, priority=True),
        Binding("space", "pause", "Pause"),
        Binding("left", "seek(-60)", "−1 min", show=False),
        Binding("right", "seek(60)", "+1 min", show=False),
        Binding("left_square_bracket", "seek(-600)", "−10 min", show=False),
        Binding("right_square_bracket", "seek(600)", "+10 min", show=False),
        Binding("r", "replay_again", "Play again", show=False),
        Binding("minus", "speed(0.5)", "Slower", show=False),
        Binding("plus", "speed(2)", "Faster", show=False),
    ]
    REPLAY_ACTIONS = frozenset({"pause", "seek", "speed", "replay_again"})
    # What a recording cannot take: the wearer's answers and settings belong to a live session.
    LIVE_ACTIONS = frozenset({"calibrate", "settings", "snooze", "sample_nudge"})

    def __init__(
        self,
        session: Session,
        *,
        notifier: DesktopNotifier | None = None,
        bell: bool = True,
        blink: bool = True,
        guide: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.state = DashboardState(session.live_factory())
        self.notifier = notifier or DesktopNotifier(enabled=False)
        self.use_bell = bell
        self.blink = blink  # tests turn the input cursor's blinking off (deterministic pictures)
        self.show_guide = guide  # the first-run guide, opened over the dashboard at start
        self._guide_pending = False  # waiting for the stream or the pairing step to show it
        self._worker: Worker[None] | None = None
        self._seek_to: float | None = None
        self._restart = asyncio.Event()
        self._panels: list[LivePanel] = []
        if session.attached is not None:
            # The service's answers, applied to this mirror at the point the service did.
            session.attached.on_answer = self._on_remote_answer
            session.attached.on_caught_up = self._on_caught_up
            self.state.catching_up = True

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield LinkBar(
            self.session.label, self.session.replay, recorder=self.session.recorder, id="link"
        )
        with Grid(id="panels"):
            yield TiltGauges(id="tilt")
            with Vertical(id="right"):
                yield PosturePanel(id="posture")
                yield SittingClock(id="clock")
            with Horizontal(id="bottom"):
                yield TotalsPanel(id="totals")
                yield Timeline(id="timeline")
        yield Footer(compact=True)  # every key fits 80 columns

    def on_mount(self) -> None:
        self._restore_theme()
        self._panels = list(self.query(LivePanel))
        self.set_interval(REFRESH_S, self.refresh_view)
        self._worker = self.run_worker(self._run_session(), name="pipeline", exit_on_error=False)
        if self.session.today_from and self.session.replay is None:
            self.run_worker(self._rebuild_today(), name="today", exit_on_error=False)
        self.refresh_view()
        if self.show_guide:
            if self.session.pair is None:
                self.push_screen(GuideScreen())
            else:
                # A sensor that may ask to be paired first: the guide waits for the stream
                # (or the pairing step, or a few seconds), so it does not flash past.
                self._guide_pending = True
                self.set_timer(GUIDE_WAIT_S, self._show_pending_guide)

    def _show_pending_guide(self) -> None:
        if self._guide_pending and not isinstance(self.screen, PairingScreen):
            self._guide_pending = False
            self.push_screen(GuideScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("quit", "detach"):
            return (action == "detach") == (self.session.attached is not None)
        if action == "replay_again":  # offered once the recording has played to its end
            return self.session.replay is not None and self.state.ended
        if action in self.REPLAY_ACTIONS:
            return self.session.replay is not None  # hidden unless replaying
        if action in self.LIVE_ACTIONS and self.session.replay is not None:
            return False  # hidden in a replay
        if isinstance(self.screen, CalibrationScreen) and action in (
            "calibrate",
            "settings",
            "history",
        ):
            return False  # the wizard's own keys only, while it runs
        if action == "calibrate":
            return True if self.session.can_calibrate else None  # shown greyed in a replay
        if action == "dismiss_nudge":
            return (self.state.nudge_pending and not self.strict) or None
        if action in ("snooze", "pause_menu"):
            return not self.strict or None
        return True

    # --- the theme, kept in the config file -----------------------------------------------------

    def _restore_theme(self) -> None:
        with contextlib.suppress(MonitorError):  # a config error is the settings screen's to say
            theme = load_config().theme
            if theme in self.available_themes:
                self.theme = theme
        self.theme_changed_signal.subscribe(self, self._save_theme)

    def _save_theme(self, theme: Theme) -> None:
        try:
            current = load_config()  # everything else as it is on disk
            if current.theme != theme.name:
                save_config(dataclasses.replace(current, theme=theme.name))
        except (MonitorError, OSError) as exc:
            self.notify(f"The theme is not saved: {exc}", severity="warning", timeout=6)

    # --- the 10 Hz refresh ----------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Redraw from the state: everything the worker wrote since the last tick, at once."""
        state = self.state
        for text in state.answers:
            if isinstance(self.screen, NudgeScreen):
                self.screen.dismiss()
            self.notify(text, timeout=4)
        state.answers.clear()
        for nudge in state.new_nudges:
            self._show_nudge(nudge)
        state.new_nudges.clear()
        screen = self.screen
        if isinstance(screen, NudgeScreen) and not screen.sample and not state.nudge_pending:
            self.screen.dismiss()  # answered elsewhere, or a real break cleared it
            self.notify("Nice: you took a break.", timeout=4)
        if self._guide_pending and (state.live.assembler.stats.samples or state.error):
            self._show_pending_guide()
        for panel in self._panels:
            panel.show(state)
        for screen in self.screen_stack:
            if isinstance(screen, CalibrationScreen):
                screen.refresh_view()

    def _show_nudge(self, nudge: NudgeShown) -> None:
        if isinstance(self.screen, NudgeScreen) and self.screen.sample:
            self.screen.dismiss()  # a real nudge takes the place of a sample
            self.push_screen(NudgeScreen(nudge))
        elif isinstance(self.screen, NudgeScreen):
            self.screen.show_nudge(nudge)  # a firmer one replaces it
        else:
            self.push_screen(NudgeScreen(nudge))
        if self.use_bell:
            self.bell()
        self.notifier.send("tiltmon", nudge_text(nudge))

    # --- the worker -----------------------------------------------------------------------------

    async def _run_session(self) -> None:
        """Stream until quit; in a replay, a seek starts a fresh pipeline from the new point."""
        transport = self.session.transport
        run: asyncio.Task[Any] | None = None
        try:
            async with transport:
                while True:
                    self._restart.clear()
                    run = asyncio.create_task(self._stream())
                    restart = asyncio.create_task(self._restart.wait())
                    await asyncio.wait({run, restart}, return_when=asyncio.FIRST_COMPLETED)
                    if run.done():
                        if await self._paired_after_refusal(run):
                            run = None  # paired: stream again, over the encrypted link
                            self.state = DashboardState(self.session.live_factory())
                            continue
                        run.result()  # raise its error, if any
                        self.state.ended = True
                        await restart  # a replay stays open: a seek may start it again
                    else:
                        restart.cancel()
                    run.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await run
                    run = None
                    if self.session.replay is not None and self._seek_to is not None:
                        self.session.replay.seek(self._seek_to)
                        self._seek_to = None
                    # A fresh pipeline: the recording re-sends the link context after a seek.
                    self.state = DashboardState(self.session.live_factory())
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

    async def _paired_after_refusal(self, run: asyncio.Task[Any]) -> bool:
        """The pairing step: when the sensor refused this computer and the source can pair,
        ask the wearer to open its pairing window and pair; True once paired. On the first run
        it comes before the guide (nothing streams until the sensor is paired)."""
        error = None if run.cancelled() else run.exception()
        if not isinstance(error, NotPairedError) or self.session.pair is None:
            return False
        if isinstance(self.screen, GuideScreen):  # shown already: after the pairing, then
            self.pop_screen()
            self._guide_pending = True
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.push_screen(PairingScreen(str(error), self.session.pair, done))
        await done  # the guide, if due, follows with the first samples
        return True

    async def _stream(self) -> None:
        await self.session.run(math.inf, self.state.live, [self.state])

    async def _rebuild_today(self) -> None:
        """Today's earlier recordings join the day's totals once replayed (in the background:
        the live stream does not wait for them)."""
        paths = self.session.today_from
        try:
            earlier = await earlier_totals(paths)
        except (MonitorError, OSError) as exc:
            self.notify(f"Today's earlier sessions could not be read: {exc}", severity="warning")
            return
        self.state.live.totals.absorb(earlier)
        self.state.rebuilt_from = len(paths)
        self.refresh_view()
        sessions = "session" if len(paths) == 1 else "sessions"
        self.notify(f"Today includes {len(paths)} earlier {sessions}.", timeout=4)

    # --- the wearer's answers -------------------------------------------------------------------

    def _record_answers(self, events: tuple[NudgeEvent, ...]) -> None:
        self.state.note_user_events(events)
        self.session.record_answers(events)

    @property
    def strict(self) -> bool:
        """Strict mode (config ``strict``, or the service's): only a real break clears a nudge."""
        attached = self.session.attached
        return self.state.nudge_config.strict or bool(attached and attached.hello.get("strict"))

    def action_snooze(self, minutes: float | None = None) -> None:
        state = self.state
        if self.strict:
            self.notify("Strict mode: stand up for a minute to clear the nudge.", timeout=4)
            return
        if state.snapshot is None:
            return
        length = state.nudge_config.snooze_min if minutes is None else minutes
        if self.session.attached is not None:
            self.session.attached.send("snooze", minutes=minutes)  # applied when it echoes back
            return
        self._record_answers(state.live.pipeline.snooze(state.data_time(), minutes))
        if isinstance(self.screen, NudgeScreen):
            self.screen.dismiss()
        self.notify(f"Snoozed: no nudges for {length:g} minutes.", timeout=4)
        self.refresh_view()

    def action_dismiss_nudge(self) -> None:
        state = self.state
        if self.strict:
            return
        if self.session.attached is not None:
            self.session.attached.send("dismiss")
            return
        self._record_answers(state.live.pipeline.dismiss(state.data_time()))
        if isinstance(self.screen, NudgeScreen):
            self.screen.dismiss()
        self.refresh_view()

    def _flush_held(self) -> None:
        """Run what the catching-up pipeline holds, so that the next thing acts after it."""
        step = self.state.live.flush()
        if step is not None:
            self.state.on_step(step)

    def _on_caught_up(self) -> None:
        """The day so far is through: packet by packet from here, and a pending nudge shows."""
        self._flush_held()
        self.state.live.pipeline.coalesce_s = 0.0
        self.state.caught_up()

    def _on_remote_answer(self, message: dict[str, Any]) -> None:
        """The service applied a wearer's answer (from here or another dashboard): mirror it."""
        self._flush_held()  # held samples came before the answer
        events = apply_answer(self.state.live, message)
        if message.get("action") == "snooze":
            minutes = message.get("minutes") or self.state.nudge_config.snooze_min
            self.state.answers.append(f"Snoozed: no nudges for {float(minutes):g} minutes.")
        elif message.get("action") == "config":
            self.state.answers.append("The service uses the new settings.")
        elif message.get("action") == "calibration":
            self.state.answers.append("The service uses the new calibration.")
        elif events:
            self.state.answers.append("Nudge dismissed.")

    def apply_nudge_config(self, config: NudgeConfig) -> None:
        """New settings take effect at once; the bout clock and the nudge state carry on.

        Attached to the service, it re-reads the settings file too and echoes the change, so
        the service and every dashboard switch at the same point of the stream.
        """
        if self.session.attached is not None:
            self.session.attached.send("config")
            return
        use_nudge_config(self.state.live, config)
        self.refresh_view()

    def finish_calibration(self, result: CalibrationResult, t: float) -> Path | None:
        """Save the profile under the sensor's serial and switch the pipeline to it.

        Attached to the service, the service does both (it holds the sensor and the
        recording) and every dashboard switches when it echoes the calibration back."""
        if self.session.attached is not None:
            self.session.attached.send("calibration", **calibration_command(result))
            return profile_path(profile_id(self.state.device))
        try:
            return self.session.apply_calibration(self.state.live, result, self.state.device, t)
        except OSError as exc:
            self.notify(f"Could not save the calibration: {exc}", severity="error")
            return None

    # --- screens --------------------------------------------------------------------------------

    def action_calibrate(self) -> None:
        if not self.session.can_calibrate:
            self.notify("Calibration needs a live sensor, not a replay.", timeout=4)
            return
        if self.state.catching_up:  # the wizard follows the wearer now, not the day so far
            self.notify("Calibration can start once the service's day has caught up.", timeout=4)
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

    def action_sample_nudge(self) -> None:
        """What a nudge looks like, on request (n; again for the next kind): nothing recorded."""
        screen = self.screen
        if isinstance(screen, NudgeScreen) and not screen.sample:
            return  # a real nudge is on screen: it stays
        previous = screen.nudge.level if isinstance(screen, NudgeScreen) else None
        sample = sample_nudge(self.state, previous)
        if isinstance(screen, NudgeScreen):
            screen.show_nudge(sample)
        else:
            self.push_screen(NudgeScreen(sample, sample=True))

    def action_pause_menu(self) -> None:
        """Choose how long: a snooze of 10 to 30 minutes, an hour's meeting, or the day."""
        if self.strict:
            self.notify("Strict mode: stand up for a minute to clear the nudge.", timeout=4)
            return
        if isinstance(self.screen, PauseScreen):
            return
        now = self.state.data_time() or None
        local = self.state.policy.local_time(now) if now else dt.datetime.now().time()

        def chosen(minutes: float | None) -> None:
            if minutes is not None:
                self.action_snooze(minutes)

        self.push_screen(PauseScreen(local), chosen)

    def action_history(self) -> None:
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen())

    def action_guide(self) -> None:
        if not isinstance(self.screen, GuideScreen):
            self.push_screen(GuideScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_detach(self) -> None:
        """Leave the service running: only this dashboard's connection closes."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Stop the stream and close the recording before leaving."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(WorkerCancelled):
                await self._worker.wait()
        self.exit()

    # --- replay controls ------------------------------------------------------------------------

    def action_pause(self) -> None:
        replay = self.session.replay
        if replay is None:
            return
        if replay.paused:
            replay.resume()
        else:
            replay.pause()
        self.refresh_view()

    def action_seek(self, delta_s: float) -> None:
        replay = self.session.replay
        if replay is None:
            return
        base = self._seek_to if self._seek_to is not None else replay.position_s
        self._seek_to = min(max(base + delta_s, 0.0), replay.duration_s)
        self._restart.set()

    def action_replay_again(self) -> None:
        """From the start, with a fresh pipeline (playing, at the same speed)."""
        replay = self.session.replay
        if replay is None:
            return
        if replay.paused:
            replay.resume()
        self._seek_to = 0.0
        self._restart.set()

    def action_speed(self, factor: float) -> None:
        replay = self.session.replay
        if replay is None:
            return
        current = replay.speed or 1000.0
        replay.speed = min(max(current * factor, 0.25), 1000.0)
        self.refresh_view()
