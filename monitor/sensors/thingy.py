"""Nordic Thingy:52: a development kit in a rubber case, with an MPU-9250 IMU.

Its motion service streams raw data on one characteristic as soon as notifications are on:
18 bytes, one sample, fixed-point int16: accelerometer x y z in Q6.10 (g), gyroscope in Q11.5
(°/s) and compass in Q12.4 (µT), as Nordic's firmware (``m_motion.c``) packs them. The compass is
ignored: a belt buckle disturbs it. Packets carry no time stamp or counter, so samples are
placed by arrival (:attr:`Timing.ARRIVAL`).

The rate is the "motion processing frequency" (5 to 200 Hz) in the motion configuration
characteristic (``<HHHHB``: pedometer, temperature-compensation and compass-compensation
intervals in ms, the frequency in Hz, wake-on-motion); ``start`` changes only the frequency and
reads it back.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import numpy as np

from monitor.errors import DecodeError, SensorError
from monitor.sensors.base import (
    STANDARD_GRAVITY,
    DecodedPacket,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    saturated_rows,
)

NAME = "thingy"


def _uuid(short: int) -> str:
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


CONFIGURATION_SERVICE_UUID = _uuid(0x0100)  # what a Thingy advertises
MOTION_SERVICE_UUID = _uuid(0x0400)
MOTION_CONFIG_UUID = _uuid(0x0401)
RAW_DATA_UUID = _uuid(0x0406)

RAW_SIZE = 18
_RAW = struct.Struct("<9h")
_CONFIG = struct.Struct("<HHHHB")
ACC_COUNTS_PER_G = 1 << 10  # Q6.10
GYR_COUNTS_PER_DPS = 1 << 5  # Q11.5
MAG_COUNTS_PER_UT = 1 << 4  # Q12.4
MIN_RATE_HZ, MAX_RATE_HZ = 5, 200
# The MPU-9250's ranges as the firmware sets them; not settable over the motion service.
ACC_RANGE_G = 16
GYR_RANGE_DPS = 2000
_ACC_SCALE = STANDARD_GRAVITY / ACC_COUNTS_PER_G
_GYR_SCALE = math.radians(1.0) / GYR_COUNTS_PER_DPS


@dataclass(frozen=True, slots=True)
class MotionConfig:
    pedometer_interval_ms: int
    temperature_interval_ms: int
    compass_interval_ms: int
    motion_rate_hz: int
    wake_on_motion: int


def decode_config(data: bytes | bytearray | memoryview) -> MotionConfig:
    if len(data) != _CONFIG.size:
        raise DecodeError(
            f"Thingy motion configuration is {len(data)} bytes, expected {_CONFIG.size}"
        )
    return MotionConfig(*_CONFIG.unpack(bytes(data)))


def encode_config(config: MotionConfig) -> bytes:
    return _CONFIG.pack(
        config.pedometer_interval_ms,
        config.temperature_interval_ms,
        config.compass_interval_ms,
        config.motion_rate_hz,
        config.wake_on_motion,
    )


@dataclass(frozen=True, slots=True)
class RawMotion:
    """One raw-data notification in the device's units."""

    acc_g: np.ndarray  # (3,)
    gyr_dps: np.ndarray  # (3,)
    mag_ut: np.ndarray  # (3,)


def decode_raw(data: bytes | bytearray | memoryview) -> RawMotion:
    if len(data) != RAW_SIZE:
        raise DecodeError(f"Thingy raw motion data is {len(data)} bytes, expected {RAW_SIZE}")
    counts = np.array(_RAW.unpack(bytes(data)), dtype=np.float64)
    return RawMotion(
        acc_g=counts[0:3] / ACC_COUNTS_PER_G,
        gyr_dps=counts[3:6] / GYR_COUNTS_PER_DPS,
        mag_ut=counts[6:9] / MAG_COUNTS_PER_UT,
    )


class _Decoder:
    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        if len(payload) != RAW_SIZE:
            return [], [
                DecodeError(f"Thingy raw motion data is {len(payload)} bytes, expected {RAW_SIZE}")
            ]
        counts = np.frombuffer(payload, dtype="<i2").reshape(1, 9)
        acc, gyr = counts[:, 0:3], counts[:, 3:6]
        packet = DecodedPacket(
            acc=acc.astype(np.float64) * _ACC_SCALE,
            gyr=gyr.astype(np.float64) * _GYR_SCALE,
            saturated=saturated_rows(acc) | saturated_rows(gyr),
        )
        return [packet], []

    def reset(self) -> None:
        """Nothing to forget: every notification is one whole sample."""


class ThingyProtocol:
    name = NAME
    title = "Nordic Thingy:52 (motion service)"
    service_uuids: tuple[str, ...] = (CONFIGURATION_SERVICE_UUID, MOTION_SERVICE_UUID)
    name_prefixes: tuple[str, ...] = ("Thingy",)
    timing = Timing.ARRIVAL
    stamp_modulus = 1
    data_uuid = RAW_DATA_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1.0

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder()

    def samples_in(self, payload: bytes) -> int:
        return 1 if len(payload) == RAW_SIZE else 0

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        rate = min(max(wanted.rate_hz, MIN_RATE_HZ), MAX_RATE_HZ)
        current = decode_config(await link.read(MOTION_CONFIG_UUID))
        if current.motion_rate_hz != rate:
            await link.write(
                MOTION_CONFIG_UUID, encode_config(replace(current, motion_rate_hz=rate))
            )
            kept = decode_config(await link.read(MOTION_CONFIG_UUID)).motion_rate_hz
            if kept != rate:
                raise SensorError(f"Thingy kept its motion rate at {kept} Hz, not {rate} Hz")
        await link.subscribe_data(RAW_DATA_UUID)  # streaming starts with notifications
        note = ""
        if rate != wanted.rate_hz:
            note = f"{wanted.rate_hz} Hz asked, {rate} Hz used"
            note += f" (the sensor streams {MIN_RATE_HZ} to {MAX_RATE_HZ} Hz)"
        return StreamFormat(
            rate_hz=rate,
            acc_range_g=ACC_RANGE_G,
            gyr_range_dps=GYR_RANGE_DPS,
            samples_per_packet=1,
            has_gyro=True,
            protocol=NAME,
            note=note,
        )

    async def battery(self, link: GattLink) -> int | None:
        """None: the device reports its level in the standard Battery service, if at all."""
        return None

    async def stop(self, link: GattLink) -> None:
        """Nothing to send: the raw data stop when notifications are switched off."""


PROTOCOL = ThingyProtocol()
