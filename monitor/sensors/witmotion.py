"""WitMotion BWT901BLECL / WT901BLE5.0: a cheap IMU sold with a case and a battery.

The device streams fixed 20-byte frames, one sample each, as soon as notifications are on:
``55 61`` then nine int16 (acceleration, angular rate, and the device's own roll, pitch and yaw).
Frames carry no timestamp, no sequence number and no checksum, so samples are placed by their
arrival time (:attr:`Timing.ARRIVAL`), and a BLE stack may split a frame across notifications or
merge several into one: the framer reassembles them on the ``55 61`` header.

Its UUIDs end in ``9a34fb``, not the Bluetooth base's ``9b34fb``: always the full 128 bits.
Commands are ``FF AA register lo hi``; rates above 50 Hz are not documented for BLE, so 50 Hz is
the most this module asks for. Its magnetometer is not used (a belt buckle disturbs it): the
device is switched to its 6-axis algorithm, and tiltmon fuses accelerometer and gyroscope itself.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from monitor.errors import DecodeError
from monitor.sensors.base import (
    STANDARD_GRAVITY,
    DecodedPacket,
    FloatArray,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    nearest_rate,
    saturated_rows,
)

NAME = "witmotion"
SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

FRAME_SIZE = 20
HEADER = 0x55
KIND_DATA = 0x61  # acceleration, angular rate, angles
KIND_REGISTER = 0x71  # the answer to a register read
_FRAME = struct.Struct("<BB9h")

ACC_RANGE_G = 16  # full scale of the counts (the device's own range setting aside)
GYR_RANGE_DPS = 2000
ANGLE_RANGE_DEG = 180
_ACC_SCALE = ACC_RANGE_G * STANDARD_GRAVITY / 32768.0  # m/s² per count
_GYR_SCALE = math.radians(GYR_RANGE_DPS) / 32768.0  # rad/s per count

# Output rate register 0x03: code per rate in Hz (lower codes give 0.2 to 5 Hz).
RATE_CODES = {10: 0x06, 20: 0x07, 50: 0x08}
SAMPLE_RATES_HZ = tuple(RATE_CODES)

REG_SAVE = 0x00
REG_RATE = 0x03
REG_ALGORITHM = 0x24  # 0x00 nine-axis, 0x01 six-axis
REG_READ = 0x27
REG_UNLOCK = 0x69
REG_BATTERY = 0x64  # battery voltage in 0.01 V
UNLOCK = bytes.fromhex("ff aa 69 88 b5")
_REGISTER_ANSWER = struct.Struct("<BBBB8h")

# A single LiPo cell's resting voltage against its charge (a typical discharge curve; the
# vendor publishes none): volts, percent, rising.
LIPO_CURVE = (
    (3.27, 0), (3.61, 5), (3.69, 10), (3.71, 15), (3.73, 20), (3.75, 25), (3.77, 30),
    (3.79, 35), (3.80, 40), (3.82, 45), (3.84, 50), (3.85, 55), (3.87, 60), (3.91, 65),
    (3.95, 70), (3.98, 75), (4.02, 80), (4.08, 85), (4.11, 90), (4.15, 95), (4.20, 100),
)  # fmt: skip


def command(register: int, value: int) -> bytes:
    """A register write: ``FF AA reg lo hi``."""
    return bytes([0xFF, 0xAA, register & 0xFF]) + struct.pack("<H", value & 0xFFFF)


def encode_set_rate(rate_hz: int) -> bytes:
    if rate_hz not in RATE_CODES:
        raise ValueError(f"WitMotion rates over BLE are {SAMPLE_RATES_HZ} Hz, not {rate_hz}")
    return command(REG_RATE, RATE_CODES[rate_hz])


def encode_read(register: int) -> bytes:
    """A register read, ``FF AA 27 reg 00``: answered with ``55 71 reg 00`` and eight int16."""
    return command(REG_READ, register)


def find_register_answer(
    payload: bytes | bytearray | memoryview, register: int
) -> tuple[int, ...] | None:
    """The eight int16 of the answer to a read of ``register``, if ``payload`` carries one (it
    may share the notification with data frames)."""
    data = bytes(payload)
    at = data.find(bytes([HEADER, KIND_REGISTER, register, 0]))
    if at < 0 or len(data) - at < _REGISTER_ANSWER.size:
        return None
    return tuple(_REGISTER_ANSWER.unpack_from(data, at)[4:])


def battery_percent(volts: float) -> int:
    """A LiPo cell's charge from its voltage (:data:`LIPO_CURVE`), 0 to 100 %."""
    v, pct = zip(*LIPO_CURVE, strict=True)
    return round(float(np.interp(volts, v, pct)))


@dataclass(frozen=True, slots=True)
class WitFrame:
    """One data frame in the device's units."""

    acc_g: FloatArray  # (3,)
    gyr_dps: FloatArray  # (3,)
    angle_deg: FloatArray  # (3,) roll, pitch, yaw from the device's own fusion
    counts: tuple[int, ...]  # the nine int16 as sent


def decode_frame(frame: bytes | bytearray | memoryview) -> WitFrame:
    """Decode one 20-byte data frame; raise DecodeError for anything else."""
    if len(frame) != FRAME_SIZE:
        raise DecodeError(f"WitMotion frame is {len(frame)} bytes, expected {FRAME_SIZE}")
    header, kind, *counts = _FRAME.unpack(frame)
    if header != HEADER or kind != KIND_DATA:
        raise DecodeError(
            f"WitMotion frame starts {header:02x} {kind:02x}, expected 55 61 (a data frame)"
        )
    values = np.array(counts, dtype=np.float64) / 32768.0
    return WitFrame(
        acc_g=values[0:3] * ACC_RANGE_G,
        gyr_dps=values[3:6] * GYR_RANGE_DPS,
        angle_deg=values[6:9] * ANGLE_RANGE_DEG,
        counts=tuple(counts),
    )


class Framer:
    """Reassembles 20-byte frames from notifications that split or merge them.

    A notification that starts with a frame header while part of a frame is still waiting means
    that part was cut short (a continuation almost never starts with ``55 61``): it is reported
    and dropped. Bytes before a header are reported and skipped; register answers (``55 71``)
    are not samples and are passed over quietly.
    """

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, payload: bytes) -> tuple[list[bytes], list[DecodeError]]:
        frames: list[bytes] = []
        errors: list[DecodeError] = []
        if self._pending and _starts_frame(payload):
            errors.append(
                DecodeError(
                    f"WitMotion frame cut short: {len(self._pending)} of {FRAME_SIZE} bytes"
                )
            )
            self._pending.clear()
        buffer = self._pending + payload
        at = 0
        while len(buffer) - at >= 2:
            if not _starts_frame(buffer, at):
                found = _next_header(buffer, at + 1)
                end = len(buffer) if found is None else found
                if found is None and buffer[-1] == HEADER:
                    end -= 1  # a header may be split after its first byte
                errors.append(DecodeError(f"skipped {end - at} bytes that are no WitMotion frame"))
                at = end
                continue
            if len(buffer) - at < FRAME_SIZE:
                break  # the rest comes in the next notification
            if buffer[at + 1] == KIND_DATA:
                frames.append(bytes(buffer[at : at + FRAME_SIZE]))
            at += FRAME_SIZE
        self._pending = bytearray(buffer[at:])
        return frames, errors

    def reset(self) -> None:
        self._pending.clear()


def _starts_frame(data: bytes | bytearray, at: int = 0) -> bool:
    return len(data) >= at + 2 and data[at] == HEADER and data[at + 1] in (KIND_DATA, KIND_REGISTER)


def _next_header(data: bytearray, start: int) -> int | None:
    found = [i for i in (data.find(b"\x55\x61", start), data.find(b"\x55\x71", start)) if i >= 0]
    return min(found) if found else None


class _Decoder:
    def __init__(self) -> None:
        self.framer = Framer()

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        frames, errors = self.framer.feed(payload)
        if not frames:
            return [], errors
        counts = np.frombuffer(b"".join(f[2:] for f in frames), dtype="<i2").reshape(-1, 9)
        acc, gyr = counts[:, 0:3], counts[:, 3:6]
        packet = DecodedPacket(
            acc=acc.astype(np.float64) * _ACC_SCALE,
            gyr=gyr.astype(np.float64) * _GYR_SCALE,
            saturated=saturated_rows(acc) | saturated_rows(gyr),
        )
        return [packet], errors

    def reset(self) -> None:
        self.framer.reset()


class WitMotionProtocol:
    name = NAME
    title = "WitMotion BWT901BLECL / WT901BLE5.0"
    service_uuids: tuple[str, ...] = (SERVICE_UUID,)
    name_prefixes: tuple[str, ...] = ("WT901", "BWT901")
    timing = Timing.ARRIVAL
    stamp_modulus = 1
    data_uuid = NOTIFY_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1.0

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder()

    def samples_in(self, payload: bytes) -> int:
        # Data frames only: a register answer (the battery) is no sample.
        return sum(
            1
            for at in range(0, len(payload) - 1, FRAME_SIZE)
            if payload[at] == HEADER and payload[at + 1] == KIND_DATA
        )

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        rate = nearest_rate(wanted.rate_hz, SAMPLE_RATES_HZ)
        note = ""
        if rate != wanted.rate_hz:
            most = max(SAMPLE_RATES_HZ)
            note = f"{wanted.rate_hz} Hz asked, {rate} Hz used"
            note += f" (the sensor streams {most} Hz at most)" if wanted.rate_hz > most else ""
        for request in (UNLOCK, encode_set_rate(rate), UNLOCK, command(REG_ALGORITHM, 1)):
            await link.write(WRITE_UUID, request, response=False)
        # Streaming starts when notifications are switched on.
        await link.subscribe_data(NOTIFY_UUID)
        return StreamFormat(
            rate_hz=rate,
            acc_range_g=ACC_RANGE_G,
            gyr_range_dps=GYR_RANGE_DPS,
            samples_per_packet=1,
            has_gyro=True,
            protocol=NAME,
            note=note,
        )

    async def stop(self, link: GattLink) -> None:
        """Nothing to send: the device streams while notifications are on."""

    async def battery(self, link: GattLink) -> int | None:
        """The battery voltage register, read on the data characteristic, as a charge in %."""
        answer = await link.request(
            WRITE_UUID,
            encode_read(REG_BATTERY),
            answer_uuid=NOTIFY_UUID,
            answers=lambda d: find_register_answer(d, REG_BATTERY) is not None,
        )
        values = find_register_answer(answer, REG_BATTERY)
        assert values is not None
        if not 0 < values[0] < 500:  # no LiPo cell reads 0 V or 5 V
            raise DecodeError(f"WitMotion battery register reads {values[0] / 100:.2f} V")
        return battery_percent(values[0] / 100)


PROTOCOL = WitMotionProtocol()
