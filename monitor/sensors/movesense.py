"""Movesense with the GATT SensorData Protocol (the ``gatt_sensordata_app`` firmware).

The client writes ``[command, reference, ...]`` to one characteristic and hears on another:
``01 ref status`` (a u16 HTTP status) answers a command, ``02 ref payload`` carries data for the
subscription made with that reference, and ``03 ref payload`` continues a payload too long for
one notification. Subscribing to ``/Meas/IMU6/<rate>`` streams accelerometer and gyroscope
together: a u32 time stamp in ms of the FIRST sample, then N accelerometer samples (3 float32,
m/s²) and N gyroscope samples (3 float32, °/s). Samples are placed by that clock
(:attr:`Timing.SENSOR_CLOCK`, in ms).

The stock Movesense firmware speaks a different protocol (MDS); this one needs the sample
firmware flashed first.
"""

from __future__ import annotations

import struct

import numpy as np

from monitor.errors import DecodeError, SensorError
from monitor.sensors.base import (
    DecodedPacket,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    nearest_rate,
)

NAME = "movesense"
SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
RESULT, DATA, DATA_CONTINUED = 1, 2, 3
REFERENCE = 0x63  # the reference tiltmon's subscription goes by
SAMPLE_RATES_HZ = (13, 26, 52, 104, 208)  # of 13 … 1666 Hz, those a belt clip wants
ACC_RANGE_G = 8  # the firmware's default; not settable over this protocol
GYR_RANGE_DPS = 2000
HTTP_OK = 200
_TIMESTAMP = struct.Struct("<I")
_SAMPLE = 24  # one accelerometer and one gyroscope sample, 6 float32
TIMESTAMP_MODULUS = 1 << 32


def encode_subscribe(rate_hz: int, reference: int = REFERENCE) -> bytes:
    return bytes([SUBSCRIBE, reference]) + f"/Meas/IMU6/{rate_hz}".encode("ascii")


def encode_unsubscribe(reference: int = REFERENCE) -> bytes:
    return bytes([UNSUBSCRIBE, reference])


def decode_result(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``01 ref status`` → (reference, HTTP status)."""
    data = bytes(data)
    if len(data) < 4 or data[0] != RESULT:
        raise DecodeError(f"Movesense answer {data.hex(' ')} is not 01 ref status")
    return data[1], int.from_bytes(data[2:4], "little")


def decode_imu6(payload: bytes | bytearray | memoryview) -> tuple[int, np.ndarray, np.ndarray]:
    """An IMU6 payload (after ``02 ref``) → (ms of the first sample, acc m/s², gyro °/s)."""
    payload = bytes(payload)
    body = len(payload) - _TIMESTAMP.size
    if body <= 0 or body % _SAMPLE:
        raise DecodeError(
            f"Movesense IMU6 payload of {len(payload)} bytes is not a time stamp and whole samples"
        )
    n = body // _SAMPLE
    (timestamp,) = _TIMESTAMP.unpack_from(payload)
    raw = np.frombuffer(payload, dtype="<f4", offset=_TIMESTAMP.size)
    with np.errstate(invalid="ignore"):  # a signalling NaN from a garbled payload
        values = raw.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise DecodeError("Movesense IMU6 payload holds a value that is not a number")
    return timestamp, values[: 3 * n].reshape(n, 3), values[3 * n :].reshape(n, 3)


class _Decoder:
    """``02`` payloads, joined with their ``03`` continuations, to samples."""

    def __init__(self, fmt: StreamFormat) -> None:
        self._pending = bytearray()

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        if len(payload) < 2:
            return [], [DecodeError(f"Movesense notification of {len(payload)} bytes")]
        kind, body = payload[0], payload[2:]
        errors: list[DecodeError] = []
        if kind == RESULT:
            return [], []  # a command's answer, not samples
        if kind == DATA:
            if self._pending:
                errors.append(
                    DecodeError(f"Movesense payload cut short: {len(self._pending)} bytes")
                )
            self._pending = bytearray(body)
        elif kind == DATA_CONTINUED:
            if not self._pending:
                return [], [DecodeError("Movesense continuation without a payload to continue")]
            self._pending += body
        else:
            return [], [DecodeError(f"Movesense notification of unknown type {kind}")]
        if (len(self._pending) - _TIMESTAMP.size) % _SAMPLE:
            return [], errors  # the rest follows in a continuation
        data, self._pending = bytes(self._pending), bytearray()
        try:
            timestamp, acc, gyr = decode_imu6(data)
        except DecodeError as exc:
            return [], [*errors, exc]
        packet = DecodedPacket(
            acc=acc,
            gyr=np.radians(gyr),
            saturated=np.zeros(len(acc), dtype=bool),
            stamp=timestamp,
        )
        return [packet], errors

    def reset(self) -> None:
        self._pending = bytearray()


class MovesenseProtocol:
    name = NAME
    title = "Movesense (GATT SensorData Protocol firmware)"
    service_uuids: tuple[str, ...] = (SERVICE_UUID,)
    name_prefixes: tuple[str, ...] = ("Movesense",)
    timing = Timing.SENSOR_CLOCK
    stamp_modulus = TIMESTAMP_MODULUS
    data_uuid = NOTIFY_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1000.0 / fmt.rate_hz

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder(fmt)

    def samples_in(self, payload: bytes) -> int:
        if len(payload) < 6 or payload[0] != DATA:
            return 0
        return max(0, (len(payload) - 6) // _SAMPLE)

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        rate = nearest_rate(wanted.rate_hz, SAMPLE_RATES_HZ)
        await link.subscribe_data(NOTIFY_UUID)
        await _command(link, encode_unsubscribe(), accept=(HTTP_OK, 404))  # a stale one
        await _command(link, encode_subscribe(rate))
        note = f"{wanted.rate_hz} Hz asked, {rate} Hz used" if rate != wanted.rate_hz else ""
        return StreamFormat(
            rate_hz=rate,
            acc_range_g=ACC_RANGE_G,
            gyr_range_dps=GYR_RANGE_DPS,
            samples_per_packet=1,  # the firmware decides; the clock places them anyway
            has_gyro=True,
            protocol=NAME,
            note=note,
        )

    async def battery(self, link: GattLink) -> int | None:
        """None: the device reports its level in the standard Battery service, if at all."""
        return None

    async def stop(self, link: GattLink) -> None:
        await _command(link, encode_unsubscribe(), accept=(HTTP_OK, 404))


async def _command(link: GattLink, request: bytes, *, accept: tuple[int, ...] = (HTTP_OK,)) -> None:
    answer = await link.request(
        WRITE_UUID,
        request,
        answer_uuid=NOTIFY_UUID,
        answers=lambda d: len(d) >= 4 and d[0] == RESULT and d[1] == request[1],
    )
    _, status = decode_result(answer)
    if status not in accept:
        what = request[2:].decode("ascii", "replace") or f"command {request[0]}"
        raise SensorError(f"Movesense refused {what}: HTTP {status}")


PROTOCOL = MovesenseProtocol()
