"""The port every wire protocol implements, and the values that cross it.

A sensor protocol module knows four things about one family of devices and nothing else:
how to recognise it in a scan, how to configure and start it over GATT, how to turn its
notifications into samples (a sans-I/O decoder with a framer), and what it offers for placing
those samples in time (:class:`Timing`). Everything below it (the stream, the recorder, the BLE
transport) is protocol-neutral and asks the module by name (:func:`monitor.sensors.protocol`).

This module is pure: configuring a sensor goes through :class:`GattLink`, which the BLE
transport implements, so no protocol module imports bleak or asyncio.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from monitor.errors import DecodeError

STANDARD_GRAVITY = 9.80665

# Bluetooth SIG services most sensors carry beside their own (read by the transport).
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_UUIDS = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
}

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Timing(enum.StrEnum):
    """What a protocol's packets carry to place their samples in time."""

    SENSOR_CLOCK = "sensor_clock"  # a timestamp on the sensor's own clock
    SEQUENCE = "sequence"  # a sample counter
    ARRIVAL = "arrival"  # nothing: samples are placed by when they arrive


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """What the wearer asked for; each protocol takes the nearest its device supports."""

    rate_hz: int = 100
    acc_range_g: int = 8
    gyr_range_dps: int = 500


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """What a started sensor streams: enough to decode its packets and place its samples.

    It rides on the ``configured`` link event and is recorded with it, so a replay decodes the
    raw payloads with the same protocol and settings. Recordings made before protocols had
    names carry no ``protocol`` and were all ``tiltmon``.
    """

    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    streaming: bool = True
    samples_per_packet: int = 1
    has_gyro: bool = True
    protocol: str = "tiltmon"
    note: str = ""  # what the device could not do as asked, said plainly ("50 Hz at most")
    # Multipliers a device publishes for its counts when it starts (Polar's FACTOR); recorded,
    # so a replay scales as the live stream did.
    acc_factor: float = 1.0
    gyr_factor: float = 1.0

    @property
    def sample_period_s(self) -> float:
        return 1.0 / self.rate_hz


@dataclass(frozen=True, slots=True)
class DecodedPacket:
    """Consecutive samples from one frame, in SI units, with the protocol's time stamp."""

    acc: FloatArray  # (n, 3) m/s², specific force
    gyr: FloatArray | None  # (n, 3) rad/s; None when the device has no gyroscope
    saturated: BoolArray  # (n,) an axis sat at the end of its range
    # Sensor-clock ticks (Timing.SENSOR_CLOCK) or sample counter (Timing.SEQUENCE) of the
    # FIRST sample, wrapping at the protocol's ``stamp_modulus``; None for Timing.ARRIVAL.
    stamp: int | None = None

    def __len__(self) -> int:
        return len(self.acc)


class FrameDecoder(Protocol):
    """Sans-I/O: notification payloads in, decoded packets out, across split or merged frames."""

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        """Decode one notification; bad bytes come back as errors, the good frames still count."""
        ...

    def reset(self) -> None:
        """The link dropped: forget any partial frame."""
        ...


class GattLink(Protocol):
    """The GATT operations a protocol needs to configure a sensor (the transport provides them)."""

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None: ...

    async def request(
        self, uuid: str, data: bytes, *, answer_uuid: str, answers: Callable[[bytes], bool]
    ) -> bytes:
        """Write ``data`` and wait for the notification or indication on ``answer_uuid`` that
        ``answers`` accepts (raising SensorError if none comes in time)."""
        ...

    async def subscribe_data(self, uuid: str) -> None:
        """Notifications from ``uuid`` become the stream's raw packets from now on."""
        ...


class SensorProtocol(Protocol):
    """One wire protocol: recognise, configure and start, decode, and its timing model."""

    name: str  # short, stable: recorded with the data ("tiltmon", "witmotion", ...)
    title: str  # for people: "WitMotion WT901BLE5.0"
    service_uuids: tuple[str, ...]  # any of these in an advertisement identifies the device
    name_prefixes: tuple[str, ...]  # or an advertised name starting with one of these
    timing: Timing
    stamp_modulus: int  # where the stamp wraps (unused for Timing.ARRIVAL)
    data_uuid: str  # the characteristic the samples arrive on

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        """How far the stamp advances from one sample to the next."""
        ...

    def decoder(self, fmt: StreamFormat) -> FrameDecoder: ...

    def samples_in(self, payload: bytes) -> int:
        """How many samples a payload announces, cheaply (for listings; 0 if it cannot tell)."""
        ...

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        """Configure the connected device as near to ``wanted`` as it allows, and start it."""
        ...

    async def stop(self, link: GattLink) -> None:
        """Stop streaming, so the device saves its battery (best effort)."""
        ...

    async def battery(self, link: GattLink) -> int | None:
        """The battery level in %, asked through the protocol's own command, for a device that
        has no standard Battery service; None when the protocol has no such command."""
        ...


def recognises(protocol: SensorProtocol, name: str, service_uuids: Sequence[str]) -> bool:
    """Whether an advertisement (its local name and service UUIDs) is this protocol's device."""
    advertised = {u.lower() for u in service_uuids}
    if any(u in advertised for u in protocol.service_uuids):
        return True
    return any(name.startswith(prefix) for prefix in protocol.name_prefixes)


def nearest_rate(wanted: int, supported: Sequence[int]) -> int:
    """The supported rate closest to ``wanted``, preferring the faster one on a tie."""
    return min(supported, key=lambda r: (abs(math.log(r / wanted)), -r))


def decode_battery_level(data: bytes | bytearray | memoryview) -> int:
    """The Battery Level characteristic (0x2A19): one byte, 0–100 %."""
    if len(data) != 1 or data[0] > 100:
        raise DecodeError(f"battery level must be one byte 0..100, got {bytes(data).hex()}")
    return int(data[0])


def saturated_rows(counts: npt.NDArray[np.int16]) -> BoolArray:
    """Rows of int16 counts with any axis at the end of its range."""
    return np.asarray(np.any((counts == 32767) | (counts == -32768), axis=1))
