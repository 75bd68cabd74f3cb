"""The dashboard on deterministic data: the real pipeline over simulated wire bytes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from items_transport import ItemsTransport
from textual.pilot import Pilot

from firmware_sim.packets import packetize
from firmware_sim.simulation import simulate
from monitor.config import load_config
from monitor.live import LiveStream
from monitor.nudge import NudgePolicy, fixed_offset
from monitor.pipeline import Pipeline
from monitor.sensors import StreamFormat
from monitor.session import Session
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)
from monitor.tui.app import DashboardApp

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: outside the default quiet hours at UTC+0
DEVICE = DeviceInfo("tiltmon-7F3A", "C0:FF:EE:00:7F:3A", serial="TM-0001")


@dataclass(frozen=True)
class SimItems:
    items: tuple[TransportItem, ...]
    mounting: np.ndarray
    rate_hz: int

    def index_at(self, seconds: float) -> int:
        """The index of the first notification at or after `seconds` of data."""
        for i, item in enumerate(self.items):
            if isinstance(item, Notification) and item.received_at >= T0 + seconds:
                return i
        return len(self.items)


@functools.cache
def sim_items(scenario: str, seed: int, rate_hz: int, duration_s: float | None = None) -> SimItems:
    rec = simulate(scenario, seed=seed, rate_hz=rate_hz, duration_s=duration_s)
    config = StreamFormat(rate_hz, 8, 500, True, 19, True)
    items: list[TransportItem] = [
        LinkEvent(T0, LinkEventKind.CONNECTED, DEVICE.address),
        LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=DEVICE),
        LinkEvent(T0, LinkEventKind.BATTERY, battery_percent=87),
        LinkEvent(T0, LinkEventKind.CONFIGURED, config=config),
    ]
    items += [Notification(T0 + t + 0.012, payload) for t, payload in packetize(rec)]
    return SimItems(tuple(items), rec.mounting, rate_hz)


def pipeline_factory(q_PS: np.ndarray | None = None) -> Callable[[], LiveStream]:
    """Like live_pipeline(): the config file's settings, but a fixed time zone (UTC)."""

    def make() -> LiveStream:
        config = load_config()
        policy = NudgePolicy(config.nudge, local_time=fixed_offset(0))
        return LiveStream(pipeline=Pipeline(q_PS=q_PS, nudges=policy))

    return make


def make_app(
    sim: SimItems, *, calibrated: bool = False, stops: Sequence[int] = ()
) -> tuple[DashboardApp, ItemsTransport]:
    transport = ItemsTransport(sim.items, stops=stops)
    session = Session(
        transport,
        label="sim:test",
        live_factory=pipeline_factory(sim.mounting if calibrated else None),
    )
    return DashboardApp(session, bell=False, blink=False), transport


async def settle(pilot: Pilot[None], app: DashboardApp, transport: ItemsTransport) -> None:
    """Wait for every item to go through the pipeline, then redraw once."""
    await transport.drained.wait()
    await pilot.pause()
    app.refresh_view()
    await pilot.pause()


async def wait_at_stop(pilot: Pilot[None], app: DashboardApp, transport: ItemsTransport) -> None:
    await transport.waiting.wait()
    await pilot.pause()
    app.refresh_view()
    await pilot.pause()


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own (empty) config dir and data dir: defaults, and nothing saved leaks."""
    config = tmp_path / "config"
    monkeypatch.setenv("TILTMON_CONFIG_DIR", str(config))
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))
    return config
