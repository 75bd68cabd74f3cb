"""A simulated Movesense running the GATT SensorData Protocol sample firmware.

What a client sees: a device advertising ``Movesense`` and its serial, with one service, a
write characteristic taking ``[command, reference, ...]`` and a notify characteristic that
answers ``01 ref status`` (u16 HTTP status) and streams ``02 ref payload`` for a subscription.
``/Meas/IMU6/<rate>`` streams a u32 ms time stamp of the FIRST sample, the accelerometer samples
(float32 m/s²) and then the gyroscope samples (float32 °/s), eight of each per notification.

Same motion, IMU error and fault models as every simulated sensor
(:class:`firmware_sim.peripheral.SimulatedDevice`); nothing here comes from ``monitor``.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from bumble.device import Connection
from bumble.gatt import Service

from firmware_sim.gatt_device import VendorDevice
from firmware_sim.simulation import SimulatedRecording

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
RESULT, DATA = 1, 2
RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
SAMPLES_PER_NOTIFICATION = 8
ACC_RANGE_G = 8
GYR_RANGE_DPS = 2000
_IMU6 = re.compile(r"/Meas/IMU6/(\d+)")
_G = 9.80665


def timestamp_ms(index: int, rate_hz: int) -> int:
    """The firmware's ms clock at sample ``index`` of its grid, wrapped to 32 bits."""
    return math.floor(index * 1000 / rate_hz) & 0xFFFFFFFF


def encode_imu6(
    reference: int,
    first_ms: int,
    acc_counts: npt.NDArray[np.int16],
    gyr_counts: npt.NDArray[np.int16],
) -> bytes:
    """``02 ref`` + time stamp + accelerometer floats (m/s²) + gyroscope floats (°/s)."""
    acc = acc_counts.astype(np.float64) * ACC_RANGE_G * _G / 32768.0
    gyr = gyr_counts.astype(np.float64) * GYR_RANGE_DPS / 32768.0
    body = np.concatenate([acc.reshape(-1), gyr.reshape(-1)]).astype("<f4").tobytes()
    return bytes([DATA, reference]) + struct.pack("<I", first_ms & 0xFFFFFFFF) + body


def encode_result(reference: int, status: int, extra: bytes = b"") -> bytes:
    return bytes([RESULT, reference]) + struct.pack("<H", status) + extra


class MovesenseDevice(VendorDevice):
    def _setup(self, seed: int) -> None:
        self.subscription: tuple[int, int] | None = None  # (reference, rate)

    def _build_gatt(self) -> None:
        self.write_char = self._command_characteristic(WRITE_UUID, self._on_command)
        data_char = self._data_characteristic(NOTIFY_UUID)
        self._add_services([Service(SERVICE_UUID, [self.write_char, data_char])])
        self._advertise_as()

    def _on_command(self, connection: Connection, value: bytes) -> None:
        value = bytes(value)
        if len(value) < 2:
            return
        command, reference, rest = value[0], value[1], value[2:]
        if command == HELLO:
            self._answer(connection, encode_result(reference, 200, b"Hello"))
        elif command == SUBSCRIBE:
            match = _IMU6.fullmatch(rest.decode("ascii", "replace"))
            if match is None:
                self._answer(connection, encode_result(reference, 404))
                return
            rate = int(match.group(1))
            if rate not in RATES_HZ:
                self._answer(connection, encode_result(reference, 400))
                return
            self._stop_streaming_now()
            self.subscription = (reference, rate)
            self._begin_stream(
                connection, rate, SAMPLES_PER_NOTIFICATION, (ACC_RANGE_G, GYR_RANGE_DPS)
            )
            self._answer(connection, encode_result(reference, 200))
        elif command == UNSUBSCRIBE:
            known = self.subscription is not None and self.subscription[0] == reference
            if known and self._stream_task is not None:
                self._stop_streaming_now()
                self.subscription = None
            self._answer(connection, encode_result(reference, 200 if known else 404))
        else:
            self._answer(connection, encode_result(reference, 400))

    def _on_link_down(self) -> None:
        super()._on_link_down()
        self.subscription = None

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        assert self.subscription is not None
        reference, rate = self.subscription
        return encode_imu6(reference, timestamp_ms(index, rate), acc, gyr)


def packetize(
    recording: SimulatedRecording, *, reference: int = 0x63, latency_s: float = 0.010
) -> Iterator[tuple[float, bytes]]:
    """The notifications a Movesense sends for a whole recording, without a radio.

    The recording must be simulated at ±8 g and ±2000 °/s and a Movesense rate.
    """
    rate = int(recording.rate_hz)
    if rate not in RATES_HZ or (recording.acc_range_g, recording.gyr_range_dps) != (8, 2000):
        raise ValueError("simulate the recording at a Movesense rate, ±8 g and ±2000 °/s")
    n = len(recording.t) - len(recording.t) % SAMPLES_PER_NOTIFICATION
    for start in range(0, n, SAMPLES_PER_NOTIFICATION):
        stop = start + SAMPLES_PER_NOTIFICATION
        yield (
            float(recording.t[stop - 1]) + latency_s,
            encode_imu6(
                reference,
                timestamp_ms(start, rate),
                recording.acc_counts[start:stop],
                recording.gyr_counts[start:stop],
            ),
        )


__all__ = [
    "NOTIFY_UUID",
    "SERVICE_UUID",
    "WRITE_UUID",
    "MovesenseDevice",
    "encode_imu6",
    "encode_result",
    "packetize",
    "timestamp_ms",
]
