"""Per-device calibration profiles: JSON files in the user's data directory.

``$TILTMON_DATA_DIR`` overrides the directory (tests, portable installs); otherwise it is
platformdirs' ``user_data_dir("tiltmon")``. Profiles live in ``<dir>/calibration/<device>.json``,
readable by the owner only (files 0600, directories 0700): a profile says how someone wears a
sensor and when. A corrupt file is reported, never silently replaced.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.accel import AccelCalibration
from calibration.errors import ProfileError
from calibration.rotation import FloatArray, unit

DATA_DIR_ENV = "TILTMON_DATA_DIR"
FORMAT_VERSION = 1


def data_dir() -> Path:
    """Where tiltmon keeps user data (not created here)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    from platformdirs import user_data_dir  # only needed when no override is set

    return Path(user_data_dir("tiltmon"))


def device_key(*, address: str = "", serial: str = "", name: str = "") -> str:
    """The name a sensor's profile is saved under: its Bluetooth address, the one identity no
    other sensor in range shares. A serial or a name can be shared (clones, a model's default
    name), so they key a profile only for a sensor whose address is unknown."""
    return address.strip() or serial.strip() or name.strip() or "default"


def profile_path(device_id: str, directory: Path | None = None) -> Path:
    """The profile file of a device; the id is reduced to safe filename characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device_id.strip()) or "default"
    base = directory if directory is not None else data_dir() / "calibration"
    return base / f"{safe}.json"


@dataclass(frozen=True, slots=True)
class CalibrationProfile:
    device_id: str
    created: str  # ISO 8601
    q_PS: FloatArray
    gyro_bias: FloatArray  # rad/s at calibration time
    method: str  # "walk", "tilt" or "auto"
    quality: dict[str, float] = field(default_factory=dict)
    accel: AccelCalibration | None = None
    # Who the sensor said it was when calibrated: address, serial, name, model (any may be "").
    identity: dict[str, str] = field(default_factory=dict)

    def mismatch(self, *, address: str = "", serial: str = "") -> str | None:
        """Why this profile is not the connected sensor's, or None when nothing says so.

        A profile is found by address; a sensor at that address that reports another serial is
        another unit (a replaced board, a host that reused an identifier), and a profile found
        under a serial or name belongs to one address only."""
        saved_address = self.identity.get("address", "")
        saved_serial = self.identity.get("serial", "")
        if saved_address and address and saved_address.lower() != address.lower():
            return f"it was saved for the sensor at {saved_address}, this one is at {address}"
        if saved_serial and serial and saved_serial != serial:
            return f"it was saved for serial {saved_serial}, this sensor reports {serial}"
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "device_id": self.device_id,
            "created": self.created,
            "method": self.method,
            "q_PS": [float(v) for v in self.q_PS],
            "gyro_bias_rad_s": [float(v) for v in self.gyro_bias],
            "quality": dict(self.quality),
        }
        if self.identity:
            out["identity"] = dict(self.identity)
        if self.accel is not None:
            out["accel"] = {
                "bias_m_s2": [float(v) for v in self.accel.bias],
                "scale": [float(v) for v in self.accel.scale],
                "rms_residual_m_s2": self.accel.rms_residual,
                "orientations": self.accel.orientations,
            }
        return out

    @classmethod
    def from_json(cls, data: Any) -> CalibrationProfile:
        """Parse and check; any problem raises ValueError/KeyError/TypeError for the caller."""
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown format {data.get('format')!r}")
        q = _vector(data["q_PS"], 4)
        if not 0.99 < float(np.linalg.norm(q)) < 1.01:
            raise ValueError("q_PS is not a unit quaternion")
        accel = None
        if data.get("accel") is not None:
            acc = data["accel"]
            accel = AccelCalibration(
                bias=_vector(acc["bias_m_s2"], 3),
                scale=_vector(acc["scale"], 3),
                rms_residual=float(acc["rms_residual_m_s2"]),
                orientations=int(acc["orientations"]),
            )
        quality = data.get("quality", {})
        if not isinstance(quality, dict):
            raise TypeError("quality is not an object")
        identity = data.get("identity", {})
        if not isinstance(identity, dict):
            raise TypeError("identity is not an object")
        return cls(
            device_id=str(data["device_id"]),
            created=str(data["created"]),
            q_PS=unit(q),
            gyro_bias=_vector(data["gyro_bias_rad_s"], 3),
            method=str(data["method"]),
            quality={str(k): float(v) for k, v in quality.items()},
            accel=accel,
            identity={str(k): str(v) for k, v in identity.items()},
        )


def _vector(value: Any, size: int) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"expected {size} finite numbers, got {value!r}")
    return arr


def load_profile(device_id: str, *, directory: Path | None = None) -> CalibrationProfile | None:
    """The saved profile of a device, or None if it has none. A corrupt file raises
    :class:`ProfileError` naming it."""
    path = profile_path(device_id, directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProfileError(f"cannot read the calibration profile {path}: {exc.strerror}") from exc
    try:
        return CalibrationProfile.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise ProfileError(
            f"the calibration profile {path} is damaged ({exc}); move it away and calibrate again"
        ) from exc


def save_profile(
    profile: CalibrationProfile, *, directory: Path | None = None, replace_corrupt: bool = False
) -> Path:
    """Write the profile atomically (0600 in a 0700 directory); returns its path.

    An existing profile is replaced, but a damaged one is not, unless ``replace_corrupt``: it
    may be the only copy of something worth a look.
    """
    path = profile_path(profile.device_id, directory)
    if path.exists() and not replace_corrupt:
        load_profile(profile.device_id, directory=directory)  # raises if damaged
    try:
        # Directories we create are the owner's alone; the profile directory is made so even
        # if it already existed.
        for folder in reversed([path.parent, *path.parent.parents][:2]):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        # mkstemp creates the file 0600; rename makes the write all-or-nothing.
        fd, tmp = tempfile.mkstemp(prefix=".profile-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(profile.to_json(), out, indent=2)
                out.write("\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ProfileError(f"cannot save the calibration profile {path}: {exc}") from exc
    return path


__all__ = [
    "DATA_DIR_ENV",
    "CalibrationProfile",
    "data_dir",
    "device_key",
    "load_profile",
    "profile_path",
    "save_profile",
]
