"""Simulated sessions recorded as if they happened at a chosen time (history, today rebuilt)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from firmware_sim.packets import packetize
from firmware_sim.simulation import simulate
from monitor.recording import SessionRecorder, sessions_dir
from monitor.sensors import StreamFormat
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem


def record_day(path: Path, scenario: str, t0: float, seed: int) -> None:
    """A simulated session recorded as if it happened at ``t0``."""
    rec = simulate(scenario, seed=seed, rate_hz=25)
    config = StreamFormat(25, 8, 500, True, 19, True)
    items: list[TransportItem] = [LinkEvent(t0, LinkEventKind.CONFIGURED, config=config)]
    items += [Notification(t0 + t + 0.01, payload) for t, payload in packetize(rec)]
    now = [t0]
    recorder = SessionRecorder(path, transport="sim:test", started_at=t0, monotonic=lambda: now[0])
    for item in items:
        now[0] = item.received_at if isinstance(item, Notification) else item.at
        recorder.feed(item)
    recorder.close(ended_at=now[0] + 0.1)


def record_today() -> list[Path]:
    """Two finished sessions this morning, one yesterday."""
    directory = sessions_dir()
    today = dt.date.today()
    paths = []
    for hour, scenario, seed in ((8, "sit_stand", 4), (9, "desk_short", 5)):
        t0 = dt.datetime.combine(today, dt.time(hour)).timestamp()
        path = directory / f"today-{hour}.tiltmon"
        record_day(path, scenario, t0, seed)
        paths.append(path)
    yesterday = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(9)).timestamp()
    record_day(directory / "yesterday.tiltmon", "sit_stand", yesterday, 6)
    return paths
