"""The headless service: monitoring with no terminal open (docs/service.md).

It runs a session like ``tiltmon stream`` does (recorded, the same pipeline), nudges through
desktop notifications (a log line where the desktop has none), and serves the control socket
(:mod:`monitor.control`) through which the dashboard attaches, answers nudges and detaches, while
the service goes on. SIGTERM and SIGHUP (``systemctl --user stop``, logout) end it the way Ctrl-C
does: the recording closes cleanly and the socket is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from calibration import CalibrationResult
from monitor.config import load_config
from monitor.control import ControlServer, Message, item_message
from monitor.errors import MonitorError
from monitor.live import LiveStream
from monitor.notify import DesktopNotifier, NudgeNotifier
from monitor.nudge import NudgeConfig, NudgeEvent, NudgePolicy, system_local_time
from monitor.pipeline import PipelineStep
from monitor.session import Session, earlier_totals
from monitor.totals import day_start_by
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

log = logging.getLogger(__name__)

MAX_SNOOZE_MIN = 36 * 60.0  # a pause lasts at most until the day after tomorrow's morning


@dataclass(slots=True)
class Broadcaster:
    """A step listener: every item the pipeline took goes out on the control socket."""

    server: ControlServer
    last_item_t: float | None = None
    device: DeviceInfo | None = None  # the sensor's identity, for a calibration's profile

    def on_step(self, step: PipelineStep) -> None:
        item = step.item
        self.last_item_t = item.received_at if isinstance(item, Notification) else item.at
        if isinstance(item, LinkEvent) and item.kind is LinkEventKind.DEVICE_INFO:
            self.device = item.device_info
        self.server.publish(item_message(item))


def data_time(live: LiveStream, last_item_t: float | None) -> float:
    """The stream's "now", to stamp an answer with: its latest item or snapshot, not the wall."""
    snap = live.pipeline.latest_snapshot
    times = [t for t in (last_item_t, snap.t if snap else None) if t is not None]
    return max(times) if times else time.time()


def apply_answer(live: LiveStream, message: Message) -> tuple[NudgeEvent, ...]:
    """Apply an answer message (``snooze`` with ``minutes``, ``dismiss``) to a pipeline.

    The service and every attached dashboard call this with the same message at the same point
    of the same stream, so their pipelines stay identical. Raises ValueError for a bad one.
    """
    action = message.get("action")
    t = float(message["t"])
    if action == "calibration":
        # A dashboard calibrated the wearer: every pipeline switches to its mounting here.
        live.pipeline.set_mounting(unit_quaternion(message.get("q_PS")), t)
        return ()
    if action == "config":
        # The settings file changed (saved from a dashboard): both sides read it at this point.
        use_nudge_config(live, load_config().nudge)
        return ()
    if action == "snooze":
        minutes = message.get("minutes")
        events = live.pipeline.snooze(t, None if minutes is None else float(minutes))
    elif action == "dismiss":
        events = live.pipeline.dismiss(t)
    else:
        raise ValueError(f"unknown answer {action!r}")
    for event in events:
        live.totals.add_nudge_event(event)
    return events


def use_nudge_config(live: LiveStream, config: NudgeConfig) -> None:
    """New nudge settings take effect at once; the bout clock and the nudge state carry on."""
    pipeline = live.pipeline
    old = pipeline.nudge_policy
    same_exercises = config.exercises_file == old.config.exercises_file
    pipeline.nudge_policy = NudgePolicy(
        config, local_time=old.local_time, catalogue=old.catalogue if same_exercises else None
    )


VECTORS = ("gyro_bias", "up_S", "forward_S")  # a calibration result's 3-vectors


def unit_quaternion(value: object) -> npt.NDArray[np.float64]:
    """A mounting sent over the socket, checked: four finite numbers of unit length."""
    try:
        q = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"not a quaternion: {value!r}") from None
    if q.shape != (4,) or not np.all(np.isfinite(q)) or abs(float(np.linalg.norm(q)) - 1) > 1e-6:
        raise ValueError(f"not a unit quaternion: {value!r}")
    return q


def calibration_from(command: Message) -> CalibrationResult:
    """The result a dashboard's calibration wizard found, as its command carries it."""
    vectors = {name: np.asarray(command.get(name), dtype=np.float64) for name in VECTORS}
    if any(v.shape != (3,) or not np.all(np.isfinite(v)) for v in vectors.values()):
        raise ValueError(f"a calibration needs {', '.join(VECTORS)} as three finite numbers each")
    quality = command.get("quality", {})
    if not isinstance(quality, dict) or not isinstance(command.get("method"), str):
        raise ValueError("a calibration needs its method and quality")
    return CalibrationResult(
        q_PS=unit_quaternion(command.get("q_PS")),
        method=str(command["method"]),
        quality={str(k): float(v) for k, v in quality.items()},
        created=str(command.get("created", "")),
        **vectors,
    )


def calibration_command(result: CalibrationResult) -> dict[str, object]:
    """The fields of the ``calibration`` command for a finished calibration."""
    return {
        "q_PS": result.q_PS.tolist(),
        **{name: getattr(result, name).tolist() for name in VECTORS},
        "method": result.method,
        "quality": dict(result.quality),
        "created": result.created,
    }


def command_error(command: Message, *, strict: bool) -> str | None:
    """Why a client's command is refused, or None when it is fine."""
    name = command.get("cmd")
    if name == "config":
        return None  # re-read the settings file: allowed in strict mode too
    if name == "calibration":
        try:
            calibration_from(command)
        except (TypeError, ValueError) as exc:
            return f"calibration refused: {exc}"
        return None
    if name not in ("snooze", "dismiss"):
        return f"unknown command {name!r}: use snooze, dismiss, config or calibration"
    if strict:
        return "strict mode is on: nudges cannot be snoozed or dismissed, only stood up for"
    if name == "snooze" and command.get("minutes") is not None:
        minutes = command["minutes"]
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float)
            or not math.isfinite(minutes)
            or not 0 < minutes <= MAX_SNOOZE_MIN
        ):
            return f"a snooze lasts 0 to {MAX_SNOOZE_MIN:g} minutes, not {minutes!r}"
    return None


async def run_service(
    session: Session,
    *,
    socket_path: Path,
    notifier: DesktopNotifier,
    seconds: float = math.inf,
    strict: bool = False,
    on_ready: Callable[[ControlServer], None] | None = None,
) -> LiveStream:
    """Run ``session`` headless until ``seconds`` of streaming, its end, or cancellation."""
    live = session.live_factory()
    if live.totals.day_start is None:  # running past midnight, Today is the new day's
        live.totals.day_start = day_start_by(lambda t: live.pipeline.nudge_policy.local_time(t))
    hello: Message = {
        "type": "hello",
        "protocol": 1,
        "label": session.label,
        "recording": str(session.recorder.path) if session.recorder is not None else None,
        "pid": os.getpid(),
        "started_at": time.time(),
        "strict": strict,
        # The attached dashboard rebuilds today's totals from exactly these, as the service did.
        "today_from": [str(p) for p in session.today_from],
    }
    broadcaster: Broadcaster

    def on_command(command: Message) -> str | None:
        error = command_error(command, strict=strict)
        if error is not None:
            return error
        if command["cmd"] == "calibration":
            return calibrate(command)
        answer: Message = {
            "type": "answer",
            "action": command["cmd"],
            "t": data_time(live, broadcaster.last_item_t),
            "minutes": command.get("minutes"),
        }
        try:
            events = apply_answer(live, answer)
        except (MonitorError, OSError) as exc:  # a settings file that no longer reads
            return f"{command['cmd']} failed: {exc}"
        session.record_answers(events)
        server.publish(answer)
        log.info("%s from an attached dashboard", command["cmd"])
        return None

    def calibrate(command: Message) -> str | None:
        """Save and record the calibration, switch to it, and have every dashboard switch at
        the same point of the stream."""
        t = data_time(live, broadcaster.last_item_t)
        result = calibration_from(command)
        failed = None
        try:
            session.apply_calibration(live, result, broadcaster.device, t)
        except OSError as exc:  # in use all the same: it just could not be kept for next time
            failed = f"calibration in use but not saved: {exc}"
        server.publish({"type": "answer", "action": "calibration", "t": t, "q_PS": command["q_PS"]})
        log.info("calibration from an attached dashboard")
        return failed

    server = ControlServer(socket_path, hello, on_command)
    broadcaster = Broadcaster(server)
    await server.start()
    rebuild = asyncio.create_task(_rebuild_today(session, live)) if session.today_from else None
    try:
        async with session.transport:
            if on_ready is not None:
                on_ready(server)
            await session.run(seconds, live, [broadcaster, NudgeNotifier(notifier)])
    finally:
        if rebuild is not None:
            rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rebuild
        await server.close()
        await notifier.drain()
    return live


async def _rebuild_today(session: Session, live: LiveStream) -> None:
    """Today's earlier recordings join the totals; the stream does not wait for them."""
    day_start = live.totals.day_start or day_start_by(system_local_time)
    today = day_start(time.time())  # the day they were found for (session.todays_recordings)
    try:
        earlier = await earlier_totals(session.today_from)
    except (MonitorError, OSError) as exc:
        log.warning("today's earlier sessions could not be read: %s", exc)
        return
    if live.totals.day is not None and live.totals.day > today:
        return  # midnight passed meanwhile: they are the day before's
    live.totals.absorb(earlier)
    log.info("today's totals include %d earlier sessions", len(session.today_from))
