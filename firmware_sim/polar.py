"""A simulated Polar Verity Sense, speaking the Polar Measurement Data (PMD) service.

What a client sees: a device advertising ``Polar Sense`` and an id, with the PMD service, the
Battery and Device Information services. Reading the PMD control point says which measurements
it offers (accelerometer and gyroscope here); a client asks their settings and starts each with
``02 type settings``, answered by an indication ``F0 op type status 00 [params]`` (the
gyroscope's answer carries a FACTOR). Data frames, one per notification and per measurement,
hold delta-compressed samples packed LSB-first and the time stamp (ns since 2000-01-01) of
their LAST sample, on the sensor's own clock.

The motion, IMU error and fault models are the ones every simulated sensor shares
(:class:`firmware_sim.peripheral.SimulatedDevice`). Nothing here comes from ``monitor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from firmware_sim.gatt_device import ProductInfo, VendorDevice
from firmware_sim.simulation import SimulatedRecording

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ACC, GYRO = 2, 5
FEATURES = bytes([0x0F]) + ((1 << ACC) | (1 << GYRO)).to_bytes(2, "little")
GET_SETTINGS, START, STOP = 0x01, 0x02, 0x03
RESPONSE = 0xF0
OK, INVALID_OP, INVALID_TYPE, INVALID_LENGTH = 0, 1, 2, 4
ALREADY_IN_STATE, INVALID_RESOLUTION, INVALID_RATE, INVALID_RANGE = 6, 7, 8, 9
INVALID_MTU, INVALID_CHANNELS = 10, 11
RATE, RESOLUTION, RANGE, CHANNELS, FACTOR = 0, 1, 2, 4, 5

RATE_HZ = 52  # the Verity Sense's accelerometer and gyroscope rate outside SDK mode
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (250, 500, 1000, 2000)
MIN_MTU = 232  # frames fill the MTU; smaller links are refused
SAMPLES_PER_FRAME = 26  # fits MIN_MTU even when every delta needs 17 bits
BLOCK_SAMPLES = 16  # deltas per block, each block with its own bit width
FRAME_TYPE = {ACC: 0x81, GYRO: 0x80}  # bit 7: delta-compressed
HEADER = struct.Struct("<BQB")
# The sensor clock: ns since 2000-01-01; this one was switched on at 2026-01-01 00:00 UTC.
EPOCH_NS = 9_497 * 86_400 * 1_000_000_000


def bits_for(values: npt.NDArray[np.int64]) -> int:
    """The fewest bits that hold every value in two's complement."""
    return max(1, *(int(v if v >= 0 else ~v).bit_length() + 1 for v in values.reshape(-1)))


def encode_delta_frame(
    measurement: int, last_timestamp_ns: int, counts: npt.ArrayLike, *, block: int = BLOCK_SAMPLES
) -> bytes:
    """A delta-compressed frame: reference sample, then blocks of LSB-first packed deltas."""
    samples = np.asarray(counts, dtype=np.int64).reshape(-1, 3)
    out = HEADER.pack(measurement, last_timestamp_ns, FRAME_TYPE[measurement])
    out += struct.pack("<3h", *(int(v) for v in samples[0]))
    deltas = np.diff(samples, axis=0)
    for start in range(0, len(deltas), block):
        chunk = deltas[start : start + block]
        bits = bits_for(chunk)
        mask = (1 << bits) - 1
        packed = 0
        for k, value in enumerate(chunk.reshape(-1)):
            packed |= (int(value) & mask) << (k * bits)
        out += bytes([bits, len(chunk)])
        out += packed.to_bytes(math.ceil(len(chunk) * 3 * bits / 8), "little")
    return out


def encode_response(op: int, measurement: int, status: int, params: bytes = b"") -> bytes:
    return bytes([RESPONSE, op, measurement, status, 0]) + params


def sample_timestamp_ns(index: int, rate_hz: int = RATE_HZ) -> int:
    return EPOCH_NS + round(index * 1e9 / rate_hz)


class PolarDevice(VendorDevice):
    """The simulated Verity Sense on a bumble ``Device``."""

    product = ProductInfo("Polar Electro Oy", "Polar Sense", "sim-2.1.0")

    def _setup(self, seed: int) -> None:
        self.serial = f"{0x0A1B2C00 + seed % 256:08X}"
        self.started: dict[int, int] = {}  # measurement -> range

    def _build_gatt(self) -> None:
        props = Characteristic.Properties
        self.control_point: Characteristic[bytes] = Characteristic(
            CONTROL_POINT_UUID,
            props.READ | props.WRITE | props.INDICATE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=lambda _conn: FEATURES, write=self._on_request),
        )
        data_char = self._data_characteristic(DATA_UUID)
        self._add_services([Service(SERVICE_UUID, [self.control_point, data_char])], battery=True)
        self._advertise_as()

    # --- control point ---------------------------------------------------------------------

    def _on_request(self, connection: Connection, value: bytes) -> None:
        value = bytes(value)
        op = value[0] if value else 0
        kind = value[1] if len(value) > 1 else 0
        status, params = self._execute(connection, value)
        asyncio.get_running_loop().create_task(
            self._indicate(connection, encode_response(op, kind, status, params))
        )

    async def _indicate(self, connection: Connection, response: bytes) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            await self.device.indicate_subscriber(connection, self.control_point, response)

    def _execute(self, connection: Connection, request: bytes) -> tuple[int, bytes]:
        if len(request) < 2:
            return INVALID_LENGTH, b""
        op, kind, rest = request[0], request[1], request[2:]
        if op not in (GET_SETTINGS, START, STOP):
            return INVALID_OP, b""
        if kind not in (ACC, GYRO):
            return INVALID_TYPE, b""
        ranges = ACC_RANGES_G if kind == ACC else GYR_RANGES_DPS
        if op == GET_SETTINGS:
            params = bytes([RATE, 1]) + struct.pack("<H", RATE_HZ)
            params += bytes([RESOLUTION, 1]) + struct.pack("<H", 16)
            params += bytes([RANGE, len(ranges)]) + struct.pack(f"<{len(ranges)}H", *ranges)
            params += bytes([CHANNELS, 1, 3])
            return OK, params
        if op == STOP:
            if kind not in self.started:
                return ALREADY_IN_STATE, b""
            del self.started[kind]
            if not self.started:
                self._stop_streaming_now()
            return OK, b""
        if kind in self.started:
            return ALREADY_IN_STATE, b""
        settings = _settings(rest)
        if settings is None:
            return INVALID_LENGTH, b""
        if settings.get(RATE) != RATE_HZ:
            return INVALID_RATE, b""
        if settings.get(RESOLUTION) != 16:
            return INVALID_RESOLUTION, b""
        if settings.get(RANGE) not in ranges:
            return INVALID_RANGE, b""
        if settings.get(CHANNELS, 3) != 3:
            return INVALID_CHANNELS, b""
        if connection.att_mtu < MIN_MTU:
            return INVALID_MTU, b""
        self.started[kind] = settings[RANGE]
        if self._stream_task is None:
            self._begin_stream(connection, RATE_HZ, SAMPLES_PER_FRAME, (8, GYR_RANGES_DPS[-1]))
        if kind == GYRO:
            # Counts are read at ±2000 °/s full scale: °/s per count.
            return OK, bytes([FACTOR, 1]) + struct.pack("<f", GYR_RANGES_DPS[-1] / 32768)
        return OK, b""

    # --- streaming -------------------------------------------------------------------------

    def _on_link_down(self) -> None:
        super()._on_link_down()
        self.started.clear()

    def _frames(
        self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]
    ) -> list[bytes]:
        last = sample_timestamp_ns(index + len(acc) - 1)
        frames = []
        if ACC in self.started:
            # Counts at ±8 g to mG (the accelerometer sends no FACTOR).
            milli_g = np.round(acc.astype(np.float64) * 8000.0 / 32768.0).astype(np.int64)
            frames.append(encode_delta_frame(ACC, last, milli_g))
        if GYRO in self.started:
            frames.append(encode_delta_frame(GYRO, last, gyr))
        return frames


def _settings(data: bytes) -> dict[int, int] | None:
    sizes = {RATE: 2, RESOLUTION: 2, RANGE: 2, CHANNELS: 1}
    settings: dict[int, int] = {}
    at = 0
    while at < len(data):
        if len(data) - at < 3 or data[at] not in sizes or data[at + 1] != 1:
            return None
        size = sizes[data[at]]
        if len(data) - at - 2 < size:
            return None
        settings[data[at]] = int.from_bytes(data[at + 2 : at + 2 + size], "little")
        at += 2 + size
    return settings


__all__ = [
    "CONTROL_POINT_UUID",
    "DATA_UUID",
    "SERVICE_UUID",
    "PolarDevice",
    "encode_delta_frame",
    "encode_response",
    "packetize",
    "sample_timestamp_ns",
]


def packetize(
    recording: SimulatedRecording, *, per_frame: int = SAMPLES_PER_FRAME, latency_s: float = 0.012
) -> Iterator[tuple[float, bytes]]:
    """The notifications a Verity Sense sends for a whole recording, without a radio: (arrival
    in s after the first sample, frame), an accelerometer then a gyroscope frame per block.

    The recording must be simulated at 52 Hz, ±8 g and ±2000 °/s.
    """
    if (recording.rate_hz, recording.acc_range_g, recording.gyr_range_dps) != (RATE_HZ, 8, 2000):
        raise ValueError("simulate the recording at 52 Hz, ±8 g and ±2000 °/s for a Polar")
    n = len(recording.t) - len(recording.t) % per_frame
    milli_g = np.round(recording.acc_counts.astype(np.float64) * 8000.0 / 32768.0).astype(np.int64)
    for start in range(0, n, per_frame):
        stop = start + per_frame
        last = sample_timestamp_ns(stop - 1)
        at = float(recording.t[stop - 1]) + latency_s
        yield at, encode_delta_frame(ACC, last, milli_g[start:stop])
        yield at + 0.001, encode_delta_frame(GYRO, last, recording.gyr_counts[start:stop])
