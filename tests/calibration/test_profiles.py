"""Per-device profiles: round trip, permissions, corrupt files, the data directory."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from calibration import (
    DATA_DIR_ENV,
    AccelCalibration,
    CalibrationProfile,
    ProfileError,
    data_dir,
    load_profile,
    profile_path,
    save_profile,
)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    return root


def profile(device: str = "SIM-0001") -> CalibrationProfile:
    q = np.array([0.5, -0.5, 0.5, 0.5])
    accel = AccelCalibration(np.array([0.1, -0.05, 0.02]), np.array([1.01, 0.99, 1.0]), 0.003, 8)
    return CalibrationProfile(
        device_id=device,
        created="2025-01-02T03:04:05+00:00",
        q_PS=q,
        gyro_bias=np.array([0.01, -0.002, 0.003]),
        method="walk",
        quality={"steps": 19.0, "confidence": 0.98},
        accel=accel,
    )


def test_round_trip_and_permissions(data: Path) -> None:
    path = save_profile(profile())
    assert data_dir() == data
    assert path == data / "calibration" / "SIM-0001.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    loaded = load_profile("SIM-0001")
    assert loaded is not None
    original = profile()
    assert np.allclose(loaded.q_PS, original.q_PS)
    assert np.allclose(loaded.gyro_bias, original.gyro_bias)
    assert loaded.accel is not None and original.accel is not None
    assert np.allclose(loaded.accel.scale, original.accel.scale)
    assert loaded.quality == original.quality
    assert (loaded.device_id, loaded.created, loaded.method) == (
        "SIM-0001",
        original.created,
        "walk",
    )
    save_profile(profile())  # replacing a good profile is fine
    assert load_profile("nobody") is None


def test_corrupt_profile_is_reported_and_kept(data: Path) -> None:
    path = profile_path("SIM-0001")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "q_PS": [1, 2')
    with pytest.raises(ProfileError, match="is damaged") as info:
        load_profile("SIM-0001")
    assert str(path) in str(info.value)
    with pytest.raises(ProfileError, match="move it away"):
        save_profile(profile())
    assert path.read_text() == '{"format": 1, "q_PS": [1, 2'  # not overwritten
    save_profile(profile(), replace_corrupt=True)
    assert load_profile("SIM-0001") is not None


@pytest.mark.parametrize(
    "change",
    [{"q_PS": [1, 2, 3, 4]}, {"format": 99}, {"gyro_bias_rad_s": [0, 0]}, {"quality": []}],
)
def test_invalid_contents_are_damage(data: Path, change: dict[str, object]) -> None:
    path = save_profile(profile())
    contents = json.loads(path.read_text()) | change
    path.write_text(json.dumps(contents))
    with pytest.raises(ProfileError, match="is damaged"):
        load_profile("SIM-0001")


def test_device_ids_become_safe_file_names(data: Path) -> None:
    assert profile_path("../etc/passwd").name == ".._etc_passwd.json"
    assert profile_path("AA:BB:CC").parent == data / "calibration"
