"""Synthetic sessions for the report and export tests: simulated motion as recorded packets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware_sim.motion import Activity
from firmware_sim.packets import packetize
from firmware_sim.simulation import SimulatedRecording, simulate
from monitor.recording import SessionRecorder
from monitor.sensors import StreamFormat
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

PER_PACKET = 19
# A sensor of its own: the tests save a calibration profile for it in their data directory.
DEVICE = DeviceInfo("tiltmon", "AA:BB", "tiltmon project", "TM1", "SN-REPORT", "1", "0.3")


def config(rate: int) -> StreamFormat:
    return StreamFormat(rate, 8, 500, True, PER_PACKET, True)


def session_items(
    rec: SimulatedRecording,
    t0: float,
    *,
    drop: tuple[float, float] | None = None,
) -> list[TransportItem]:
    """A session as a transport yields it; ``drop`` (start, end) s loses the packets in it."""
    rate = int(rec.rate_hz)
    items: list[TransportItem] = [
        LinkEvent(t0 - 0.3, LinkEventKind.CONNECTED, "AA:BB"),
        LinkEvent(t0 - 0.2, LinkEventKind.DEVICE_INFO, device_info=DEVICE),
        LinkEvent(t0 - 0.1, LinkEventKind.CONFIGURED, config=config(rate)),
    ]
    for t, payload in packetize(rec, per_packet=PER_PACKET):
        if drop is not None and drop[0] <= t < drop[1]:
            continue
        items.append(Notification(t0 + t + 0.01, payload))
    return items


def write_sim_session(
    path: Path,
    scenario: str,
    t0: float,
    *,
    rate_hz: int = 25,
    seed: int = 3,
    duration_s: float | None = None,
    drop: tuple[float, float] | None = None,
    mounting: np.ndarray | None = None,
) -> SimulatedRecording:
    rec = simulate(scenario, seed=seed, rate_hz=rate_hz, duration_s=duration_s, mounting=mounting)
    write_items(path, session_items(rec, t0, drop=drop), started_at=t0 - 0.5)
    return rec


def write_items(path: Path, items: list[TransportItem], *, started_at: float) -> None:
    """Record ``items`` as if they arrived at their times (a commit per second of them)."""
    now = [started_at]
    recorder = SessionRecorder(
        path, transport="sim:synthetic", started_at=started_at, monotonic=lambda: now[0]
    )
    for item in items:
        now[0] = item.received_at if isinstance(item, Notification) else item.at
        recorder.feed(item)
    recorder.close(ended_at=now[0] + 0.1)


def sitting_truth_s(rec: SimulatedRecording) -> float:
    return float(np.count_nonzero(rec.activity == Activity.SITTING) / rec.rate_hz)


def save_true_profile(rec: SimulatedRecording) -> None:
    """Calibrate as a wearer would: the clip's true mounting (in $TILTMON_DATA_DIR)."""
    import datetime as dt

    from calibration.profiles import CalibrationProfile, save_profile
    from monitor.pipeline import profile_id, profile_identity

    save_profile(
        CalibrationProfile(
            profile_id(DEVICE),
            dt.datetime.now().isoformat(),
            rec.mounting,
            np.zeros(3),
            "walk",
            identity=profile_identity(DEVICE),
        )
    )


def truth_bouts(
    rec: SimulatedRecording, t0: float, break_s: float = 60.0
) -> list[tuple[float, float]]:
    """Sitting bouts of the ground truth: sitting runs, joined across less than ``break_s`` up."""
    sitting = rec.activity == Activity.SITTING
    edges = np.flatnonzero(np.diff(np.concatenate([[0], sitting.astype(np.int8), [0]])))
    runs = [
        (t0 + rec.t[a], t0 + rec.t[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]
    bouts: list[tuple[float, float]] = []
    for start, end in runs:
        if bouts and start - bouts[-1][1] < break_s:
            bouts[-1] = (bouts[-1][0], end)
        else:
            bouts.append((start, end))
    return bouts
