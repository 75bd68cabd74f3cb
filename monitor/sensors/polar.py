"""Polar Verity Sense: the Polar Measurement Data (PMD) service, accelerometer and gyroscope.

A client reads the PMD control point to learn which measurements the device offers, asks each
one's settings, and starts the accelerometer and gyroscope streams with the rate, resolution,
range and channels it wants; the device answers every request by an indication
(``F0 op type status more params``) that may carry a FACTOR to multiply the counts by.

Data arrive on their own characteristic, one frame per notification, each measurement in its
own frames: ``type | u64 ns since 2000-01-01 of the LAST sample | frame type | payload``. With
bit 7 of the frame type set the payload is delta-compressed: a reference sample of three int16,
then blocks of ``bit width, count`` and ``count`` × 3 deltas packed LSB-first, sign-extended and
summed. Frames fill the MTU, so their sample count varies. Samples are placed by the sensor's
clock (:attr:`Timing.SENSOR_CLOCK`, in ns); accelerometer and gyroscope samples are paired by
their time stamps, and a sample whose partner was lost is dropped (it shows as a gap).

Units: accelerometer in mG, gyroscope in °/s, each times its FACTOR when the device sends one.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.errors import DecodeError, SensorError
from monitor.sensors.base import (
    STANDARD_GRAVITY,
    DecodedPacket,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    nearest_rate,
)

NAME = "polar"
SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ECG, PPG, ACC, PPI, GYRO, MAG = 0, 1, 2, 3, 5, 6
FEATURES = 0x0F  # first byte of the control point's value
GET_SETTINGS, START, STOP = 0x01, 0x02, 0x03
RESPONSE = 0xF0
STATUS_NAMES = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
}
ALREADY_IN_STATE = 6

# Setting ids and the size of each of their values.
RATE, RESOLUTION, RANGE, CHANNELS, FACTOR = 0, 1, 2, 4, 5
_SETTING_SIZE = {RATE: 2, RESOLUTION: 2, RANGE: 2, 3: 1, CHANNELS: 1, FACTOR: 4}

_HEADER = struct.Struct("<BQB")  # measurement type, time stamp (ns), frame type
_REFERENCE = struct.Struct("<3h")
_COMPRESSED = 0x80
_RAW_INT16 = 0x01
_NS = 1_000_000_000
TIMESTAMP_MODULUS = 1 << 64


@dataclass(frozen=True, slots=True)
class PmdFrame:
    measurement: int  # ACC, GYRO, ...
    last_timestamp_ns: int  # of the LAST sample
    counts: npt.NDArray[np.int64]  # (n, 3), before any FACTOR


@dataclass(frozen=True, slots=True)
class ControlResponse:
    op: int
    measurement: int
    status: int
    params: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0


def decode_frame(data: bytes | bytearray | memoryview) -> PmdFrame:
    """Decode one PMD data frame (raw int16 or delta-compressed); DecodeError if off-layout."""
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise DecodeError(
            f"PMD frame of {len(data)} bytes is shorter than its {_HEADER.size}-byte header"
        )
    measurement, timestamp, frame_type = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if frame_type & _COMPRESSED:
        counts = _decompress(body)
    elif frame_type == _RAW_INT16:
        if len(body) == 0 or len(body) % 6:
            raise DecodeError(f"PMD raw frame of {len(body)} bytes is not whole 6-byte samples")
        counts = np.frombuffer(body, dtype="<i2").reshape(-1, 3).astype(np.int64)
    else:
        raise DecodeError(f"PMD frame type 0x{frame_type:02x} is not supported")
    return PmdFrame(measurement, timestamp, counts)


def _decompress(body: bytes) -> npt.NDArray[np.int64]:
    if len(body) < _REFERENCE.size:
        raise DecodeError("PMD delta frame has no reference sample")
    samples = [list(_REFERENCE.unpack_from(body))]
    at = _REFERENCE.size
    while at < len(body):
        if len(body) - at < 2:
            raise DecodeError("PMD delta frame ends inside a block header")
        bits, count = body[at], body[at + 1]
        at += 2
        if not 1 <= bits <= 32:
            raise DecodeError(f"PMD delta block has a bit width of {bits}")
        size = math.ceil(count * 3 * bits / 8)
        if len(body) - at < size:
            raise DecodeError(
                f"PMD delta frame cut short: a block needs {size} bytes, {len(body) - at} left"
            )
        packed = int.from_bytes(body[at : at + size], "little")  # LSB-first bit order
        at += size
        mask, sign = (1 << bits) - 1, 1 << (bits - 1)
        previous = samples[-1]
        for i in range(count):
            sample = []
            for axis in range(3):
                delta = (packed >> ((3 * i + axis) * bits)) & mask
                if delta & sign:
                    delta -= 1 << bits
                sample.append(previous[axis] + delta)
            samples.append(sample)
            previous = sample
    return np.array(samples, dtype=np.int64)


def decode_control_response(data: bytes | bytearray | memoryview) -> ControlResponse:
    data = bytes(data)
    if len(data) < 5 or data[0] != RESPONSE:
        raise DecodeError(f"PMD control-point response {data.hex(' ')} is not F0 op type status")
    return ControlResponse(data[1], data[2], data[3], data[5:])


def decode_features(data: bytes | bytearray | memoryview) -> set[int]:
    """The measurement types a device offers, from reading its control point."""
    data = bytes(data)
    if len(data) < 2 or data[0] != FEATURES:
        raise DecodeError(f"PMD features {data.hex(' ')} do not start with 0F")
    bits = int.from_bytes(data[1:], "little")
    return {kind for kind in range(8 * (len(data) - 1)) if bits >> kind & 1}


def decode_settings(data: bytes) -> dict[int, list[float]]:
    """``id count values`` settings (a GET answer, or the parameters of a START answer)."""
    settings: dict[int, list[float]] = {}
    at = 0
    while at < len(data):
        if len(data) - at < 2:
            raise DecodeError("PMD settings end inside a setting's header")
        key, count = data[at], data[at + 1]
        size = _SETTING_SIZE.get(key)
        if size is None:
            raise DecodeError(f"PMD setting id {key} is unknown")
        at += 2
        end = at + count * size
        if end > len(data):
            raise DecodeError(
                f"PMD setting {key} needs {count * size} bytes, {len(data) - at} left"
            )
        code = {1: "B", 2: "H", 4: "f"}[size]
        settings[key] = list(struct.unpack(f"<{count}{code}", data[at:end]))
        at = end
    return settings


def encode_settings(settings: dict[int, int]) -> bytes:
    out = b""
    for key, value in settings.items():
        code = {1: "B", 2: "H"}[_SETTING_SIZE[key]]
        out += bytes([key, 1]) + struct.pack(f"<{code}", value)
    return out


def encode_start(measurement: int, rate_hz: int, range_: int, *, resolution: int = 16) -> bytes:
    settings = {RATE: rate_hz, RESOLUTION: resolution, RANGE: range_, CHANNELS: 3}
    return bytes([START, measurement]) + encode_settings(settings)


def encode_get_settings(measurement: int) -> bytes:
    return bytes([GET_SETTINGS, measurement])


def encode_stop(measurement: int) -> bytes:
    return bytes([STOP, measurement])


# (time stamp ns, accelerometer counts, gyroscope counts or None)
_Pair = tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64] | None]


class _Decoder:
    """Frames to paired accelerometer + gyroscope samples, consecutive runs per packet."""

    def __init__(self, fmt: StreamFormat) -> None:
        self.rate = fmt.rate_hz
        self.has_gyro = fmt.has_gyro
        self.period_ns = _NS / fmt.rate_hz
        self.acc_scale = fmt.acc_factor * STANDARD_GRAVITY / 1000.0  # mG -> m/s²
        self.gyr_scale = math.radians(fmt.gyr_factor)  # °/s -> rad/s
        # (time stamp ns, counts) waiting for a partner; at most a few seconds of them.
        limit = int(5 * fmt.rate_hz) + 256
        self.acc: deque[tuple[int, npt.NDArray[np.int64]]] = deque(maxlen=limit)
        self.gyr: deque[tuple[int, npt.NDArray[np.int64]]] = deque(maxlen=limit)

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        try:
            frame = decode_frame(payload)
        except DecodeError as exc:
            return [], [exc]
        if frame.measurement not in (ACC, GYRO):
            return [], [DecodeError(f"PMD frame of measurement type {frame.measurement} unasked")]
        n = len(frame.counts)
        stamps = [frame.last_timestamp_ns - round((n - 1 - i) * self.period_ns) for i in range(n)]
        queue = self.acc if frame.measurement == ACC else self.gyr
        queue.extend(zip(stamps, frame.counts, strict=True))
        return self._pairs(), []

    def _pairs(self) -> list[DecodedPacket]:
        paired: list[_Pair]
        if not self.has_gyro:
            paired = [(t, a, None) for t, a in self.acc]
            self.acc.clear()
        else:
            paired = []
            half = self.period_ns / 2
            while self.acc and self.gyr:
                (ta, a), (tg, g) = self.acc[0], self.gyr[0]
                if abs(ta - tg) <= half:
                    paired.append((ta, a, g))
                    self.acc.popleft()
                    self.gyr.popleft()
                elif ta < tg:
                    self.acc.popleft()  # its gyroscope sample was lost
                else:
                    self.gyr.popleft()
        return self._runs(paired)

    def _runs(self, paired: list[_Pair]) -> list[DecodedPacket]:
        packets: list[DecodedPacket] = []
        start = 0
        for i in range(1, len(paired) + 1):
            if i == len(paired) or abs(paired[i][0] - paired[i - 1][0] - self.period_ns) > (
                self.period_ns / 2
            ):
                run = paired[start:i]
                acc = np.array([a for _, a, _ in run], dtype=np.float64)
                gyr = np.array([g for _, _, g in run], dtype=np.float64) if self.has_gyro else None
                packets.append(
                    DecodedPacket(
                        acc=acc * self.acc_scale,
                        gyr=gyr * self.gyr_scale if gyr is not None else None,
                        saturated=np.zeros(len(run), dtype=bool),
                        stamp=run[0][0],
                    )
                )
                start = i
        return packets

    def reset(self) -> None:
        self.acc.clear()
        self.gyr.clear()


class PolarProtocol:
    name = NAME
    title = "Polar Verity Sense (PMD)"
    service_uuids: tuple[str, ...] = (SERVICE_UUID,)
    name_prefixes: tuple[str, ...] = ("Polar Sense",)
    timing = Timing.SENSOR_CLOCK
    stamp_modulus = TIMESTAMP_MODULUS
    data_uuid = DATA_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return _NS / fmt.rate_hz

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder(fmt)

    def samples_in(self, payload: bytes) -> int:
        if len(payload) <= _HEADER.size or payload[0] != ACC:
            return 0  # count the accelerometer's frames: one sample is a pair
        try:
            return len(decode_frame(payload).counts)
        except DecodeError:
            return 0

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        offered = decode_features(await link.read(CONTROL_POINT_UUID))
        if ACC not in offered:
            raise SensorError("this Polar device offers no accelerometer stream")
        kinds = [ACC, GYRO] if GYRO in offered else [ACC]
        await link.subscribe_data(DATA_UUID)
        for kind in kinds:  # a stream left running by an earlier connection
            await _request(link, encode_stop(kind), accept=(0, ALREADY_IN_STATE, 12))
        choices = {
            k: decode_settings((await _request(link, encode_get_settings(k))).params) for k in kinds
        }
        rates = set.intersection(*({int(r) for r in choices[k].get(RATE, [])} for k in kinds))
        if not rates:
            raise SensorError("the Polar device offers no rate common to its streams")
        rate = nearest_rate(wanted.rate_hz, sorted(rates))
        acc_range = _nearest(wanted.acc_range_g, choices[ACC].get(RANGE, [8]))
        factors = {ACC: 1.0, GYRO: 1.0}
        ranges = {ACC: acc_range}
        if GYRO in kinds:
            ranges[GYRO] = _nearest(wanted.gyr_range_dps, choices[GYRO].get(RANGE, [2000]))
        for kind in kinds:
            answer = await _request(link, encode_start(kind, rate, ranges[kind]))
            factor = decode_settings(answer.params).get(FACTOR) if answer.params else None
            if factor:
                factors[kind] = float(factor[0])
        notes = []
        if rate != wanted.rate_hz:
            notes.append(f"{wanted.rate_hz} Hz asked, {rate} Hz used")
        if GYRO not in kinds:
            notes.append("no gyroscope: tilt from the accelerometer alone")
        return StreamFormat(
            rate_hz=rate,
            acc_range_g=acc_range,
            gyr_range_dps=ranges.get(GYRO, 0),
            samples_per_packet=1,  # frames fill the MTU: their size varies
            has_gyro=GYRO in kinds,
            protocol=NAME,
            note="; ".join(notes),
            acc_factor=factors[ACC],
            gyr_factor=factors[GYRO],
        )

    async def battery(self, link: GattLink) -> int | None:
        """None: the device reports its level in the standard Battery service, if at all."""
        return None

    async def stop(self, link: GattLink) -> None:
        for kind in (ACC, GYRO):
            await _request(link, encode_stop(kind), accept=tuple(STATUS_NAMES))


def _nearest(wanted: int, offered: list[float]) -> int:
    return int(min(offered, key=lambda v: (abs(v - wanted), -v)))


async def _request(
    link: GattLink, request: bytes, *, accept: tuple[int, ...] = (0,)
) -> ControlResponse:
    answer = await link.request(
        CONTROL_POINT_UUID,
        request,
        answer_uuid=CONTROL_POINT_UUID,
        answers=lambda d: len(d) >= 5 and d[0] == RESPONSE and d[1:3] == request[:2],
    )
    response = decode_control_response(answer)
    if response.status not in accept:
        what = STATUS_NAMES.get(response.status, f"status {response.status}")
        raise SensorError(f"Polar device refused request {request.hex(' ')}: {what}")
    return response


PROTOCOL = PolarProtocol()
