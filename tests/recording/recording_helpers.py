"""Synthetic sessions of real encoded packets, for the recording tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware_sim import protocol as fw
from monitor.recording import SessionRecorder
from monitor.sensors import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

PER_PACKET = 19
T0 = 1_750_000_000.0
DEVICE = DeviceInfo("tiltmon", "AA:BB", "tiltmon project", "TM1", "SN-1", "1", "0.3")

Item = Notification | LinkEvent


def config(rate: int) -> StreamFormat:
    return StreamFormat(rate, 8, 500, True, PER_PACKET, True)


def synthetic_items(seconds: float, rate: int = 200, *, seed: int = 0) -> list[Item]:
    """A session as a transport would yield it: link events, then packets as they arrive."""
    rng = np.random.default_rng(seed)
    items: list[Item] = [
        LinkEvent(T0, LinkEventKind.CONNECTED, "AA:BB"),
        LinkEvent(T0 + 0.05, LinkEventKind.DEVICE_INFO, device_info=DEVICE),
        LinkEvent(T0 + 0.06, LinkEventKind.BATTERY, battery_percent=90),
        LinkEvent(T0 + 0.2, LinkEventKind.CONFIGURED, config=config(rate)),
    ]
    packets = int(seconds * rate / PER_PACKET)
    counts = rng.integers(-4000, 4000, size=(packets * PER_PACKET, 6)).astype(np.int16)
    for k in range(packets):
        block = counts[k * PER_PACKET : (k + 1) * PER_PACKET]
        payload = fw.encode_imu_packet(
            k, fw.timestamp_us(k * PER_PACKET, rate), block[:, :3], block[:, 3:]
        )
        at = T0 + 0.3 + (k + 1) * PER_PACKET / rate + float(rng.uniform(0.002, 0.02))
        items.append(Notification(at, payload))
        if k == packets // 2:
            items.append(LinkEvent(at + 0.001, LinkEventKind.BATTERY, battery_percent=89))
    return items


def write_session(path: Path, items: list[Item], *, close: bool = True) -> SessionRecorder:
    """Record ``items`` as if they arrived at their times: one commit per second of them."""
    now = [_time_of(items[0])]
    recorder = SessionRecorder(
        path, transport="sim:synthetic", started_at=T0 - 0.5, monotonic=lambda: now[0]
    )
    for item in items:
        now[0] = _time_of(item)
        recorder.feed(item)
    if close:
        recorder.close(ended_at=now[0] + 0.1)
    return recorder


def _time_of(item: Item) -> float:
    return item.received_at if isinstance(item, Notification) else item.at
