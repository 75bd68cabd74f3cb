"""A session: a sensor (or a recording), its recorder, and the listeners its pipeline steps go to.

This is the one place that turns "which sensor, recorded where" into a running stream, for every
front end: ``tiltmon stream``, ``tiltmon calibrate``, the dashboard and the headless service. The
command line turns its arguments into :class:`SensorChoice`; the dashboard is handed a
:class:`Session` and never imports the command line.

Every :class:`~monitor.pipeline.PipelineStep` goes to every listener (:class:`StepListener`), in
order: the recorder's (:class:`StepRecorder`), the dashboard's state, the status line, the desktop
notifier. A step carries its transport item, so link events and stream events reach listeners
the same way as samples and nudges (:func:`step_events`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from calibration import CalibrationProfile, CalibrationResult, save_profile
from monitor.config import config_dir
from monitor.errors import ConfigError
from monitor.live import (
    EventListener,
    LiveStream,
    StepListener,
    live_pipeline,
    step_events,
    stream_for,
)
from monitor.nudge import NudgeEvent, NudgeOutcome
from monitor.pipeline import MountingChange, PipelineStep, profile_id, profile_identity
from monitor.private_files import make_private_dirs
from monitor.recording import RecordingTransport, SessionRecorder, new_session_path
from monitor.stream import StreamEvent
from monitor.totals import ActivityTotals
from monitor.transport import Transport, open_transport
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind

if TYPE_CHECKING:
    from firmware_sim.peripheral import Faults
    from monitor.control import AttachedTransport
    from monitor.transport.ble import PasskeySource, ReconnectPolicy
    from monitor.transport.replay import ReplayTransport

log = logging.getLogger(__name__)

__all__ = [
    "EventListener",
    "SensorChoice",
    "Session",
    "StepListener",
    "StepRecorder",
    "attach_session",
    "earlier_totals",
    "open_session",
    "replay_session",
    "step_events",
    "todays_recordings",
]

LAST_SENSOR_FILE = "last_sensor.json"


# --- which sensor -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SensorChoice:
    """Where the samples come from and whether they are recorded (the CLI's sensor options)."""

    sim: str | None = None  # a scenario: the simulated sensor; None: a real one over BLE
    sim_model: str = "tiltmon"
    sim_speed: float = 1.0  # the simulated wearer's time runs this many times real time
    seed: int = 0
    faults: Faults | None = None
    sensor: str | None = None  # a name or address; None: any tiltmon sensor in range
    rate_hz: int = 100
    radio: str | None = None  # a virtual radio spec (else $TILTMON_RADIO, else the system's)
    record: Path | None = None  # the recording's path; None: a new file in the sessions dir
    no_record: bool = False
    use_last_sensor: bool = False  # no --sensor: the one used last time (and remember this one)
    remembered: str | None = None  # the address preferred (not required) when several are in range
    # The simulated tiltmon sensor speaks profile version 2 (the private link, as the firmware
    # we ship); ``sim_open_link``: version 1, for studying older firmware.
    sim_open_link: bool = False
    sim_passkey: int | None = None  # it asks for this passkey when pairing (else Just Works)
    # Switched on just now, its pairing window is open: the client pairs by itself on first use
    # (False: it refuses until paired, as a clip met for the first time; the dashboard's
    # first run shows its pairing step).
    sim_pairs_itself: bool = True
    # Asks the wearer for a sensor's passkey when pairing on first use (a terminal prompt).
    passkey: PasskeySource | None = None
    # How long to keep reopening an adapter (or virtual radio) that went away; None: the default.
    adapter_gone_s: float | None = None

    @property
    def moniker(self) -> str:
        """What the recording says the session came from."""
        if self.sim is not None:
            model = "" if self.sim_model == "tiltmon" else f" ({self.sim_model})"
            return f"sim:{self.sim}{model}"
        return f"ble:{self.sensor}" if self.sensor else "ble"

    def resolved(self) -> tuple[SensorChoice, str]:
        """The choice with the remembered sensor filled in, and the link bar's label for it."""
        if self.sim is not None:
            if self.sim_speed != 1:  # the wearer's time runs fast: say so on screen
                return self, f"{self.moniker} ×{self.sim_speed:g}"
            return self, self.moniker
        if self.sensor is not None:
            return self, self.sensor
        last = load_last_sensor() if self.use_last_sensor else None
        if last is None:
            return self, "sensor"
        # Preferred, not required: another sensor is used when this one is not in range.
        label = last["name"] or last["address"]
        return dataclasses.replace(self, remembered=last["address"]), label

    def transport(self) -> Transport:
        from monitor.sensors import StreamSettings

        settings = StreamSettings(rate_hz=self.rate_hz)
        if self.sim is not None:
            options: dict[str, object] = {
                "seed": self.seed,
                "model": self.sim_model,
                "speed": self.sim_speed,
            }
            if self.faults is not None:
                options["faults"] = self.faults
            if self.sim_model != "tiltmon":
                if self.sim_open_link or self.sim_passkey is not None:
                    raise ConfigError(
                        f"--sim-open-link/--sim-passkey: the {self.sim_model} model keeps its"
                        " own protocol's security"
                    )
            elif self.sim_open_link:
                if self.sim_passkey is not None:
                    raise ConfigError("--sim-passkey: a version-1 (open link) sensor never pairs")
            else:
                from firmware_sim.peripheral import Security

                try:
                    options["security"] = Security(passkey=self.sim_passkey)
                except ValueError as exc:
                    raise ConfigError(f"--sim-passkey: {exc}") from None
                options["pair_first_use"] = self.sim_pairs_itself
                options["passkey"] = self.passkey
            return open_transport(f"sim:{self.sim}", settings=settings, **options)
        from monitor.pairing import PairedSensors

        target = f"ble:{self.sensor}" if self.sensor else "ble"
        # Paired sensors only, over their encrypted link, once any is paired (tiltmon pair).
        options = {} if self.adapter_gone_s is None else {"policy": self._policy()}
        return open_transport(
            target,
            settings=settings,
            radio=self.radio,
            remembered=self.remembered,
            paired=PairedSensors(),
            **options,
        )

    def _policy(self) -> ReconnectPolicy:
        from monitor.transport.ble import ReconnectPolicy

        assert self.adapter_gone_s is not None
        return ReconnectPolicy(adapter_gone_s=self.adapter_gone_s)

    def recorder(self) -> SessionRecorder | None:
        """A recorder for this stream: on by default (also for the simulator)."""
        if self.no_record:
            return None
        started_at = time.time()
        path = self.record if self.record is not None else new_session_path(started_at)
        return SessionRecorder(path, transport=self.moniker, started_at=started_at)


# --- the session --------------------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    """A transport and what goes with it. Whoever runs it enters and leaves the transport."""

    transport: Transport
    label: str  # what the link bar calls it: "sim:desk_short", "tiltmon-7F3A", "FILE"
    recorder: SessionRecorder | None = None  # also inside the transport (RecordingTransport)
    replay: ReplayTransport | None = None  # set for replays: pause, seek, speed
    can_calibrate: bool = True  # a replay cannot be calibrated against
    remember_sensor: bool = False  # keep a real sensor's identity for next time
    attached: AttachedTransport | None = None  # set when this is the service's stream
    # Today's earlier recordings: their figures join the day's totals (a restart loses nothing).
    today_from: list[Path] = field(default_factory=list)
    live_factory: Callable[[], LiveStream] = field(default=live_pipeline)
    # Pairs with the sensor when it refuses this computer (a private-link sensor, first run);
    # asks the passkey source for the digits of a sensor that wants them.
    pair: Callable[[PasskeySource | None], Awaitable[object]] | None = None
    # A simulated wearer who acts out a scenario when asked (``sim`` sessions): the calibration
    # wizard asks it to do what its prompts say, so a demo can calibrate.
    act_out: Callable[[str], None] | None = None

    def listeners(self, *more: StepListener) -> list[StepListener]:
        """The session's own listeners (recording the pipeline's decisions, remembering the
        sensor) followed by the caller's."""
        own: list[StepListener] = []
        if self.recorder is not None:
            own.append(StepRecorder(self.recorder))
        if self.remember_sensor:
            own.append(EventListener(_remember_device))
        return [*own, *more]

    async def run(
        self, seconds: float, live: LiveStream, listeners: Sequence[StepListener] = ()
    ) -> LiveStream:
        """Stream the (entered) transport through ``live`` until ``seconds`` or its end."""
        return await stream_for(
            self.transport, seconds, live=live, listeners=self.listeners(*listeners)
        )

    def record_answers(self, events: Iterable[NudgeEvent]) -> None:
        """The wearer's snooze and dismiss answers go into the recording as the pipeline's do."""
        if self.recorder is not None:
            for event in events:
                record_nudge_event(self.recorder, event)

    def apply_calibration(
        self, live: LiveStream, result: CalibrationResult, device: DeviceInfo | None, t: float
    ) -> Path:
        """Save the profile under the sensor's serial, switch the pipeline to it and record it.

        The pipeline switches even when saving fails (the OSError is raised after).
        """
        profile = calibration_profile(result, device)
        change = live.pipeline.set_mounting(result.q_PS, t)
        if self.recorder is not None:
            self.recorder.record_calibration(t, profile.to_json(), name=profile.device_id)
            record_mounting(self.recorder, change)
        return save_profile(profile)


def open_session(choice: SensorChoice, *, rebuild_today: bool = False) -> Session:
    """The sensor's transport, recorded unless ``no_record``: the one way to start a session.

    ``rebuild_today``: the day's totals also count today's earlier recordings (the dashboard's
    and the service's "today" survives a restart).
    """
    choice, label = choice.resolved()
    recorder = choice.recorder()
    transport = choice.transport()
    pair = getattr(transport, "pair", None)  # the sensor transports can pair in-line
    act_out = getattr(transport, "act_out", None)  # the simulator's wearer takes directions
    if recorder is not None:
        transport = RecordingTransport(transport, recorder)
    earlier = (
        todays_recordings(exclude=recorder.path if recorder else None) if rebuild_today else []
    )
    return Session(
        transport=transport,
        label=label,
        recorder=recorder,
        remember_sensor=choice.use_last_sensor and choice.sim is None,
        today_from=earlier,
        pair=pair,
        act_out=act_out,
    )


def todays_recordings(*, exclude: Path | None = None, day: dt.date | None = None) -> list[Path]:
    """The finished recordings started on ``day`` (today, local time), oldest first."""
    from monitor.recording import RecordingError, list_sessions, sessions_dir
    from monitor.recording.reader import SessionState, session_state

    day = day or dt.date.today()
    found: list[Path] = []
    for path, info in list_sessions(sessions_dir()):
        if isinstance(info, RecordingError) or path == exclude:
            continue
        if session_state(info) is SessionState.LIVE:
            continue  # someone else's, still growing: its figures are not final
        if dt.datetime.fromtimestamp(info.started_at).date() == day and info.samples:
            found.append(path)
    return found


async def earlier_totals(paths: Sequence[Path]) -> ActivityTotals:
    """The figures of earlier recordings, replayed through today's pipeline as reports do."""
    from monitor.recording.summary import REPLAY_COALESCE_S, summarise_replay
    from monitor.transport.replay import ReplayTransport

    totals = ActivityTotals()
    for path in paths:
        live = live_pipeline(coalesce_s=REPLAY_COALESCE_S)
        live.totals = totals  # accumulate across the recordings
        async with ReplayTransport(path, speed=None) as replay:
            await summarise_replay(replay, live=live)
        totals.end_stream()  # a recording's end is no break
    return totals


def replay_session(path: Path, speed: float | None) -> Session:
    """A recording played back through today's pipeline and settings, with the calibrations
    the session used. A file that is not a readable recording raises here, before any screen
    opens."""
    from monitor.recording.reader import Recording
    from monitor.recording.summary import recorded_mountings
    from monitor.transport.replay import ReplayTransport

    with Recording(path) as recording:
        mountings = recorded_mountings(recording)

    def replay_pipeline() -> LiveStream:  # afresh after every seek
        live = live_pipeline()
        if mountings is not None:
            live.pipeline.follow_recorded_mountings(mountings)
        return live

    replay = ReplayTransport(path, speed=speed)
    return Session(
        transport=replay,
        label=path.name,
        replay=replay,
        can_calibrate=False,
        live_factory=replay_pipeline,
    )


async def attach_session(socket: Path | None = None) -> Session:
    """The running service's stream (see :mod:`monitor.control`), connected already so that a
    missing service is one clear error before any screen opens."""
    from monitor.control import AttachedTransport
    from monitor.recording.summary import REPLAY_COALESCE_S

    attached = AttachedTransport(socket)
    hello = await attached.connect()
    return Session(
        transport=attached,
        label=f"service: {hello.get('label', '?')}",
        attached=attached,
        # The day so far is caught up in 30 s runs (identical results, many times faster);
        # the dashboard flushes them before each answer and goes packet by packet once live.
        live_factory=lambda: live_pipeline(coalesce_s=REPLAY_COALESCE_S),
        today_from=[Path(p) for p in hello.get("today_from", [])],  # exactly the service's
    )


# --- what goes into the recording beside the raw packets ----------------------------------------


@dataclass(frozen=True, slots=True)
class StepRecorder:
    """Records what the pipeline decided (mounting changes, nudge events) beside the packets."""

    recorder: SessionRecorder

    def on_step(self, step: PipelineStep) -> None:
        if step.mounting is not None:
            record_mounting(self.recorder, step.mounting)
        for event in step.nudges:
            record_nudge_event(self.recorder, event)


def record_mounting(recorder: SessionRecorder, change: MountingChange) -> None:
    recorder.record_event(
        change.t, "mounting", {"source": change.source.value, "q_PS": change.q_PS.tolist()}
    )


def record_nudge_event(recorder: SessionRecorder, event: NudgeEvent) -> None:
    t = event.t_resolved if isinstance(event, NudgeOutcome) else event.t
    recorder.record_event(t, type(event).__name__, dataclasses.asdict(event))


def calibration_profile(
    result: CalibrationResult, device: DeviceInfo | None, device_id: str | None = None
) -> CalibrationProfile:
    """The profile to save for a finished calibration (named by the sensor's serial)."""
    return CalibrationProfile(
        device_id=device_id or profile_id(device),
        created=result.created,
        q_PS=result.q_PS,
        gyro_bias=result.gyro_bias,
        method=result.method,
        quality=dict(result.quality),
        identity=profile_identity(device),
    )


# --- the sensor used last time ------------------------------------------------------------------


def last_sensor_path() -> Path:
    return config_dir() / LAST_SENSOR_FILE


def load_last_sensor() -> dict[str, str] | None:
    """{"name": ..., "address": ...} of the sensor used last time, if any (a bad file: none)."""
    try:
        data = json.loads(last_sensor_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("address"), str):
        return None
    return {"name": str(data.get("name", "")), "address": data["address"]}


def remember_sensor(name: str, address: str) -> None:
    """Keep the sensor for next time (atomically; failing to write only loses the memory)."""
    if not address or load_last_sensor() == {"name": name, "address": address}:
        return
    path = last_sensor_path()
    try:
        make_private_dirs(path.parent)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".last_sensor.", delete=False, encoding="utf-8"
        ) as handle:
            json.dump({"name": name, "address": address}, handle)
        os.replace(handle.name, path)
    except OSError as exc:
        log.warning("could not remember the sensor in %s: %s", path, exc)


def _remember_device(event: StreamEvent | LinkEvent) -> None:
    if (
        isinstance(event, LinkEvent)
        and event.kind is LinkEventKind.DEVICE_INFO
        and event.device_info is not None
    ):
        remember_sensor(event.device_info.name, event.device_info.address)
