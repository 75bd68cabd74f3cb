"""A simulated WitMotion BWT901BLECL / WT901BLE5.0, speaking the vendor's BLE 5.0 protocol.

What the firmware does, as far as a client can tell: it advertises its name (``WT901BLE``
and two hex digits), streams one 20-byte frame per sample (``55 61`` and nine int16:
acceleration ±16 g, angular rate ±2000 °/s, roll/pitch/yaw ±180°) while notifications are on,
and takes ``FF AA register lo hi`` commands on its write characteristic: unlock, the output
rate (10, 20 or 50 Hz over BLE), the 6-axis algorithm, and register reads (the battery
voltage). Frames carry no time stamp and no sequence number; the sensor keeps sampling on its
own grid whether or not anyone listens.

The motion, IMU error and fault models are the same as the tiltmon-profile device's
(:class:`firmware_sim.peripheral.SimulatedDevice`). Like ``firmware_sim.protocol``, this module
shares nothing with ``monitor``: the vendor's protocol is the contract.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from bumble.device import Connection
from bumble.gatt import Service

from firmware_sim.gatt_device import VendorDevice
from firmware_sim.simulation import SimulatedRecording

log = logging.getLogger(__name__)

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"  # 9a34fb: not the Bluetooth base UUID
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

FRAME = struct.Struct("<BB9h")
DATA_FRAME = 0x61
REGISTER_FRAME = 0x71
COMMAND = struct.Struct("<BBBH")  # FF AA register value
ACC_RANGE_G = 16
GYR_RANGE_DPS = 2000
ANGLE_RANGE_DEG = 180

RATE_BY_CODE = {0x06: 10, 0x07: 20, 0x08: 50}
DEFAULT_RATE_HZ = 10  # as shipped
REG_SAVE = 0x00
REG_RATE = 0x03
REG_ALGORITHM = 0x24
REG_READ = 0x27
REG_UNLOCK = 0x69
UNLOCK_KEY = 0xB588
REG_BATTERY = 0x64  # battery voltage, 0.01 V
UNLOCK_S = 10.0  # settings are accepted for this long after an unlock
# The simulated LiPo cell: resting voltage against charge (percent, volts), a typical curve.
CELL_CURVE = (
    (0, 3.27), (5, 3.61), (10, 3.69), (15, 3.71), (20, 3.73), (25, 3.75), (30, 3.77),
    (35, 3.79), (40, 3.80), (45, 3.82), (50, 3.84), (55, 3.85), (60, 3.87), (65, 3.91),
    (70, 3.95), (75, 3.98), (80, 4.02), (85, 4.08), (90, 4.11), (95, 4.15), (100, 4.20),
)  # fmt: skip


def cell_volts(percent: float) -> float:
    pct, volts = zip(*CELL_CURVE, strict=True)
    return float(np.interp(percent, pct, volts))


def encode_frame(
    acc_counts: npt.ArrayLike, gyr_counts: npt.ArrayLike, angle_counts: npt.ArrayLike
) -> bytes:
    values = np.concatenate(
        [np.asarray(v, dtype=np.int64).reshape(3) for v in (acc_counts, gyr_counts, angle_counts)]
    )
    return FRAME.pack(0x55, DATA_FRAME, *(int(v) for v in values))


def encode_register(register: int, values: list[int]) -> bytes:
    """The answer to a register read: ``55 71 reg 00`` and eight int16."""
    words = (values + [0] * 8)[:8]
    return struct.pack("<BBBB8h", 0x55, REGISTER_FRAME, register, 0, *words)


def angle_counts(acc_counts: npt.NDArray[np.int16], yaw_deg: float) -> npt.NDArray[np.int16]:
    """Roll and pitch from gravity, yaw as integrated: what a 6-axis algorithm reports at rest."""
    ax, ay, az = (acc_counts.astype(np.float64)).T
    roll = np.degrees(np.arctan2(ay, az))
    pitch = np.degrees(np.arctan2(-ax, np.hypot(ay, az)))
    yaw = np.full_like(roll, (yaw_deg + 180.0) % 360.0 - 180.0)
    angles = np.stack([roll, pitch, yaw], axis=1) / ANGLE_RANGE_DEG * 32768.0
    return np.clip(np.round(angles), -32768, 32767).astype(np.int16)


class WitMotionDevice(VendorDevice):
    """The simulated WitMotion sensor on a bumble ``Device``."""

    def _setup(self, seed: int) -> None:
        self.rate_hz = DEFAULT_RATE_HZ
        self.six_axis = False
        self._unlocked_until = -math.inf
        self._yaw_deg = 0.0

    def _build_gatt(self) -> None:
        data_char = self._data_characteristic(NOTIFY_UUID)
        self.write_char = self._command_characteristic(WRITE_UUID, self._on_command)
        self._stream_while_subscribed()
        self._add_services([Service(SERVICE_UUID, [data_char, self.write_char])])
        # Known by its name, as the vendor's app finds it: no service UUID in the advertisement.
        self._advertise_as()

    # --- commands ------------------------------------------------------------------------------

    def _on_command(self, _conn: Connection, value: bytes) -> None:
        value = bytes(value)
        for at in range(0, len(value) - COMMAND.size + 1, COMMAND.size):
            self._execute(value[at : at + COMMAND.size])
        if len(value) % COMMAND.size:
            log.info("ignoring a %d-byte write", len(value))

    def _execute(self, request: bytes) -> None:
        head1, head2, register, word = COMMAND.unpack(request)
        if (head1, head2) != (0xFF, 0xAA):
            return
        now = asyncio.get_running_loop().time()
        if register == REG_UNLOCK:
            if word == UNLOCK_KEY:
                self._unlocked_until = now + UNLOCK_S
            return
        if register == REG_READ:
            self._answer_register(word & 0xFF)
            return
        if now > self._unlocked_until:
            log.info("register 0x%02x written while locked: ignored", register)
            return
        if register == REG_RATE and word in RATE_BY_CODE:
            self._set_rate(RATE_BY_CODE[word])
        elif register == REG_ALGORITHM:
            self.six_axis = word == 1

    def _set_rate(self, rate_hz: int) -> None:
        if rate_hz == self.rate_hz:
            return
        self.rate_hz = rate_hz
        if self._connection is not None:
            self._restart_stream(self._connection)

    def _answer_register(self, register: int) -> None:
        connection = self._connection
        if connection is None or not self.subscribed:
            return
        values = [round(cell_volts(self.battery_percent) * 100)] if register == REG_BATTERY else []
        self._answer(connection, encode_register(register, values))

    # --- streaming -----------------------------------------------------------------------------

    def _start(self, connection: Connection) -> None:
        self._begin_stream(connection, self.rate_hz, 1, (ACC_RANGE_G, GYR_RANGE_DPS))

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        # The on-board algorithm's yaw follows the gyroscope's z axis (6-axis: no compass).
        self._yaw_deg += float(gyr[:, 2].sum()) / 32768.0 * GYR_RANGE_DPS / self.rate_hz
        angles = angle_counts(acc, self._yaw_deg)
        return b"".join(encode_frame(a, g, t) for a, g, t in zip(acc, gyr, angles, strict=True))


__all__ = [
    "NOTIFY_UUID",
    "SERVICE_UUID",
    "WRITE_UUID",
    "WitMotionDevice",
    "angle_counts",
    "encode_frame",
    "encode_register",
    "packetize",
]


def packetize(
    recording: SimulatedRecording,
    *,
    latency_s: float = 0.008,
    jitter_s: float = 0.002,
    seed: int = 0,
) -> Iterator[tuple[float, bytes]]:
    """The notifications a WitMotion sends for a whole recording, without a radio: (arrival in
    s after the first sample, 20-byte frame), one sample each, late by a latency plus jitter.

    The recording must be simulated at ±16 g and ±2000 °/s, the ranges of the device's counts.
    """
    if (recording.acc_range_g, recording.gyr_range_dps) != (ACC_RANGE_G, GYR_RANGE_DPS):
        raise ValueError("simulate the recording at ±16 g and ±2000 °/s for a WitMotion")
    rng = np.random.default_rng(seed)
    arrival = recording.t + latency_s + rng.exponential(jitter_s, size=len(recording.t))
    yaw = np.cumsum(recording.gyr_counts[:, 2] / 32768.0 * GYR_RANGE_DPS / recording.rate_hz)
    for i in range(len(recording.t)):
        angles = angle_counts(recording.acc_counts[i : i + 1], float(yaw[i]))[0]
        frame = encode_frame(recording.acc_counts[i], recording.gyr_counts[i], angles)
        yield float(arrival[i]), frame
