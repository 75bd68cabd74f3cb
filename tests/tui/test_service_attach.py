"""The headless service and the dashboard attached to it over the control socket.

In process on deterministic data (the real pipeline, the real socket, the real Textual app), and
end to end: ``tiltmon service run`` as its own process on the simulated sensor over the virtual
radio, the dashboard attaching and detaching while it records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import T0, SimItems, pipeline_factory, sim_items
from items_transport import ItemsTransport
from recordings import record_today
from textual.pilot import Pilot

from calibration import CalibrationResult, load_profile
from monitor.config import UserConfig, save_config
from monitor.control import AttachedTransport, ControlError, ControlServer
from monitor.live import LiveStream
from monitor.notify import DesktopNotifier
from monitor.nudge import NudgeConfig
from monitor.pipeline import MountingSource, profile_id
from monitor.recording import read_info
from monitor.service import calibration_command, run_service
from monitor.session import Session, attach_session
from monitor.transport.items import Notification, TransportItem
from monitor.tui.app import DashboardApp
from monitor.tui.screens.calibration import CalibrationScreen
from monitor.tui.screens.nudge import NudgeScreen


@dataclass
class RunningService:
    task: asyncio.Task[LiveStream]
    transport: ItemsTransport
    lives: list[LiveStream]
    socket: Path
    sim: SimItems
    pipeline: Callable[[], LiveStream]

    @property
    def live(self) -> LiveStream:
        return self.lives[-1]

    async def attach(self) -> Session:
        """The dashboard's session; its mirror pipeline has the service's settings, as two
        processes reading the same config file and calibrations have."""
        session = await attach_session(self.socket)
        session.live_factory = self.pipeline
        return session


@contextlib.asynccontextmanager
async def service_on(
    run_dir: Path,
    *,
    stop_at_s: float | None = None,
    notifier: DesktopNotifier | None = None,
    strict: bool = False,
    today_from: list[Path] | None = None,
) -> AsyncIterator[RunningService]:
    """33 minutes of sitting (gentle nudge at 20 min) through the service, in this process."""
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=20, firm_min=60, snooze_min=10)))
    sim = sim_items("sitting", 2, 25, 33 * 60)
    stops = () if stop_at_s is None else (sim.index_at(stop_at_s),)
    transport = ItemsTransport(sim.items, stops=stops)
    lives: list[LiveStream] = []
    make = pipeline_factory(sim.mounting)

    def factory() -> LiveStream:
        lives.append(make())
        return lives[-1]

    socket = run_dir / "control.sock"
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_service(
            Session(transport, label="sim:test", live_factory=factory, today_from=today_from or []),
            socket_path=socket,
            notifier=notifier or DesktopNotifier(enabled=False),
            strict=strict,
            on_ready=lambda _server: ready.set(),
        )
    )
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield RunningService(task, transport, lives, socket, sim, make)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - state of another task or process, polled
            await asyncio.sleep(0.02)


def item_time(service: RunningService, index: int) -> float:
    item = service.sim.items[index - 1]
    return getattr(item, "received_at", T0)


@pytest.mark.slow
async def test_the_attached_dashboard_mirrors_the_service_and_its_snooze(run_dir: Path) -> None:
    async with service_on(run_dir, stop_at_s=21.5 * 60) as service:
        await service.transport.waiting.wait()
        nudged = service.live.totals.nudges_shown
        assert nudged == 1  # the gentle nudge, at 20 minutes, decided by the service
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        async with app.run_test() as pilot:
            assert app.session.label == "service: sim:test"
            # The whole run so far arrives, and the mirror reaches the service's state.
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            await pilot.pause()
            app.refresh_view()
            await pilot.pause()
            assert isinstance(app.screen, NudgeScreen)
            assert app.state.live.pipeline.nudge_state == service.live.pipeline.nudge_state
            # Snooze goes to the service, which applies it and echoes it to the mirror.
            await pilot.press("s")
            await until(lambda: service.live.pipeline.nudge_state.snoozed_until is not None)
            await until(lambda: app.state.live.pipeline.nudge_state.snoozed_until is not None)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, NudgeScreen)
            assert app.state.live.pipeline.nudge_state == service.live.pipeline.nudge_state
            # The rest of the data: the snooze ends and the nudge comes back, in both.
            service.transport.go()
            await service.transport.drained.wait()
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            assert service.live.totals.nudges_shown == 2
            assert app.state.live.totals.summary() == service.live.totals.summary()
            assert app.state.live.pipeline.nudge_state == service.live.pipeline.nudge_state
            await pilot.press("q")  # detach
        await asyncio.sleep(0.1)
        assert not service.task.done()  # the service carries on without the dashboard
        # A later client gets the whole day again from the service.
        async with AttachedTransport(service.socket) as again:
            assert again.hello["label"] == "sim:test"


def moved(items: tuple[TransportItem, ...], by_s: float) -> tuple[TransportItem, ...]:
    """The same items, ``by_s`` later (the pipelines' clock says when midnight is)."""
    return tuple(
        replace(i, received_at=i.received_at + by_s)
        if isinstance(i, Notification)
        else replace(i, at=i.at + by_s)
        for i in items
    )


@pytest.mark.slow
async def test_past_midnight_the_service_and_the_attached_dashboard_count_the_new_day(
    run_dir: Path,
) -> None:
    # Twenty minutes of sitting from 23:50 on the pipelines' clock (UTC in these tests): the
    # day's totals start again at 00:00, in the service and in the dashboard attached to it.
    # The data's own times drive it, so no clock is waited for.
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=20, firm_min=60, snooze_min=10)))
    sim = sim_items("sitting", 2, 25, 20 * 60)
    midnight = (T0 // 86400 + 1) * 86400
    transport = ItemsTransport(moved(sim.items, midnight - 10 * 60 - T0))
    make = pipeline_factory(sim.mounting)
    lives: list[LiveStream] = []

    def factory() -> LiveStream:
        lives.append(make())
        return lives[-1]

    ready = asyncio.Event()
    socket = run_dir / "control.sock"
    task = asyncio.create_task(
        run_service(
            Session(transport, label="sim:test", live_factory=factory),
            socket_path=socket,
            notifier=DesktopNotifier(enabled=False),
            on_ready=lambda _server: ready.set(),
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await transport.drained.wait()
        service = lives[-1].totals
        # Only the ten minutes since midnight (of twenty sat), and no nudge of yesterday's.
        assert 9 * 60 < service.sitting_s <= 10 * 60
        assert service.nudges_shown == 0 and service.day == midnight
        # The bout goes on across midnight, whole.
        assert service.open_bout is not None and service.open_bout[0] < midnight
        session = await attach_session(socket)
        session.live_factory = make
        app = DashboardApp(session, bell=False, blink=False)
        async with app.run_test() as pilot:
            await until(lambda: app.state.live.assembler.stats.samples
                        == lives[-1].assembler.stats.samples)  # fmt: skip
            await pilot.pause()
            assert app.state.live.totals.day == midnight
            assert app.state.live.totals.summary() == service.summary()
            await pilot.press("q")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.slow
async def test_the_service_and_the_attached_dashboard_rebuild_the_same_today(
    run_dir: Path,
) -> None:
    paths = record_today()
    async with service_on(run_dir, today_from=paths) as service:
        await service.transport.drained.wait()
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        assert app.session.today_from == paths  # from the service's hello
        async with app.run_test() as pilot:
            await until(lambda: app.state.rebuilt_from == len(paths), 60)
            await until(lambda: service.live.totals.breaks > 0, 60)
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            await pilot.pause()
            assert app.state.live.totals.summary() == service.live.totals.summary()
            await pilot.press("q")


@pytest.mark.slow
async def test_settings_saved_from_the_attached_dashboard_reach_the_service(
    run_dir: Path,
) -> None:
    async with service_on(run_dir, stop_at_s=5 * 60) as service:
        await service.transport.waiting.wait()
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        async with app.run_test() as pilot:
            new = NudgeConfig(gentle_min=25, firm_min=60, snooze_min=15)
            save_config(UserConfig(nudge=new))  # as the settings screen saves it
            app.apply_nudge_config(new)
            await until(lambda: service.live.pipeline.nudge_policy.config == new)
            await until(lambda: app.state.live.pipeline.nudge_policy.config == new)
            service.transport.go()
            await service.transport.drained.wait()
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            assert app.state.live.pipeline.nudge_state == service.live.pipeline.nudge_state
            assert service.live.totals.nudges_shown == 1
            nudge = app.state.last_nudge  # the mirror's, the same as the service's
            assert nudge is not None and "sitting for 25 minutes" in nudge.reason  # not 20
            await pilot.press("q")


@pytest.mark.slow
async def test_a_late_dashboard_catches_up_through_earlier_answers(run_dir: Path) -> None:
    """A snooze given before the dashboard attached sits inside the history it catches up on
    (in 30 s runs): it is applied after the samples before it, as the service applied it."""
    async with service_on(run_dir, stop_at_s=21.5 * 60) as service:
        await service.transport.waiting.wait()
        async with AttachedTransport(service.socket) as first:
            reader = asyncio.create_task(_drain(first))
            first.send("snooze", minutes=5)
            await until(lambda: service.live.pipeline.nudge_state.snoozed_until is not None)
            reader.cancel()
        service.transport.go()
        await service.transport.drained.wait()
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        async with app.run_test() as pilot:
            await until(lambda: not app.state.catching_up)
            assert app.state.live.pipeline.coalesce_s == 0  # live from here: packet by packet
            assert app.state.live.pipeline.nudge_state == service.live.pipeline.nudge_state
            assert app.state.live.totals.summary() == service.live.totals.summary()
            assert service.live.totals.nudges_shown == 2  # back after the 5 minutes
            await pilot.pause()
            app.refresh_view()
            await pilot.pause()
            # Only the nudge still pending opens, not the day's old ones.
            assert isinstance(app.screen, NudgeScreen)
            assert app.screen.nudge == app.state.last_nudge
            await pilot.press("q")


async def test_the_service_nudges_through_notify_send(run_dir: Path) -> None:
    """A real notify-send stand-in on PATH: the service runs it with the nudge's text."""
    log = run_dir / "notified.txt"
    script = run_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {log}\n', encoding="utf-8")
    script.chmod(0o700)
    notifier = DesktopNotifier(command=str(script))
    assert notifier.available
    async with service_on(run_dir, stop_at_s=21.5 * 60, notifier=notifier) as service:
        await service.transport.waiting.wait()
        await until(lambda: log.exists() and "sitting for 20 minutes" in log.read_text())
    text = log.read_text()
    assert text.startswith("--app-name=tiltmon|tiltmon|You have been sitting for 20 minutes.")


async def test_without_notify_send_a_nudge_is_logged(
    run_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.notify")
    notifier = DesktopNotifier(command="no-such-notify-command-here")
    async with service_on(run_dir, stop_at_s=21.5 * 60, notifier=notifier) as service:
        await service.transport.waiting.wait()
    assert any("gentle nudge: You have been sitting for 20" in r.message for r in caplog.records)


async def test_the_socket_is_the_owner_s_alone_and_one_service_runs(run_dir: Path) -> None:
    async with service_on(run_dir, stop_at_s=60) as service:
        mode = service.socket.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        second = ControlServer(service.socket, {"type": "hello"}, lambda _c: None)
        with pytest.raises(ControlError, match="already running"):
            await second.start()
    assert not service.socket.exists()  # removed when the service ended


async def test_a_stale_socket_is_replaced_and_a_file_is_never_touched(run_dir: Path) -> None:
    import socket as sockets

    stale = run_dir / "control.sock"
    leftover = sockets.socket(sockets.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()  # a killed service's socket: nobody answers
    server = ControlServer(stale, {"type": "hello", "protocol": 1}, lambda _c: None)
    await server.start()
    async with AttachedTransport(stale) as client:
        assert client.hello["protocol"] == 1
    await server.close()
    regular = run_dir / "notes.txt"
    regular.write_text("mine", encoding="utf-8")
    with pytest.raises(ControlError, match="not a socket"):
        await ControlServer(regular, {}, lambda _c: None).start()
    assert regular.read_text(encoding="utf-8") == "mine"


async def test_bad_commands_are_refused_in_one_line(run_dir: Path) -> None:
    async with service_on(run_dir, stop_at_s=60) as service:
        await service.transport.waiting.wait()
        async with AttachedTransport(service.socket) as client:
            reader = asyncio.create_task(_drain(client))
            client.send("snooze", minutes=-5)
            client.send("reboot")
            await until(lambda: len(client.errors) == 2, 10)
            reader.cancel()
        assert "a snooze lasts" in client.errors[0]
        assert "unknown command 'reboot'" in client.errors[1]
        assert service.live.pipeline.nudge_state.snoozed_until is None


async def test_a_bad_calibration_is_refused_and_changes_nothing(run_dir: Path) -> None:
    async with service_on(run_dir, stop_at_s=60) as service:
        await service.transport.waiting.wait()
        before = service.live.pipeline.q_PS
        async with AttachedTransport(service.socket) as client:
            reader = asyncio.create_task(_drain(client))
            fields = calibration_command(calibration_result(about_x(8.0)))
            client.send("calibration", **(fields | {"q_PS": [1.0, 1.0, 0.0, 0.0]}))
            client.send("calibration", **(fields | {"up_S": [0.0, "nan", 1.0]}))
            await until(lambda: len(client.errors) == 2, 10)
            reader.cancel()
        assert client.errors[0].startswith("calibration refused: not a unit quaternion")
        assert client.errors[1].startswith("calibration refused: a calibration needs")
        assert service.live.pipeline.q_PS is before


def about_x(deg: float) -> np.ndarray:
    half = np.radians(deg) / 2
    return np.array([np.cos(half), np.sin(half), 0.0, 0.0])


def calibration_result(q_PS: np.ndarray) -> CalibrationResult:
    return CalibrationResult(
        q_PS=q_PS,
        gyro_bias=np.array([0.001, -0.002, 0.0005]),
        up_S=np.array([0.0, 0.0, 1.0]),
        forward_S=np.array([1.0, 0.0, 0.0]),
        method="walk",
        quality={"still_s": 5.0, "walk_s": 12.0},
        created="2026-11-30T09:00:00+00:00",
    )


@pytest.mark.slow
async def test_calibrating_from_the_attached_dashboard_switches_the_service_and_the_mirror(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wizard runs on the stream the dashboard mirrors; the service (which holds the sensor
    and the recording) saves the profile and switches, and the mirror switches where it did."""
    monkeypatch.setenv("TILTMON_DATA_DIR", str(run_dir / "data"))
    async with service_on(run_dir, stop_at_s=5 * 60) as service:
        await service.transport.waiting.wait()
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        async with app.run_test() as pilot:
            await until(lambda: not app.state.catching_up)
            await pilot.press("c")
            assert isinstance(app.screen, CalibrationScreen)  # offered while attached
            q = about_x(8.0)
            saved = app.finish_calibration(calibration_result(q), 0.0)  # as the wizard does
            assert not np.allclose(app.state.live.pipeline.q_PS, q)  # the wearer's old one
            await until(lambda: np.allclose(app.state.live.pipeline.q_PS, q))
            assert np.allclose(service.live.pipeline.q_PS, q)
            assert app.state.live.pipeline.mounting_source is MountingSource.PROFILE
            assert saved is not None and saved.exists()  # saved by the service
            assert np.allclose(load_profile(profile_id(app.state.device)).q_PS, q)
            await pilot.press("escape")
            service.transport.go()
            await service.transport.drained.wait()
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            mirror, served = app.state.live.pipeline, service.live.pipeline
            assert mirror.latest_snapshot == served.latest_snapshot  # the same angles after it
            await pilot.press("q")


@pytest.mark.slow
async def test_strict_mode_refuses_snooze_and_the_dashboard_says_so(run_dir: Path) -> None:
    async with service_on(run_dir, stop_at_s=21.5 * 60, strict=True) as service:
        await service.transport.waiting.wait()
        app = DashboardApp(await service.attach(), bell=False, blink=False)
        async with app.run_test() as pilot:
            await until(lambda: app.state.live.assembler.stats.samples
                        == service.live.assembler.stats.samples)  # fmt: skip
            await pilot.pause()
            assert app.strict
            await pilot.press("s")
            await pilot.pause(0.3)
            assert service.live.pipeline.nudge_state.pending is not None  # still on
            assert service.live.pipeline.nudge_state.snoozed_until is None
            await pilot.press("q")


async def test_attaching_with_no_service_is_one_clear_error(run_dir: Path) -> None:
    with pytest.raises(ControlError, match="no tiltmon service is running"):
        await attach_session(run_dir / "control.sock")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "monitor.cli", "attach", "--socket", str(run_dir / "x.sock")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert err.decode().count("\n") == 1 and "no tiltmon service is running" in err.decode()


async def _drain(client: AttachedTransport) -> None:
    async for _ in client:
        pass


@pytest.mark.slow
async def test_the_service_records_headless_and_the_dashboard_attaches_and_detaches(
    run_dir: Path, tmp_path: Path
) -> None:
    """`tiltmon service run` on the simulator in its own process (real radio, real time)."""
    env = os.environ | {"TILTMON_DATA_DIR": str(tmp_path / "data")}
    socket = run_dir / "control.sock"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "monitor.cli", "service", "run", "--sim", "desk_short"),
        *("--rate", "50", "--socket", str(socket), "--no-notify"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        while "recording to" not in (
            line := (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        ):
            assert line, "the service ended before it was ready"
        recording = Path(line.split("recording to ")[1].split(";")[0])
        app = DashboardApp(await attach_session(socket), bell=False, blink=False)
        async with app.run_test() as pilot:
            await until(lambda: app.state.live.assembler.stats.samples > 150, 60)
            assert app.state.live.link.streaming and app.state.live.link.rate_hz == 50
            assert app.state.live.link.device_name.startswith("tiltmon")
            await pilot.press("q")  # detach
        first = read_info(recording).samples
        await asyncio.sleep(3)
        assert process.returncode is None  # still running without the dashboard
        assert read_info(recording).samples > first  # and still recording
        async with AttachedTransport(socket) as client:  # and still attachable
            assert client.hello["recording"] == str(recording)
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err.decode()
        assert "stopped by signal" in out.decode()
        assert read_info(recording).complete  # closed cleanly
        assert not socket.exists()
        assert stat.S_IMODE(recording.stat().st_mode) == 0o600  # noqa: ASYNC240
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# --- pictures ------------------------------------------------------------------------------------


@contextlib.contextmanager
def service_thread(run_dir: Path) -> Iterator[Path]:
    """The service on deterministic data in a thread of its own (the picture's app has the
    main loop): a few minutes of desk_short, then the link stays open."""
    import threading

    socket = run_dir / "control.sock"
    ready = threading.Event()
    stop: list[Callable[[], None]] = []

    async def serve() -> None:
        transport = ItemsTransport(sim_items("desk_short", 1, 50).items)
        task = asyncio.create_task(
            run_service(
                Session(transport, label="sim:test", live_factory=pipeline_factory()),
                socket_path=socket,
                notifier=DesktopNotifier(enabled=False),
            )
        )
        await transport.drained.wait()
        loop = asyncio.get_running_loop()
        stop.append(lambda: loop.call_soon_threadsafe(task.cancel))
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60)
    try:
        yield socket
    finally:
        stop[0]()
        thread.join(10)


THEMES = [pytest.param("textual-dark", id="dark"), pytest.param("textual-light", id="light")]
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_attached_picture(
    snap_compare: Any, size: tuple[int, int], theme: str, run_dir: Path
) -> None:
    from monitor.recording.summary import REPLAY_COALESCE_S

    with service_thread(run_dir) as socket:
        attached = AttachedTransport(socket)
        factory = pipeline_factory()

        def catching_up() -> LiveStream:
            live = factory()
            live.pipeline.coalesce_s = REPLAY_COALESCE_S
            return live

        session = Session(
            attached, label="service: sim:test", can_calibrate=False, attached=attached,
            live_factory=catching_up,
        )  # fmt: skip
        app = DashboardApp(session, bell=False, blink=False)

        async def run_before(pilot: Pilot[None]) -> None:
            app.theme = theme
            async with asyncio.timeout(60):
                while app.state.catching_up:
                    await pilot.pause(0.05)
            await pilot.pause()
            app.refresh_view()
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)
