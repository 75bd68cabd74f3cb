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

import asyncio
import contextlib
import math
import re
import struct
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from bumble import data_types
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from firmware_sim.peripheral import Faults, SimulatedDevice, SourceFactory
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


class MovesenseDevice(SimulatedDevice):
    def __init__(
        self,
        device: Device,
        source_factory: SourceFactory,
        *,
        faults: Faults = Faults(),
        clock_drift_ppm: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(
            device, source_factory, faults=faults, clock_drift_ppm=clock_drift_ppm, seed=seed
        )
        self.subscription: tuple[int, int] | None = None  # (reference, rate)
        self._build_gatt()

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None

    def _build_gatt(self) -> None:
        props = Characteristic.Properties
        self.write_char: Characteristic[bytes] = Characteristic(
            WRITE_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            Characteristic.WRITEABLE,
            CharacteristicValue(read=self._reject_read, write=self._on_command),
        )
        self.notify_char: Characteristic[bytes] = Characteristic(
            NOTIFY_UUID,
            props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=self._reject_read, write=self._reject_write),
        )
        self.device.add_services([Service(SERVICE_UUID, [self.write_char, self.notify_char])])
        self._listen([data_types.CompleteLocalName(self.device.name)])

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
            if self._stream_task is not None:
                self._stream_task.cancel()
            self.subscription = (reference, rate)
            self._begin_stream(
                connection, rate, SAMPLES_PER_NOTIFICATION, (ACC_RANGE_G, GYR_RANGE_DPS)
            )
            self._answer(connection, encode_result(reference, 200))
        elif command == UNSUBSCRIBE:
            known = self.subscription is not None and self.subscription[0] == reference
            if known and self._stream_task is not None:
                self._stream_task.cancel()
                self._stream_task = None
                self.subscription = None
            self._answer(connection, encode_result(reference, 200 if known else 404))
        else:
            self._answer(connection, encode_result(reference, 400))

    def _answer(self, connection: Connection, payload: bytes) -> None:
        asyncio.get_running_loop().create_task(self._send_quietly(connection, payload))

    async def _send_quietly(self, connection: Connection, payload: bytes) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            await self._send(connection, payload)

    def _on_link_down(self) -> None:
        self.subscription = None

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        assert self.subscription is not None
        reference, rate = self.subscription
        return encode_imu6(reference, timestamp_ms(index, rate), acc, gyr)

    async def _send(self, connection: Connection, payload: bytes) -> None:
        await self.device.notify_subscriber(connection, self.notify_char, payload)


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
