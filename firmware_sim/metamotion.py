"""A simulated mbientlab MetaMotion (MetaWear firmware, BMI160), speaking MetaWear's GATT protocol.

What a client sees: a device advertising ``MetaWear`` and the MetaWear service, with a command
characteristic taking ``[module, register, data...]`` and a notify characteristic answering in
the same shape; the standard Battery and Device Information services beside them. The
accelerometer (module 0x03) and gyroscope (module 0x13) each take a configuration (output data
rate and range codes; register 0x03, read back with 0x83), a data subscription (single samples,
or packed: three per notification), an interrupt enable and a start. While both run, each
sample period's packet goes out as an accelerometer notification followed by a gyroscope one,
int16 x y z counts with no time stamp.

The simulation samples both sensors on one grid, at the accelerometer's rate: a client sets the
same rate for both, as tiltmon does. Same motion, IMU error and fault models as every simulated
sensor (:class:`firmware_sim.peripheral.SimulatedDevice`); nothing here comes from ``monitor``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from bumble.device import Connection
from bumble.gatt import Service

from firmware_sim.gatt_device import ProductInfo, VendorDevice
from firmware_sim.simulation import SimulatedRecording

log = logging.getLogger(__name__)

SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

ACC, GYRO = 0x03, 0x13
POWER, INTERRUPT_ENABLE, CONFIG = 0x01, 0x02, 0x03
READ = 0x80
DATA = {ACC: 0x04, GYRO: 0x05}
PACKED = {ACC: 0x1C, GYRO: 0x07}
SAMPLES_PER_PACKED = 3

RATE_BY_ODR = {0x6: 25, 0x7: 50, 0x8: 100, 0x9: 200}  # the BMI160's codes the simulation runs
ACC_RANGE_BY_CODE = {0x03: 2, 0x05: 4, 0x08: 8, 0x0C: 16}
GYR_RANGE_BY_CODE = {0: 2000, 1: 1000, 2: 500, 3: 250, 4: 125}
GYR_COUNTS_PER_DPS = {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}
DEFAULT_CONFIG = {ACC: bytes([0x28, 0x03]), GYRO: bytes([0x28, 0x00])}  # 100 Hz, ±2 g, ±2000 °/s


@dataclass(slots=True)
class SensorState:
    """One of the two sensors as the firmware holds it."""

    config: bytes  # odr code (with filter bits), range code
    single: bool = False  # the one-sample data signal is subscribed
    packed: bool = False  # the three-sample data signal is subscribed
    enabled: bool = False
    running: bool = False

    @property
    def active(self) -> bool:
        return self.running and self.enabled and (self.single or self.packed)


def encode_data(module: int, counts: npt.NDArray[np.int16], *, packed: bool) -> bytes:
    """``03 04``/``13 05`` and one sample, or ``03 1c``/``13 07`` and three."""
    register = PACKED[module] if packed else DATA[module]
    return bytes([module, register]) + np.asarray(counts, dtype="<i2").tobytes()


def bmi160_gyro_counts(counts: npt.NDArray[np.int16], range_dps: int) -> npt.NDArray[np.int16]:
    """Counts on a ±range/32768 scale to the BMI160's (16.4 LSB per °/s at ±2000, ...)."""
    scaled = counts.astype(np.float64) * GYR_COUNTS_PER_DPS[range_dps] * range_dps / 32768.0
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


class MetaMotionDevice(VendorDevice):
    product = ProductInfo("MbientLab Inc", "MetaMotion RL (simulated)", "sim-1.7.3")

    def _setup(self, seed: int) -> None:
        self.sensors = {module: SensorState(DEFAULT_CONFIG[module]) for module in (ACC, GYRO)}
        self.serial = f"{seed:06X}"
        self._stream_shape: tuple[int, int, int] | None = None  # rate, acc range, gyro range

    @property
    def rate_hz(self) -> int | None:
        return RATE_BY_ODR.get(self.sensors[ACC].config[0] & 0x0F)

    def _build_gatt(self) -> None:
        self.command_char = self._command_characteristic(COMMAND_UUID, self._on_command)
        data_char = self._data_characteristic(NOTIFY_UUID)
        self._add_services([Service(SERVICE_UUID, [self.command_char, data_char])], battery=True)
        self._advertise_as(SERVICE_UUID)

    # --- commands ------------------------------------------------------------------------------

    def _on_command(self, connection: Connection, value: bytes) -> None:
        value = bytes(value)
        if len(value) < 2 or value[0] not in self.sensors:
            log.info("ignoring command %s", value.hex(" "))
            return
        module, register, data = value[0], value[1], value[2:]
        sensor = self.sensors[module]
        if register == CONFIG | READ:
            self._answer(connection, bytes([module, register]) + sensor.config)
            return
        if register == CONFIG:
            if len(data) == 2 and self._valid_config(module, data):
                sensor.config = data
        elif register == DATA[module] and len(data) == 1:
            sensor.single = data[0] == 1
        elif register == PACKED[module] and len(data) == 1:
            sensor.packed = data[0] == 1
        elif register == INTERRUPT_ENABLE and len(data) == 2:
            sensor.enabled = (sensor.enabled or data[0] == 1) and data[1] != 1
        elif register == POWER and len(data) == 1:
            sensor.running = data[0] == 1
        else:
            log.info("ignoring command %s", value.hex(" "))
            return
        self._restream(connection)

    @staticmethod
    def _valid_config(module: int, data: bytes) -> bool:
        ranges = ACC_RANGE_BY_CODE if module == ACC else GYR_RANGE_BY_CODE
        return (data[0] & 0x0F) in RATE_BY_ODR and data[1] in ranges

    def _restream(self, connection: Connection) -> None:
        """Stream while a sensor is active, in the shape its configuration says."""
        acc, gyro = self.sensors[ACC], self.sensors[GYRO]
        shape = None
        if acc.active or gyro.active:
            rate = RATE_BY_ODR[acc.config[0] & 0x0F]
            shape = (rate, ACC_RANGE_BY_CODE[acc.config[1]], GYR_RANGE_BY_CODE[gyro.config[1]])
        if shape == self._stream_shape and (shape is None) == (self._stream_task is None):
            return
        self._stop_streaming_now()
        self._stream_shape = shape
        if shape is not None:
            packed = any(s.active and s.packed for s in (acc, gyro))
            per_packet = SAMPLES_PER_PACKED if packed else 1
            self._begin_stream(connection, shape[0], per_packet, (shape[1], shape[2]))

    # --- streaming -----------------------------------------------------------------------------

    def _on_link_down(self) -> None:
        super()._on_link_down()
        # The sensors stay configured; their data subscriptions end with the link.
        for sensor in self.sensors.values():
            sensor.single = sensor.packed = sensor.running = False
        self._stream_shape = None

    def _frames(
        self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]
    ) -> list[bytes]:
        assert self._stream_shape is not None
        gyr = bmi160_gyro_counts(gyr, self._stream_shape[2])
        frames: list[bytes] = []
        for module, counts in ((ACC, acc), (GYRO, gyr)):
            sensor = self.sensors[module]
            if not sensor.active:
                continue
            if sensor.packed and len(counts) == SAMPLES_PER_PACKED:
                frames.append(encode_data(module, counts, packed=True))
            else:
                frames.extend(encode_data(module, row[None, :], packed=False) for row in counts)
        return frames


def packetize(
    recording: SimulatedRecording, *, latency_s: float = 0.010
) -> Iterator[tuple[float, bytes]]:
    """The notifications a MetaMotion sends in packed mode for a whole recording, without a
    radio: (arrival in s after the first sample, payload), accelerometer then gyroscope.

    The recording must be simulated at a MetaMotion rate and ranges (the gyroscope's counts are
    rescaled to the BMI160's LSB per °/s).
    """
    if int(recording.rate_hz) not in RATE_BY_ODR.values():
        raise ValueError(f"simulate the recording at a MetaMotion rate {RATE_BY_ODR.values()}")
    gyr = bmi160_gyro_counts(recording.gyr_counts, recording.gyr_range_dps)
    n = len(recording.t) - len(recording.t) % SAMPLES_PER_PACKED
    for start in range(0, n, SAMPLES_PER_PACKED):
        stop = start + SAMPLES_PER_PACKED
        arrival = float(recording.t[stop - 1]) + latency_s
        yield arrival, encode_data(ACC, recording.acc_counts[start:stop], packed=True)
        yield arrival, encode_data(GYRO, gyr[start:stop], packed=True)


__all__ = [
    "COMMAND_UUID",
    "NOTIFY_UUID",
    "SERVICE_UUID",
    "MetaMotionDevice",
    "bmi160_gyro_counts",
    "encode_data",
    "packetize",
]
