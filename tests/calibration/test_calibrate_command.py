"""`tiltmon calibrate`'s core: transport items → assembler → procedure → saved profile."""

from __future__ import annotations

import io
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from calibration import (
    DATA_DIR_ENV,
    NotEnoughWalkingError,
    load_profile,
    quat_angle_deg,
    save_profile,
)
from firmware_sim import protocol as fw
from firmware_sim import simulate
from monitor.cli import build_parser
from monitor.commands.calibrate import CalibrationTimeoutError, calibrate_items, profile_from
from monitor.sensors import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

PER_PACKET = 19


async def items(scenario: str, seed: int, seconds: float | None = None) -> AsyncIterator[object]:
    rec = simulate(scenario, seed=seed, duration_s=seconds)
    config = StreamFormat(100, rec.acc_range_g, rec.gyr_range_dps, True, PER_PACKET, True)
    info = DeviceInfo(name="tiltmon", address="AA:BB", serial=f"SIM-{seed:04d}")
    yield LinkEvent(0.0, LinkEventKind.DEVICE_INFO, device_info=info)
    yield LinkEvent(0.0, LinkEventKind.CONFIGURED, config=config)
    for seq, i in enumerate(range(100, len(rec) - PER_PACKET, PER_PACKET)):
        payload = fw.encode_imu_packet(
            seq,
            fw.timestamp_us(i, 100),
            rec.acc_counts[i : i + PER_PACKET],
            rec.gyr_counts[i : i + PER_PACKET],
        )
        yield Notification(1000.0 + i / 100.0, payload)


async def test_calibrate_prints_prompts_and_saves_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    out = io.StringIO()
    run = await calibrate_items(items("calibration", 6), out=out)  # type: ignore[arg-type]
    text = out.getvalue()
    assert "keep still" in text and "walk straight ahead" in text and "100 %" in text
    assert run.result is not None
    path = save_profile(profile_from(run))
    # Saved under the sensor's address (a serial or name can be another sensor's too), with
    # what the sensor said it was.
    assert path.name == "AA_BB.json" and stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = load_profile("AA:BB")
    assert saved is not None
    assert saved.identity == {"address": "AA:BB", "serial": "SIM-0006", "name": "tiltmon"}
    assert quat_angle_deg(saved.q_PS, simulate("calibration", seed=6, duration_s=1).mounting) < 2


async def test_calibrate_reports_failure_and_timeout() -> None:
    with pytest.raises(NotEnoughWalkingError):
        await calibrate_items(items("standing", 1), out=io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(CalibrationTimeoutError):
        await calibrate_items(items("standing", 1, 8.0), out=io.StringIO())  # type: ignore[arg-type]


def test_cli_has_the_calibrate_command() -> None:
    args = build_parser().parse_args(["calibrate", "--sim", "--tilt", "--device", "belt"])
    assert (args.command, args.sim, args.tilt, args.device) == (
        "calibrate",
        "calibration",
        True,
        "belt",
    )
    assert np.isfinite(args.seconds)
