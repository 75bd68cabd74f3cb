"""The tiltmon GATT profile (docs/protocol.md): the project's own wire protocol.

Everything this protocol's client knows lives here: the UUIDs, the sans-I/O codec for IMU
packets, the configuration and the control point, how to configure and start a sensor over any
:class:`~monitor.sensors.base.GattLink`, and its timing model (a wrapping µs sensor clock stamped
on the first sample of each packet). Every malformed input raises
:class:`~monitor.errors.DecodeError`; the caller drops that packet and goes on.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.errors import DecodeError, SensorError
from monitor.sensors.base import (
    BATTERY_LEVEL_UUID,
    DEVICE_INFO_UUIDS,
    STANDARD_GRAVITY,
    DecodedPacket,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    decode_battery_level,
    nearest_rate,
    saturated_rows,
)

__all__ = [
    "ACC_RANGES_G",
    "BATTERY_LEVEL_UUID",
    "CONFIG_UUID",
    "CONTROL_POINT_UUID",
    "DEVICE_INFO_UUIDS",
    "GYR_RANGES_DPS",
    "IMU_DATA_UUID",
    "IMU_SERVICE_UUID",
    "PROFILE_VERSION_PRIVATE",
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "SAMPLE_RATES_HZ",
    "SECURITY_UUID",
    "SEQUENCE_MODULUS",
    "STANDARD_GRAVITY",
    "TIMESTAMP_MODULUS",
    "ControlResponse",
    "ImuPacket",
    "LinkSecurity",
    "Opcode",
    "SensorConfig",
    "Status",
    "TiltmonProtocol",
    "decode_battery_level",
    "decode_config",
    "decode_control_response",
    "decode_imu_packet",
    "decode_security",
    "encode_set_ranges",
    "encode_set_rate",
    "encode_start",
    "encode_stop",
]

PROTOCOL_VERSION = 1
IMU_SERVICE_UUID = "8a3c0001-6b1e-4f2a-9d5c-2e7b41f0a6d3"
IMU_DATA_UUID = "8a3c0002-6b1e-4f2a-9d5c-2e7b41f0a6d3"
CONFIG_UUID = "8a3c0003-6b1e-4f2a-9d5c-2e7b41f0a6d3"
CONTROL_POINT_UUID = "8a3c0004-6b1e-4f2a-9d5c-2e7b41f0a6d3"
SECURITY_UUID = "8a3c0005-6b1e-4f2a-9d5c-2e7b41f0a6d3"  # version 2: the private link
PROFILE_VERSION_PRIVATE = 2

_IMU_HEADER = struct.Struct("<BBHIB")
_CONFIG = struct.Struct("<BBHBHBB")
_CONTROL_RESPONSE = struct.Struct("<BBB")
_SECURITY = struct.Struct("<BBBB")
_SAMPLE_DTYPE = np.dtype("<i2")
_FLAG_GYRO_PRESENT = 0x01
_FLAG_ACC_SATURATED = 0x02
_FLAG_GYRO_SATURATED = 0x04
_SENSOR_GYRO = 0x02
_RESPONSE_CODE = 0x80

NAME = "tiltmon"
SAMPLE_RATES_HZ = (25, 50, 100, 200)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (125, 250, 500, 1000, 2000)
TIMESTAMP_MODULUS = 1 << 32  # sensor timestamps are µs in a wrapping uint32
SEQUENCE_MODULUS = 1 << 16


class Opcode(enum.IntEnum):
    START_STREAMING = 0x01
    STOP_STREAMING = 0x02
    SET_RATE = 0x03
    SET_RANGES = 0x04


class Status(enum.IntEnum):
    SUCCESS = 0x00
    OPCODE_NOT_SUPPORTED = 0x01
    INVALID_PARAMETER = 0x02
    INVALID_STATE = 0x03
    MALFORMED = 0x04


@dataclass(frozen=True, slots=True)
class ImuPacket:
    """One notification: a batch of raw samples and the header that places it in time."""

    version: int
    sequence: int
    timestamp_us: int  # sensor clock, of the first sample, wrapping at 2**32
    acc_counts: npt.NDArray[np.int16]  # (n, 3)
    gyr_counts: npt.NDArray[np.int16] | None  # (n, 3), None for an accelerometer-only sensor
    acc_saturated: bool
    gyr_saturated: bool

    @property
    def sample_count(self) -> int:
        return len(self.acc_counts)


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """What the configuration characteristic publishes: enough to convert counts to SI units."""

    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    streaming: bool
    samples_per_packet: int
    has_gyro: bool

    @property
    def acc_scale(self) -> float:
        """m/s² per count."""
        return self.acc_range_g * STANDARD_GRAVITY / 32768.0

    @property
    def gyr_scale(self) -> float:
        """rad/s per count."""
        return math.radians(self.gyr_range_dps) / 32768.0

    @property
    def sample_period_us(self) -> int:
        return 1_000_000 // self.rate_hz

    def stream_format(self) -> StreamFormat:
        return StreamFormat(
            rate_hz=self.rate_hz,
            acc_range_g=self.acc_range_g,
            gyr_range_dps=self.gyr_range_dps,
            streaming=self.streaming,
            samples_per_packet=self.samples_per_packet,
            has_gyro=self.has_gyro,
            protocol=NAME,
        )


@dataclass(frozen=True, slots=True)
class ControlResponse:
    opcode: int
    status: Status


def decode_imu_packet(data: bytes | bytearray | memoryview) -> ImuPacket:
    """Decode one IMU data notification; raise DecodeError for anything off-contract."""
    size = len(data)
    if size < _IMU_HEADER.size:
        raise DecodeError(
            f"IMU packet of {size} bytes is shorter than its {_IMU_HEADER.size}-byte header"
        )
    version, flags, sequence, timestamp_us, count = _IMU_HEADER.unpack_from(data)
    if version != PROTOCOL_VERSION:
        raise DecodeError(f"IMU packet has protocol version {version}, expected {PROTOCOL_VERSION}")
    if count == 0:
        raise DecodeError("IMU packet holds no samples")
    has_gyro = bool(flags & _FLAG_GYRO_PRESENT)
    columns = 6 if has_gyro else 3
    expected = _IMU_HEADER.size + count * columns * 2
    if size != expected:
        raise DecodeError(
            f"IMU packet says {count} samples ({expected} bytes) but is {size} bytes long"
        )
    samples = np.frombuffer(data, dtype=_SAMPLE_DTYPE, offset=_IMU_HEADER.size)
    samples = samples.reshape(count, columns).astype(np.int16)
    return ImuPacket(
        version=version,
        sequence=sequence,
        timestamp_us=timestamp_us,
        acc_counts=samples[:, :3],
        gyr_counts=samples[:, 3:] if has_gyro else None,
        acc_saturated=bool(flags & _FLAG_ACC_SATURATED),
        gyr_saturated=bool(flags & _FLAG_GYRO_SATURATED),
    )


def decode_config(data: bytes | bytearray | memoryview) -> SensorConfig:
    if len(data) != _CONFIG.size:
        raise DecodeError(f"configuration is {len(data)} bytes, expected {_CONFIG.size}")
    version, state, rate_hz, acc_g, gyr_dps, per_packet, sensors = _CONFIG.unpack(data)
    if version != PROTOCOL_VERSION:
        raise DecodeError(
            f"configuration has protocol version {version}, expected {PROTOCOL_VERSION}"
        )
    if state not in (0, 1):
        raise DecodeError(f"configuration has unknown state {state}")
    if rate_hz == 0:
        raise DecodeError("configuration has a sample rate of 0 Hz")
    if acc_g not in ACC_RANGES_G:
        raise DecodeError(f"configuration has unknown accelerometer range ±{acc_g} g")
    if gyr_dps not in GYR_RANGES_DPS:
        raise DecodeError(f"configuration has unknown gyroscope range ±{gyr_dps} °/s")
    if per_packet == 0:
        raise DecodeError("configuration has 0 samples per packet")
    return SensorConfig(
        rate_hz=rate_hz,
        acc_range_g=acc_g,
        gyr_range_dps=gyr_dps,
        streaming=state == 1,
        samples_per_packet=per_packet,
        has_gyro=bool(sensors & _SENSOR_GYRO),
    )


def decode_control_response(data: bytes | bytearray | memoryview) -> ControlResponse:
    if len(data) != _CONTROL_RESPONSE.size:
        raise DecodeError(
            f"control-point response is {len(data)} bytes, expected {_CONTROL_RESPONSE.size}"
        )
    code, opcode, status = _CONTROL_RESPONSE.unpack(data)
    if code != _RESPONSE_CODE:
        raise DecodeError(f"control-point response starts with 0x{code:02x}, expected 0x80")
    try:
        return ControlResponse(opcode, Status(status))
    except ValueError as exc:
        raise DecodeError(f"control-point response has unknown status 0x{status:02x}") from exc


@dataclass(frozen=True, slots=True)
class LinkSecurity:
    """The security characteristic of a version-2 sensor (readable on any link)."""

    profile_version: int
    required: bool  # the IMU service answers an encrypted link from a bonded host only
    window_open: bool  # the sensor accepts pairing now
    link_bonded: bool  # this link is encrypted with a bond
    bonds: int
    max_bonds: int
    passkey: bool = False  # pairing asks for the 6-digit passkey on the sensor's label


def decode_security(data: bytes | bytearray | memoryview) -> LinkSecurity:
    if len(data) != _SECURITY.size:
        raise DecodeError(
            f"security characteristic is {len(data)} bytes, expected {_SECURITY.size}"
        )
    version, flags, bonds, max_bonds = _SECURITY.unpack(data)
    if version < PROFILE_VERSION_PRIVATE:
        raise DecodeError(f"security characteristic names profile version {version}")
    return LinkSecurity(
        profile_version=version,
        required=bool(flags & 0x01),
        window_open=bool(flags & 0x02),
        link_bonded=bool(flags & 0x04),
        bonds=bonds,
        max_bonds=max_bonds,
        passkey=bool(flags & 0x08),
    )


def encode_start() -> bytes:
    return bytes([Opcode.START_STREAMING])


def encode_stop() -> bytes:
    return bytes([Opcode.STOP_STREAMING])


def encode_set_rate(rate_hz: int) -> bytes:
    if rate_hz not in SAMPLE_RATES_HZ:
        raise ValueError(f"sample rate must be one of {SAMPLE_RATES_HZ} Hz, not {rate_hz}")
    return bytes([Opcode.SET_RATE]) + struct.pack("<H", rate_hz)


def encode_set_ranges(acc_range_g: int, gyr_range_dps: int) -> bytes:
    if acc_range_g not in ACC_RANGES_G:
        raise ValueError(f"accelerometer range must be one of {ACC_RANGES_G} g")
    if gyr_range_dps not in GYR_RANGES_DPS:
        raise ValueError(f"gyroscope range must be one of {GYR_RANGES_DPS} °/s")
    return bytes([Opcode.SET_RANGES]) + struct.pack("<BH", acc_range_g, gyr_range_dps)


# --- the protocol port ----------------------------------------------------------------------


class _Decoder:
    """One notification is one packet: nothing to reassemble."""

    def __init__(self, fmt: StreamFormat) -> None:
        self.has_gyro = fmt.has_gyro
        self.acc_scale = fmt.acc_range_g * STANDARD_GRAVITY / 32768.0
        self.gyr_scale = math.radians(fmt.gyr_range_dps) / 32768.0

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        try:
            packet = decode_imu_packet(payload)
        except DecodeError as exc:
            return [], [exc]
        if (packet.gyr_counts is not None) != self.has_gyro:
            return [], [DecodeError("gyroscope presence differs from the configuration")]
        acc, gyr = packet.acc_counts, packet.gyr_counts
        # The header flags say whether any sample sits at a range limit: look only then.
        saturated = np.zeros(len(acc), dtype=bool)
        if packet.acc_saturated:
            saturated |= saturated_rows(acc)
        if packet.gyr_saturated and gyr is not None:
            saturated |= saturated_rows(gyr)
        return [
            DecodedPacket(
                acc=acc.astype(np.float64) * self.acc_scale,
                gyr=gyr.astype(np.float64) * self.gyr_scale if gyr is not None else None,
                saturated=saturated,
                stamp=packet.timestamp_us,
            )
        ], []

    def reset(self) -> None:
        pass


class TiltmonProtocol:
    """docs/protocol.md: batches stamped with a µs sensor clock, a control point, a config."""

    name = NAME
    title = "tiltmon profile (simulator, DIY clip)"
    service_uuids: tuple[str, ...] = (IMU_SERVICE_UUID,)
    name_prefixes: tuple[str, ...] = ()  # found by its service UUID, never by name alone
    timing = Timing.SENSOR_CLOCK
    stamp_modulus = TIMESTAMP_MODULUS
    data_uuid = IMU_DATA_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1e6 / fmt.rate_hz

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder(fmt)

    def samples_in(self, payload: bytes) -> int:
        return payload[_COUNT_OFFSET] if len(payload) > _COUNT_OFFSET else 0

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        config = decode_config(await link.read(CONFIG_UUID))
        if config.streaming:
            await _command(link, encode_stop())
        rate = nearest_rate(wanted.rate_hz, SAMPLE_RATES_HZ)
        if config.rate_hz != rate:
            await _command(link, encode_set_rate(rate))
        if (config.acc_range_g, config.gyr_range_dps) != (wanted.acc_range_g, wanted.gyr_range_dps):
            await _command(link, encode_set_ranges(wanted.acc_range_g, wanted.gyr_range_dps))
        await link.subscribe_data(IMU_DATA_UUID)
        await _command(link, encode_start())
        # Samples per packet is fixed when streaming starts (it follows the MTU): read it now.
        config = decode_config(await link.read(CONFIG_UUID))
        if not config.streaming:
            raise SensorError("sensor accepted start but does not report streaming")
        return config.stream_format()

    async def battery(self, link: GattLink) -> int | None:
        """None: the device reports its level in the standard Battery service, if at all."""
        return None

    async def stop(self, link: GattLink) -> None:
        await _command(link, encode_stop())


_COUNT_OFFSET = 8  # the IMU header's sample count byte


async def _command(link: GattLink, request: bytes) -> None:
    answer = await link.request(
        CONTROL_POINT_UUID,
        request,
        answer_uuid=CONTROL_POINT_UUID,
        answers=lambda data: len(data) == 3 and data[0] == _RESPONSE_CODE and data[1] == request[0],
    )
    response = decode_control_response(answer)
    if response.status is not Status.SUCCESS:
        op = Opcode(request[0]).name
        raise SensorError(f"sensor refused {op}: {response.status.name}")


PROTOCOL = TiltmonProtocol()
