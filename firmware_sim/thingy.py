"""A simulated Nordic Thingy:52, speaking the motion service of Nordic's Thingy firmware.

What a client sees: a device advertising ``Thingy`` and the Thingy configuration service, with
the motion service beside the standard Battery and Device Information services. The motion
configuration characteristic (``<HHHHB``: pedometer, temperature and compass intervals in ms,
motion processing frequency in Hz, wake-on-motion) is read and written whole; the raw data
characteristic streams one 18-byte sample per notification while notifications are on:
accelerometer Q6.10 g, gyroscope Q11.5 °/s, compass Q12.4 µT, int16 each, no time stamp.

The compass block is a constant field plus noise: nothing in tiltmon uses it. Same motion, IMU
error and fault models as every simulated sensor
(:class:`firmware_sim.peripheral.SimulatedDevice`); nothing here comes from ``monitor``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from bumble import att
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from firmware_sim.gatt_device import ProductInfo, VendorDevice
from firmware_sim.simulation import SimulatedRecording

log = logging.getLogger(__name__)


def _uuid(short: int) -> str:
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE_UUID = _uuid(0x0100)
MOTION_SERVICE_UUID = _uuid(0x0400)
MOTION_CONFIG_UUID = _uuid(0x0401)
RAW_DATA_UUID = _uuid(0x0406)

CONFIG = struct.Struct("<HHHHB")
RAW = struct.Struct("<9h")
MIN_RATE_HZ, MAX_RATE_HZ = 5, 200
# Counts are simulated at ±16 g and ±2000 °/s, then put in the firmware's fixed-point formats.
ACC_RANGE_G = 16
GYR_RANGE_DPS = 2000
ACC_Q = 1 << 10  # Q6.10 g
GYR_Q = 1 << 5  # Q11.5 °/s
MAG_Q = 1 << 4  # Q12.4 µT
EARTH_FIELD_UT = (22.0, -3.0, -41.0)  # somewhere in Europe, in the sensor's frame at rest


@dataclass(frozen=True, slots=True)
class MotionConfig:
    pedometer_interval_ms: int = 100
    temperature_interval_ms: int = 10_000
    compass_interval_ms: int = 1_000
    motion_rate_hz: int = 10
    wake_on_motion: int = 1

    def encode(self) -> bytes:
        return CONFIG.pack(
            self.pedometer_interval_ms,
            self.temperature_interval_ms,
            self.compass_interval_ms,
            self.motion_rate_hz,
            self.wake_on_motion,
        )


def encode_raw(
    acc_counts: npt.NDArray[np.int16],
    gyr_counts: npt.NDArray[np.int16],
    mag_ut: npt.ArrayLike,
) -> bytes:
    """One raw motion sample from counts at ±16 g and ±2000 °/s, and a field in µT."""
    acc_g = acc_counts.astype(np.float64) * ACC_RANGE_G / 32768.0
    gyr_dps = gyr_counts.astype(np.float64) * GYR_RANGE_DPS / 32768.0
    values = np.concatenate(
        [acc_g.reshape(3) * ACC_Q, gyr_dps.reshape(3) * GYR_Q, np.asarray(mag_ut) * MAG_Q]
    )
    fixed = np.clip(np.round(values), -32768, 32767).astype(np.int64)
    return RAW.pack(*(int(v) for v in fixed))


class ThingyDevice(VendorDevice):
    product = ProductInfo("Nordic Semiconductor ASA", "Thingy:52 (simulated)", "sim-2.2.0")

    def _setup(self, seed: int) -> None:
        self.config = MotionConfig()
        self.serial = f"{seed:08X}"
        self._mag_rng = np.random.default_rng(seed)

    @property
    def rate_hz(self) -> int:
        return self.config.motion_rate_hz

    def _build_gatt(self) -> None:
        props = Characteristic.Properties
        self.config_char: Characteristic[bytes] = Characteristic(
            MOTION_CONFIG_UUID,
            props.READ | props.WRITE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=lambda _conn: self.config.encode(), write=self._on_config),
        )
        raw_char = self._data_characteristic(RAW_DATA_UUID)
        self._stream_while_subscribed()
        self._add_services(
            [
                Service(CONFIGURATION_SERVICE_UUID, []),
                Service(MOTION_SERVICE_UUID, [self.config_char, raw_char]),
            ],
            battery=True,
        )
        self._advertise_as(CONFIGURATION_SERVICE_UUID)

    def _on_config(self, connection: Connection, value: bytes) -> None:
        if len(value) != CONFIG.size:
            raise att.ATT_Error(att.ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        wanted = MotionConfig(*CONFIG.unpack(bytes(value)))
        if not MIN_RATE_HZ <= wanted.motion_rate_hz <= MAX_RATE_HZ:
            log.info("motion rate %d Hz refused", wanted.motion_rate_hz)
            wanted = replace(wanted, motion_rate_hz=self.config.motion_rate_hz)
        changed = wanted.motion_rate_hz != self.config.motion_rate_hz
        self.config = wanted
        if changed:
            self._restart_stream(connection)

    def _start(self, connection: Connection) -> None:
        self._begin_stream(connection, self.config.motion_rate_hz, 1, (ACC_RANGE_G, GYR_RANGE_DPS))

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        mag = np.asarray(EARTH_FIELD_UT) + self._mag_rng.normal(0.0, 0.3, 3)
        return encode_raw(acc[0], gyr[0], mag)


def packetize(
    recording: SimulatedRecording, *, latency_s: float = 0.010, seed: int = 0
) -> Iterator[tuple[float, bytes]]:
    """The notifications a Thingy:52 sends for a whole recording, without a radio: (arrival in s
    after the first sample, 18-byte raw sample). Simulate the recording at ±16 g and ±2000 °/s."""
    if (recording.acc_range_g, recording.gyr_range_dps) != (ACC_RANGE_G, GYR_RANGE_DPS):
        raise ValueError("simulate the recording at ±16 g and ±2000 °/s for a Thingy:52")
    rng = np.random.default_rng(seed)
    for i in range(len(recording.t)):
        mag = np.asarray(EARTH_FIELD_UT) + rng.normal(0.0, 0.3, 3)
        payload = encode_raw(recording.acc_counts[i], recording.gyr_counts[i], mag)
        yield float(recording.t[i]) + latency_s, payload


__all__ = [
    "CONFIGURATION_SERVICE_UUID",
    "MOTION_CONFIG_UUID",
    "MOTION_SERVICE_UUID",
    "RAW_DATA_UUID",
    "MotionConfig",
    "ThingyDevice",
    "encode_raw",
    "packetize",
]
